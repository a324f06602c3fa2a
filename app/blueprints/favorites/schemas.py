"""Schemas of the personal library: favourites, ratings with reviews, the watchlist."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from app.api import MAX_ID, ProblemSchema
from app.blueprints.pagination import PageArgs
from app.blueprints.schemas import TIMESTAMP_EXAMPLE, HalfStepRating, MovieSummarySchema
from app.models.imports import CONFLICT_POLICIES, IMPORT_SOURCES
from app.models.library import REVIEW_MAX_LENGTH
from app.services.library import DEFAULT_ORDERING, ORDERINGS

LIBRARY_ORDERINGS = tuple(ORDERINGS)
REVIEW_DESCRIPTION = f"Free text, at most {REVIEW_MAX_LENGTH} characters."


def movie_id_field(description: str) -> ma.fields.Integer:
    return ma.fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": description, "example": 12},
    )


def review_field(**kwargs: Any) -> ma.fields.String:
    return ma.fields.String(
        validate=validate.Length(max=REVIEW_MAX_LENGTH),
        metadata={"description": REVIEW_DESCRIPTION, "example": "Still holds up."},
        **kwargs,
    )


def ordering_field(description: str, *, example: str) -> ma.fields.String:
    """A library list's `ordering`: one of the library orderings, newest first by default."""
    return ma.fields.String(
        load_default=DEFAULT_ORDERING,
        validate=validate.OneOf(LIBRARY_ORDERINGS),
        metadata={"description": description, "example": example},
    )


# --- query strings -------------------------------------------------------------------------


class LibraryListArgs(PageArgs):
    """Filters and ordering shared by the three lists."""

    genre = ma.fields.Integer(
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={
            "description": "Only movies of this genre (a TMDb genre id, e.g. 878).",
            "example": 878,
        },
    )


class FavoriteListArgs(LibraryListArgs):
    ordering = ordering_field(
        "created_at (date added), title, or rating (the movie's TMDb vote average); a "
        "leading '-' reverses. Newest first by default.",
        example="-created_at",
    )


class WatchlistListArgs(FavoriteListArgs):
    pass


class RatingListArgs(LibraryListArgs):
    ordering = ordering_field(
        "created_at (date rated), title, or rating (your own rating); a leading '-' "
        "reverses. Newest first by default.",
        example="-rating",
    )


class RatingWatchlistArgs(ma.Schema):
    remove_from_watchlist = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "true: also take the movie off your watchlist. "
            "By default rating a movie leaves the watchlist as it is.",
            "example": True,
        },
    )


# --- request bodies --------------------------------------------------------------------------


class MovieReferenceSchema(ma.Schema):
    """Exactly one of `movie` (a local id) or `tmdb_id` (fetched from TMDb if not local)."""

    movie = movie_id_field("A local movie id.")
    tmdb_id = movie_id_field("A TMDb movie id; the movie is fetched from TMDb if not local.")

    @ma.validates_schema
    def exactly_one_movie(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("movie" in data) == ("tmdb_id" in data):
            raise ma.ValidationError(
                "Give exactly one of 'movie' (a local movie id) or 'tmdb_id'.", "movie"
            )


class FavoriteCreateSchema(MovieReferenceSchema):
    pass


class WatchlistEntryCreateSchema(MovieReferenceSchema):
    pass


class RatingCreateSchema(MovieReferenceSchema):
    rating = HalfStepRating(required=True)
    review = review_field(load_default="")


class RatingReplaceSchema(ma.Schema):
    """PUT: the whole rating; a missing review becomes empty."""

    rating = HalfStepRating(required=True)
    review = review_field(load_default="")


class RatingPatchSchema(ma.Schema):
    """PATCH: the fields to change, at least one."""

    rating = HalfStepRating()
    review = review_field()

    @ma.validates_schema
    def something_to_change(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("Give 'rating', 'review' or both.", "_schema")


# --- responses -------------------------------------------------------------------------------


class FavoriteSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True, metadata={"example": 31})
    movie = ma.fields.Nested(MovieSummarySchema, dump_only=True)
    created_at = ma.fields.DateTime(
        dump_only=True, metadata={"description": "When added", "example": TIMESTAMP_EXAMPLE}
    )


class WatchlistEntrySchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True, metadata={"example": 5})
    movie = ma.fields.Nested(MovieSummarySchema, dump_only=True)
    created_at = ma.fields.DateTime(
        dump_only=True, metadata={"description": "When added", "example": TIMESTAMP_EXAMPLE}
    )


class RatingSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True, metadata={"example": 17})
    movie = ma.fields.Nested(MovieSummarySchema, dump_only=True)
    rating = HalfStepRating(dump_only=True)
    review = ma.fields.String(
        dump_only=True, metadata={"description": REVIEW_DESCRIPTION, "example": "Still holds up."}
    )
    created_at = ma.fields.DateTime(
        dump_only=True, metadata={"description": "When rated", "example": TIMESTAMP_EXAMPLE}
    )
    updated_at = ma.fields.DateTime(
        dump_only=True, metadata={"description": "Last change", "example": TIMESTAMP_EXAMPLE}
    )


class DuplicateProblemSchema(ProblemSchema):
    """A 409 for an entry the caller already has: `existing_id` names the stored one."""

    existing_id = ma.fields.Integer(
        metadata={"description": "The id of the entry already stored", "example": 31}
    )


class FavoriteCheckSchema(ma.Schema):
    is_favorited = ma.fields.Boolean(required=True, metadata={"example": True})


# --- history imports -----------------------------------------------------------------------


class ImportCreateSchema(ma.Schema):
    """The upload and its options, one multipart/form-data body."""

    file = Upload(
        required=True,
        metadata={
            "description": "A Letterboxd export (the ZIP, or one of its CSVs), an IMDb "
            "ratings or watchlist CSV, or a Trakt JSON export."
        },
    )
    source = ma.fields.String(
        validate=validate.OneOf(IMPORT_SOURCES),
        metadata={"description": "The export's origin; detected from the file when omitted."},
    )
    on_conflict = ma.fields.String(
        load_default="keep",
        validate=validate.OneOf(CONFLICT_POLICIES),
        metadata={
            "description": "keep (default) leaves a movie you already rated as it is; "
            "replace overwrites its rating and review with the file's."
        },
    )


class ImportProgressSchema(ma.Schema):
    done = ma.fields.Integer(metadata={"description": "Rows applied so far", "example": 120})
    total = ma.fields.Integer(metadata={"description": "Rows to apply", "example": 300})


class ImportCountsSchema(ma.Schema):
    rows_read = ma.fields.Integer(metadata={"description": "Data rows in the file"})
    matched = ma.fields.Integer(metadata={"description": "Rows whose movie was found"})
    unmatched = ma.fields.Integer(metadata={"description": "Rows whose movie was not found"})
    invalid = ma.fields.Integer(metadata={"description": "Rows with unusable values"})
    created = ma.fields.Integer(metadata={"description": "Library entries added"})
    updated = ma.fields.Integer(metadata={"description": "Ratings replaced (on_conflict)"})
    already_present = ma.fields.Integer(metadata={"description": "Already in your library"})
    movies_added = ma.fields.Integer(metadata={"description": "Movies added from TMDb"})


class ImportProblemSchema(ma.Schema):
    file = ma.fields.String(metadata={"example": "ratings.csv"})
    line = ma.fields.Integer(
        metadata={"description": "Line of a CSV, or item number in a JSON list", "example": 12}
    )
    title = ma.fields.String(metadata={"example": "Bicycle Thieves"})
    year = ma.fields.Integer(allow_none=True, metadata={"example": 1948})
    reason = ma.fields.String(metadata={"example": "the row has no rating"})


class ImportSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"example": 7})
    source = ma.fields.String(metadata={"example": "letterboxd"})
    on_conflict = ma.fields.String(metadata={"example": "keep"})
    filename = ma.fields.String(metadata={"example": "letterboxd-alice-2026-01-01.zip"})
    status = ma.fields.String(
        metadata={"description": "pending, running, completed or failed", "example": "completed"}
    )
    progress = ma.fields.Nested(ImportProgressSchema)
    counts = ma.fields.Nested(ImportCountsSchema)
    problems = ma.fields.List(
        ma.fields.Nested(ImportProblemSchema),
        metadata={"description": "Each unmatched or invalid row, with its line and reason"},
    )
    error = ma.fields.String(
        metadata={"description": "Why a failed import stopped (empty otherwise)"}
    )
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
