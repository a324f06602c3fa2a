"""History imports: upload a Letterboxd, IMDb or Trakt export into your library."""

from __future__ import annotations

import functools
from typing import Any

from flask import current_app, request, url_for
from flask.views import MethodView

from app.api import AlsoResponse, View, current_user_id
from app.blueprints.favorites.routes import blp
from app.blueprints.favorites.schemas import ImportCreateSchema, ImportSchema
from app.models import Import
from app.services.imports import importer
from app.tasks.imports import import_history
from app.tasks.runner import broker_configured, enqueue

# Room for the multipart envelope (boundaries, headers, the other fields) around the file.
MULTIPART_OVERHEAD = 64 * 1024


def import_size_limit(view: View) -> View:
    """This route's request limit is IMPORT_MAX_BYTES, not the API's MAX_CONTENT_LENGTH."""

    @functools.wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"] + MULTIPART_OVERHEAD
        return view(*args, **kwargs)

    return limited


IMPORT_ACCEPTED = AlsoResponse(
    ImportSchema,
    "Accepted: a background worker runs the import; follow its progress at the Location",
    headers={"Location": {"description": "The import", "schema": {"type": "string"}}},
)


@blp.route("/imports/")
class Imports(MethodView):
    @import_size_limit  # sets the request's size limit only: the token is still checked first
    @blp.operation(
        "createImport",
        201,
        ImportSchema,
        token="required",
        body=ImportCreateSchema,
        body_location="multipart",
        errors={
            400: "The file cannot be read: `detail` names the line and the problem",
            413: "The file is larger than IMPORT_MAX_BYTES",
        },
        also={202: IMPORT_ACCEPTED},
    )
    def post(self, data: dict[str, Any]) -> Import | tuple[Import, int, dict[str, str]]:
        """Import your history from Letterboxd, IMDb or Trakt.

        Ratings, reviews, viewings (rewatches included), the watchlist and likes are added
        to your library; movies are matched by TMDb id, IMDb id, then title and year, and
        added from TMDb when the catalogue lacks them. Importing the same file again changes
        nothing. Where background workers run (CELERY_BROKER_URL), the file is checked and
        stored, the answer is 202 and a worker imports it (GET the Location for its
        progress); otherwise the import runs at once and answers 201 with its report.
        """
        upload = data["file"]
        entry = importer.create_import(
            current_user_id(),
            data=upload.read(),
            filename=upload.filename or "",
            source=data.get("source"),
            on_conflict=data["on_conflict"],
        )
        if not broker_configured():
            return importer.run_import(entry.id)
        enqueue(import_history, entry.id, summary=f"import {entry.id}")
        location = url_for("favorites.ImportById", import_id=entry.id)
        return entry, 202, {"Location": location}


@blp.route("/imports/<id:import_id>/")
class ImportById(MethodView):
    @blp.operation(
        "getImport", 200, ImportSchema, token="required", errors={404: "No such import of yours"}
    )
    def get(self, import_id: int) -> Import:
        """One of your imports: its status, progress and report."""
        return importer.get_import(current_user_id(), import_id)
