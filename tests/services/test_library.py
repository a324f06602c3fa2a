"""The library service, called directly (as the CLI or a background job would)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import Favorite, Genre, Movie, Rating, User, WatchlistEntry
from app.services import library
from tests.factories import make_movie, make_user


def soft_delete_user(app: Flask, user: User) -> None:
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None
        stored.soft_delete()
        db.session.commit()


def test_a_soft_deleted_users_entries_are_never_listed(app: Flask) -> None:
    gone, staying = make_user(app), make_user(app)
    movie = make_movie(app)
    with app.app_context():
        for user in (gone, staying):
            library.add_favorite(user.id, movie_id=movie.id)
            library.rate_movie(user.id, movie_id=movie.id, rating=7)
            library.add_to_watchlist(user.id, movie_id=movie.id)
    soft_delete_user(app, gone)

    with app.app_context():
        for list_entries in (library.list_favorites, library.list_ratings, library.list_watchlist):
            assert list_entries(gone.id).count == 0
            assert list_entries(staying.id).count == 1
        with pytest.raises(NotFound):
            library.get_rating_for_movie(gone.id, movie.id)


def test_entries_of_a_removed_movie_are_hidden_and_return_with_it(app: Flask) -> None:
    user = make_user(app)
    movie = make_movie(app)
    with app.app_context():
        rating = library.rate_movie(user.id, movie_id=movie.id, rating=7)
        stored = db.session.get(Movie, movie.id)
        assert stored is not None
        stored.soft_delete()
        db.session.commit()
        assert library.list_ratings(user.id).count == 0
        with pytest.raises(NotFound):
            library.get_rating(user.id, rating.id)

        stored.deleted_at = None
        db.session.commit()
        assert library.get_rating(user.id, rating.id).rating == 7


@pytest.mark.parametrize(
    "rating", [0, 0.5, 11, 10.5, 7.25, Decimal("7.25"), 7.1, float("nan"), True, "8"]
)
def test_rate_movie_refuses_anything_off_the_half_step_scale(app: Flask, rating: Any) -> None:
    user = make_user(app)
    movie = make_movie(app)
    with app.app_context():
        with pytest.raises(ValidationFailed) as raised:
            library.rate_movie(user.id, movie_id=movie.id, rating=rating)
        assert str(raised.value) == "Rating must be between 1 and 10 in steps of 0.5."
        assert raised.value.errors == {"rating": [str(raised.value)]}
        assert db.session.scalar(select(func.count()).select_from(Rating)) == 0


@pytest.mark.parametrize(
    ("given", "stored"), [(7.5, "7.5"), (Decimal("9.50"), "9.5"), (8, "8.0"), (1, "1.0")]
)
def test_rate_movie_stores_half_steps_as_exact_decimals(
    app: Flask, given: Any, stored: str
) -> None:
    user = make_user(app)
    movie = make_movie(app)
    with app.app_context():
        rating = library.rate_movie(user.id, movie_id=movie.id, rating=given)
        db.session.expire_all()
        value = db.session.get(Rating, rating.id).rating  # type: ignore[union-attr]
    assert isinstance(value, Decimal) and str(value) == stored


def test_update_rating_refuses_a_review_longer_than_5000_characters(app: Flask) -> None:
    user = make_user(app)
    movie = make_movie(app)
    with app.app_context():
        rating = library.rate_movie(user.id, movie_id=movie.id, rating=7, review="ok")
        with pytest.raises(ValidationFailed):
            library.update_rating(user.id, rating.id, review="x" * 5001)
        assert library.get_rating(user.id, rating.id).review == "ok"


@pytest.mark.parametrize("value", [0, 11, Decimal("7.25")])
def test_the_database_itself_refuses_out_of_range_ratings(app: Flask, value: int) -> None:
    user = make_user(app)
    movie = make_movie(app)
    with app.app_context(), pytest.raises(IntegrityError):
        db.session.add(Rating(user_id=user.id, movie_id=movie.id, rating=value))
        db.session.flush()


@pytest.mark.parametrize("model", [Favorite, Rating, WatchlistEntry])
def test_the_database_itself_refuses_a_second_entry_for_the_same_movie(
    app: Flask, model: type[Any]
) -> None:
    user = make_user(app)
    movie = make_movie(app)
    extra = {"rating": 5} if model is Rating else {}
    with app.app_context():
        db.session.add(model(user_id=user.id, movie_id=movie.id, **extra))
        db.session.flush()
        with pytest.raises(IntegrityError):
            db.session.add(model(user_id=user.id, movie_id=movie.id, **extra))
            db.session.flush()


def test_a_conflict_rolls_back_only_the_insert_so_the_transaction_goes_on(app: Flask) -> None:
    user = make_user(app)
    movie, other = make_movie(app), make_movie(app)
    with app.app_context():
        first = library.add_favorite(user.id, movie_id=movie.id)
        db.session.add(Genre(tmdb_id=777_001, name="Pending"))
        with pytest.raises(Conflict) as raised:
            library.add_favorite(user.id, movie_id=movie.id)
        assert raised.value.extra == {"existing_id": first.id}
        library.add_favorite(user.id, movie_id=other.id)
        assert db.session.scalar(select(Genre.id).where(Genre.tmdb_id == 777_001)) is not None
        assert library.list_favorites(user.id).count == 2


@pytest.mark.parametrize(("movie_id", "tmdb_id"), [(None, None), (1, 603)], ids=["neither", "both"])
def test_a_movie_is_named_by_exactly_one_id(
    app: Flask, movie_id: int | None, tmdb_id: int | None
) -> None:
    user = make_user(app)
    with app.app_context(), pytest.raises(ValidationFailed):
        library.add_to_watchlist(user.id, movie_id=movie_id, tmdb_id=tmdb_id)


def test_an_unknown_ordering_is_a_validation_error(app: Flask) -> None:
    user = make_user(app)
    with app.app_context(), pytest.raises(ValidationFailed) as raised:
        library.list_watchlist(user.id, ordering="popularity")
    assert list(raised.value.errors or {}) == ["ordering"]


def test_is_favorited_names_an_unknown_movie(app: Flask) -> None:
    user = make_user(app)
    with app.app_context(), pytest.raises(NotFound, match="Movie 424242 does not exist"):
        library.is_favorited(user.id, 424242)
