"""Output schemas shared by several blueprints (a movie embedded in a favourite, a rating,
a recommendation...)."""

from __future__ import annotations

import marshmallow as ma


class GenreSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True, metadata={"example": 3})
    tmdb_id = ma.fields.Integer(dump_only=True, metadata={"example": 878})
    name = ma.fields.String(dump_only=True, metadata={"example": "Science Fiction"})


class MovieSummarySchema(ma.Schema):
    """The short form of a movie, embedded in other resources."""

    id = ma.fields.Integer(dump_only=True, metadata={"example": 12})
    tmdb_id = ma.fields.Integer(dump_only=True, metadata={"example": 603})
    title = ma.fields.String(dump_only=True, metadata={"example": "The Matrix"})
    poster_path = ma.fields.String(dump_only=True, allow_none=True)
    release_date = ma.fields.Date(dump_only=True, allow_none=True)
    vote_average = ma.fields.Float(dump_only=True, metadata={"example": 7.9})
    genres = ma.fields.List(ma.fields.Nested(GenreSchema), dump_only=True)
