"""unit_of_work: the block's writes are committed together, or rolled back together."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import Genre
from app.services.unit_of_work import unit_of_work


def genre_names() -> list[str]:
    return list(db.session.scalars(select(Genre.name).order_by(Genre.name)))


def test_a_block_that_ends_commits_its_writes(app: Flask) -> None:
    with app.app_context():
        with unit_of_work():
            db.session.add(Genre(tmdb_id=28, name="Action"))
        db.session.rollback()  # nothing left to undo: it was committed
        assert genre_names() == ["Action"]


def test_a_block_that_raises_saves_nothing_and_the_error_goes_on(app: Flask) -> None:
    with app.app_context():
        with pytest.raises(LookupError), unit_of_work():
            db.session.add(Genre(tmdb_id=28, name="Action"))
            db.session.flush()
            raise LookupError("half-way")
        assert genre_names() == []
        with unit_of_work():  # the session is usable again
            db.session.add(Genre(tmdb_id=12, name="Adventure"))
        assert genre_names() == ["Adventure"]
