"""Schemas of the movies blueprint: catalogue filters, TMDb browsing, genres, history."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app
from marshmallow import validate
from marshmallow.utils import get_value

from app.blueprints.compiled_dump import CompiledDumpSchema
from app.blueprints.pagination import PageArgs
from app.blueprints.schemas import (
    TIMESTAMP_EXAMPLE,
    GenreSchema,
    MovieSummarySchema,
    UTCAwareDateTime,
)
from app.services.catalogue import ORDERINGS
from app.services.tmdb import MAX_TMDB_PAGE, TRENDING_WINDOWS

ORDERING_CHOICES = [f"{prefix}{name}" for name in ORDERINGS for prefix in ("", "-")]
MAX_GENRES_IN_FILTER = 20
SEARCH_MAX_LENGTH = 200


class CommaSeparatedIntegers(ma.fields.Field):
    """`28,12` -> [28, 12]; anything that is not a list of integers is invalid."""

    default_error_messages = {
        "invalid": "Must be a TMDb genre id or several separated by commas, like 28,12.",
        "too_many": f"At most {MAX_GENRES_IN_FILTER} genres.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[int]:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        parts = [part.strip() for part in value.split(",")]
        if not all(part.isascii() and part.isdigit() and len(part) <= 9 for part in parts):
            raise self.make_error("invalid")
        if len(parts) > MAX_GENRES_IN_FILTER:
            raise self.make_error("too_many")
        return [int(part) for part in parts]


def image_url(path: str | None) -> str | None:
    if not path:
        return None
    return current_app.config["TMDB_IMAGE_BASE_URL"].rstrip("/") + path


def image_url_of(field: str, example: str) -> ma.fields.Function:
    """The full URL of a movie's image path `field` (a Movie or a movie's plain data)."""
    return ma.fields.Function(
        lambda movie: image_url(get_value(movie, field)),
        dump_only=True,
        allow_none=True,
        metadata={"example": example},
    )


# --- Inputs ----------------------------------------------------------------------------


def with_text_stripped(data: Any, field: str) -> Any:
    """`data` with the white space around its text `field` stripped (a query string's
    MultiDict is read-only: it is copied into a dict first)."""
    if hasattr(data, "get") and isinstance(data.get(field), str):
        data = {key: data[key] for key in data}
        data[field] = data[field].strip()
    return data


class MovieListArgs(PageArgs):
    genre = CommaSeparatedIntegers(
        metadata={
            "description": "TMDb genre id(s), comma-separated: movies in any of them",
            "type": "string",  # in the query; a list once loaded
            "example": "28,12",
        },
    )
    year_min = ma.fields.Integer(validate=validate.Range(min=1800, max=3000))
    year_max = ma.fields.Integer(validate=validate.Range(min=1800, max=3000))
    min_vote_average = ma.fields.Float(validate=validate.Range(min=0, max=10))
    min_vote_count = ma.fields.Integer(validate=validate.Range(min=0, max=2**31 - 1))
    language = ma.fields.String(
        validate=validate.Regexp(r"^[A-Za-z]{2,3}$", error="Must be an ISO 639-1 code like en."),
        metadata={"description": "Original language (ISO 639-1), e.g. en"},
    )
    search = ma.fields.String(
        validate=validate.Length(min=1, max=SEARCH_MAX_LENGTH),
        metadata={"description": "Case-insensitive text in the title or original title"},
    )
    ordering = ma.fields.String(
        load_default="-popularity",
        validate=validate.OneOf(ORDERING_CHOICES),
        metadata={"description": "A field, '-' in front for descending"},
    )

    @ma.validates_schema
    def years_in_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("year_min") and data.get("year_max") and data["year_min"] > data["year_max"]:
            raise ma.ValidationError("Must not be greater than year_max.", "year_min")

    @ma.pre_load
    def strip_search(self, data: Any, **kwargs: Any) -> Any:
        return with_text_stripped(data, "search")


class TMDbPageArgs(ma.Schema):
    page = ma.fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=MAX_TMDB_PAGE),
        metadata={"description": f"TMDb page (20 movies each, at most {MAX_TMDB_PAGE})"},
    )


class TrendingArgs(TMDbPageArgs):
    time_window = ma.fields.String(load_default="day", validate=validate.OneOf(TRENDING_WINDOWS))


class SearchArgs(TMDbPageArgs):
    q = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=SEARCH_MAX_LENGTH),
        metadata={"description": "Text to search TMDb for"},
    )

    @ma.pre_load
    def strip_query(self, data: Any, **kwargs: Any) -> Any:
        return with_text_stripped(data, "q")


class HistoryCreateSchema(ma.Schema):
    movie = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "Local movie id", "example": 12},
    )
    watched_at = UTCAwareDateTime(
        metadata={"description": "When it was watched (ISO 8601); now by default"},
    )


# --- Outputs ---------------------------------------------------------------------------


class MovieSchema(CompiledDumpSchema):
    """A movie with every stored field, its genres and its image URLs (the detail: compiled,
    as the pages are)."""

    id = ma.fields.Integer(dump_only=True, metadata={"example": 12})
    tmdb_id = ma.fields.Integer(dump_only=True, metadata={"example": 603})
    title = ma.fields.String(dump_only=True, metadata={"example": "The Matrix"})
    original_title = ma.fields.String(dump_only=True, metadata={"example": "The Matrix"})
    overview = ma.fields.String(dump_only=True, metadata={"example": "A hacker learns..."})
    poster_path = ma.fields.String(
        dump_only=True, allow_none=True, metadata={"example": "/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg"}
    )
    backdrop_path = ma.fields.String(
        dump_only=True, allow_none=True, metadata={"example": "/fNG7i7RqMErkcqhohV2a6cV1Ehy.jpg"}
    )
    poster_url = image_url_of(
        "poster_path", "https://image.tmdb.org/t/p/w500/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg"
    )
    backdrop_url = image_url_of(
        "backdrop_path", "https://image.tmdb.org/t/p/w500/fNG7i7RqMErkcqhohV2a6cV1Ehy.jpg"
    )
    release_date = ma.fields.Date(
        dump_only=True, allow_none=True, metadata={"example": "1999-03-30"}
    )
    runtime = ma.fields.Integer(dump_only=True, allow_none=True, metadata={"example": 136})
    vote_average = ma.fields.Float(dump_only=True, metadata={"example": 8.2})
    vote_count = ma.fields.Integer(dump_only=True, metadata={"example": 26000})
    popularity = ma.fields.Float(dump_only=True, metadata={"example": 83.5})
    original_language = ma.fields.String(dump_only=True, metadata={"example": "en"})
    adult = ma.fields.Boolean(dump_only=True, metadata={"example": False})
    status = ma.fields.String(dump_only=True, metadata={"example": "Released"})
    budget = ma.fields.Integer(dump_only=True, allow_none=True, metadata={"example": 63000000})
    revenue = ma.fields.Integer(dump_only=True, allow_none=True, metadata={"example": 463517383})
    homepage = ma.fields.String(
        dump_only=True, metadata={"example": "https://www.warnerbros.com/movies/matrix"}
    )
    details_fetched_at = ma.fields.DateTime(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "When the full TMDb details were fetched; null: list data only",
            "example": TIMESTAMP_EXAMPLE,
        },
    )
    created_at = ma.fields.DateTime(dump_only=True, metadata={"example": TIMESTAMP_EXAMPLE})
    updated_at = ma.fields.DateTime(dump_only=True, metadata={"example": TIMESTAMP_EXAMPLE})
    genres = ma.fields.List(ma.fields.Nested(GenreSchema), dump_only=True)


class MovieListItemSchema(MovieSummarySchema):
    """A movie as a list screen shows it: the summary (id, TMDb id, title, poster, release
    date, vote average, genres), the poster's full URL, and the other fields a list is
    ordered by (`vote_count`, `popularity`) or filtered on (`original_language`). Everything
    else (overview, backdrop, runtime, budget, revenue, homepage, timestamps...) is in the
    movie's detail, `getMovie`."""

    poster_url = image_url_of(
        "poster_path", "https://image.tmdb.org/t/p/w500/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg"
    )
    vote_count = ma.fields.Integer(dump_only=True, metadata={"example": 26000})
    popularity = ma.fields.Float(dump_only=True, metadata={"example": 83.5})
    original_language = ma.fields.String(dump_only=True, metadata={"example": "en"})


class GenreWithCountSchema(GenreSchema):
    movie_count = ma.fields.Integer(dump_only=True, metadata={"example": 42})


class HistoryEntrySchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    movie = ma.fields.Nested(MovieSummarySchema, dump_only=True)
    watched_at = ma.fields.DateTime(dump_only=True)
