"""Output schemas shared by several blueprints (a movie embedded in a favourite, a rating,
a recommendation...), and the input fields they share."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import marshmallow as ma

from app.models.library import RATING_MAX, RATING_MIN, RATING_RULE, RATING_STEP, rating_on_scale

# An instant as every timestamp field shows it in the OpenAPI document.
TIMESTAMP_EXAMPLE = "2024-05-04T18:30:00+00:00"
RATING_DESCRIPTION = (
    f"From {RATING_MIN} to {RATING_MAX} in steps of {RATING_STEP} (TMDb's scale); a JSON "
    "number, always answered with one decimal (7.5, 8.0). 7 or more counts as liked."
)


class UTCAwareDateTime(ma.fields.AwareDateTime):
    """An ISO 8601 instant (UTC when it has no offset), loaded as UTC; one that cannot be
    expressed in UTC (`0001-01-01T00:00:00+14:00`, `9999-12-31T23:00:00-05:00`) is a
    validation error naming the field, never an overflow later."""

    default_error_messages = {
        "out_of_range": "Must be an instant between years 1 and 9999 in UTC.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        loaded = super()._deserialize(value, attr, data, **kwargs)
        try:
            return loaded.astimezone(UTC)
        except OverflowError:
            raise self.make_error("out_of_range") from None


class HalfStepRating(ma.fields.Field[Decimal]):
    """A rating: a JSON number in (7.5 or 8; not "8", not true), the exact Decimal to the
    service, a JSON number out (7.5, 8.0: a Decimal would be sent as a string)."""

    default_error_messages = {"invalid": RATING_RULE}

    def __init__(self, **kwargs: Any) -> None:
        documented = {
            "type": "number",
            "minimum": RATING_MIN,
            "maximum": RATING_MAX,
            "multipleOf": float(RATING_STEP),
            "description": RATING_DESCRIPTION,
            "example": 7.5,
        }
        super().__init__(metadata={**documented, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        exact = rating_on_scale(value)
        if exact is None:
            raise self.make_error("invalid")
        return exact

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else float(value)


class GenreSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True, metadata={"example": 3})
    tmdb_id = ma.fields.Integer(dump_only=True, metadata={"example": 878})
    name = ma.fields.String(dump_only=True, metadata={"example": "Science Fiction"})


class MovieIdentitySchema(ma.Schema):
    """What names a movie: its local id, its TMDb id and its title."""

    id = ma.fields.Integer(dump_only=True, metadata={"example": 12})
    tmdb_id = ma.fields.Integer(dump_only=True, metadata={"example": 603})
    title = ma.fields.String(dump_only=True, metadata={"example": "The Matrix"})


class MovieSummarySchema(MovieIdentitySchema):
    """The short form of a movie, embedded in other resources."""

    poster_path = ma.fields.String(
        dump_only=True, allow_none=True, metadata={"example": "/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg"}
    )
    release_date = ma.fields.Date(
        dump_only=True, allow_none=True, metadata={"example": "1999-03-30"}
    )
    vote_average = ma.fields.Float(dump_only=True, metadata={"example": 7.9})
    genres = ma.fields.List(ma.fields.Nested(GenreSchema), dump_only=True)
