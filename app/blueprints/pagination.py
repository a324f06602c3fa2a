"""The one page shape of the API: ``{count, next, previous, results}``."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlencode

import marshmallow as ma
from flask import Response, after_this_request, current_app, request
from marshmallow import validate

from app.blueprints.compiled_dump import CompiledDumpSchema
from app.services.pagination import Page

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class PageArgs(ma.Schema):
    """`page` (from 1) and `page_size` (1 to 100; larger is refused with 400)."""

    page = ma.fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=1_000_000),
        metadata={"example": 1},
    )
    page_size = ma.fields.Integer(
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"example": DEFAULT_PAGE_SIZE},
    )


@cache
def page_schema(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """A page of `item_schema` items, named after it in the OpenAPI document."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return type(
        name,
        (CompiledDumpSchema,),
        {
            "count": ma.fields.Integer(required=True, metadata={"example": 42}),
            "next": ma.fields.String(
                allow_none=True,
                required=True,
                metadata={"example": "https://api.example.com/api/v1/...?page=3"},
            ),
            "previous": ma.fields.String(
                allow_none=True,
                required=True,
                metadata={"example": "https://api.example.com/api/v1/...?page=1"},
            ),
            "results": ma.fields.List(ma.fields.Nested(item_schema), required=True),
        },
    )


def page_url(page_number: int) -> str:
    """This request's absolute URL with `page` replaced, other parameters kept."""
    args = request.args.copy()
    args["page"] = str(page_number)
    query = urlencode(list(args.items(multi=True)))
    return f"{public_base_url()}{request.script_root}{request.path}?{query}"


def public_base_url() -> str:
    """scheme://host of the API: SERVER_NAME and PREFERRED_URL_SCHEME when configured (the
    client's Host header is never reflected then), the request's own otherwise."""
    server_name = current_app.config.get("SERVER_NAME")
    if server_name:
        return f"{current_app.config['PREFERRED_URL_SCHEME']}://{server_name}"
    return request.host_url.rstrip("/")


def page_links(page: int, last_page: int) -> dict[str, str]:
    """The URLs of the first, previous, next and last pages around `page` (by RFC 8288 name);
    no `prev` on the first page, no `next` on the last."""
    links = {"first": page_url(1)}
    if page > 1:
        links["prev"] = page_url(page - 1)
    if page < last_page:
        links["next"] = page_url(page + 1)
    links["last"] = page_url(last_page)
    return links


def link_header(links: dict[str, str]) -> str:
    """An RFC 8288 Link header value: `<url>; rel="name"`, comma-separated."""
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())


def paged_document(
    count: int, page: int, last_page: int, results: list[Any]
) -> tuple[dict[str, Any], str]:
    """The page shape, and the value of its Link header (the same links)."""
    links = page_links(page, max(1, last_page))
    body = {
        "count": count,
        "next": links.get("next"),
        "previous": links.get("prev"),
        "results": results,
    }
    return body, link_header(links)


def paged_body(count: int, page: int, last_page: int, results: list[Any]) -> dict[str, Any]:
    """The page shape, and the same links in this response's Link header."""
    body, header = paged_document(count, page, last_page, results)

    @after_this_request
    def add_link_header(response: Response) -> Response:
        if response.status_code == 200:
            response.headers["Link"] = header
        return response

    return body


def page_body(page: Page[Any], results: list[Any] | None = None) -> dict[str, Any]:
    """The response body for `page` (its items, or `results` already prepared from them)."""
    return paged_body(
        page.count, page.page, page.page_count, page.items if results is None else results
    )
