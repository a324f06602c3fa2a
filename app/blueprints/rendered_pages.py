"""Kept pages rendered once per process: the JSON body and the Link header.

A page served from the catalogue cache (`catalogue_cache.list_movies`; similar movies,
`recommender.similar_movies_page`, are kept by the same rules) was still dumped through its
schema, encoded as JSON and given its four page links on every request: about a third of a
cached list request's CPU (profiled in-process, the WSGI app called as gunicorn calls it).
The rendering depends only on the page, whose key names everything it was built from (the
catalogue's generation, the filters or the movie, the page, the adult-titles rule or the
model's version), and on the URL the links are built from. So each process keeps the
rendered bytes under both, with the page's own made-at time: a change retires them with the
page, and no rendering outlives its page (`CATALOGUE_PAGE_CACHE_SECONDS`). Bounded: the
least recently used go.
"""

from __future__ import annotations

from typing import Any, cast

import marshmallow as ma
from flask import Response, current_app, request

from app.blueprints.pagination import page_body, paged_document, public_base_url
from app.services.catalogue_cache import KeptPage, LocalPages

RenderedPage = tuple[float, bytes, str]  # made at (the page's, epoch), JSON body, Link header
rendered_pages: LocalPages[RenderedPage] = LocalPages(size=256)


def rendered_page(listing: KeptPage[Any], schema: ma.Schema) -> Response | dict[str, Any]:
    """The response for `listing` dumped by `schema`: rendered once per URL while the page
    is cached, the page shape (for flask-smorest to dump) when it is not cached."""
    page = listing.page
    if listing.key is None:
        return page_body(page)
    key = f"{listing.key}:{public_base_url()}{request.full_path}"
    entry = rendered_pages.get(key, current_app.config["CATALOGUE_PAGE_CACHE_SECONDS"])
    if entry is None:
        body, header = paged_document(page.count, page.page, page.page_count, page.items)
        rendered = cast(Response, current_app.json.response(schema.dump(body)))  # jsonify's bytes
        entry = (listing.made_at, rendered.get_data(), header)
        rendered_pages.put(key, entry)
    _made_at, data, header = entry
    response = current_app.response_class(data, mimetype="application/json")
    response.headers["Link"] = header
    return response
