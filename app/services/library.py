"""A user's personal library: favourites, ratings with reviews and the watchlist.

Each entry is unique per (user, movie). Adding one inserts and lets the database's unique
constraint decide, so two concurrent identical requests give one entry and one Conflict,
never two rows. Every change marks the user's recommendations stale in the same
transaction, and each public function that writes commits its own unit of work.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypedDict, TypeVar, Unpack

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, selectinload

from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import Favorite, Genre, Movie, Rating, User, WatchlistEntry
from app.models.library import RATING_RULE, REVIEW_MAX_LENGTH, rating_on_scale
from app.services import catalogue
from app.services.pagination import Page, paginate
from app.services.recommendation.history import mark_favorited, mark_rated
from app.services.recommendation.staleness import mark_recommendations_stale
from app.services.recommendation_impressions import record_outcome

Entry = TypeVar("Entry", Favorite, Rating, WatchlistEntry)

DEFAULT_ORDERING = "-created_at"
# "rating" is the caller's own rating for ratings, the movie's TMDb vote average otherwise.
ORDERINGS = ("created_at", "-created_at", "title", "-title", "rating", "-rating")


# --- shared machinery -------------------------------------------------------------------


def resolve_movie(movie_id: int | None = None, tmdb_id: int | None = None) -> Movie:
    """The movie named by exactly one of a local id or a TMDb id (fetched if not local)."""
    if (movie_id is None) == (tmdb_id is None):
        raise ValidationFailed(
            "Give exactly one of 'movie' (a local movie id) or 'tmdb_id'.",
            errors={"movie": ["Give exactly one of 'movie' or 'tmdb_id'."]},
        )
    if movie_id is not None:
        return catalogue.get_movie(movie_id)
    assert tmdb_id is not None
    return catalogue.ensure_movie_by_tmdb_id(tmdb_id)


def _entries(model: type[Entry], user_id: int) -> Select[tuple[Entry]]:
    """The user's live entries of `model`, each with its movie and genres loaded.

    A soft-deleted user's entries and entries of movies removed from the catalogue are
    never returned: the movie is joined anyway (for ordering and filters), so it is
    loaded from the same row and its genres with one more query per page.
    """
    return (
        select(model)
        .join(model.movie)
        .join(model.user)
        .where(
            model.user_id == user_id,
            User.deleted_at.is_(None),
            Movie.deleted_at.is_(None),
        )
        .options(contains_eager(model.movie).selectinload(Movie.genres))
    )


def _order_by(model: type[Entry], ordering: str) -> list[Any]:
    """ORDER BY clauses for `ordering`; the entry id breaks ties, so pages never overlap."""
    if ordering not in ORDERINGS:
        raise ValidationFailed(
            f"Unknown ordering {ordering!r}.",
            errors={"ordering": [f"Must be one of: {', '.join(ORDERINGS)}."]},
        )
    descending = ordering.startswith("-")
    key = ordering.lstrip("-")
    column: Any
    if key == "created_at":
        column = model.created_at
    elif key == "title":
        column = func.lower(Movie.title)
    elif model is Rating:
        column = Rating.rating
    else:
        column = Movie.vote_average
    if descending:
        return [column.desc(), model.id.desc()]
    return [column.asc(), model.id.asc()]


class ListOptions(TypedDict, total=False):
    """How to list a library list: a TMDb genre id to keep, the ordering and the page."""

    genre: int | None
    ordering: str
    page: int
    page_size: int


def _list_entries(
    model: type[Entry],
    user_id: int,
    *,
    genre: int | None = None,
    ordering: str = DEFAULT_ORDERING,
    page: int = 1,
    page_size: int = 20,
) -> Page[Entry]:
    statement = _entries(model, user_id)
    if genre is not None:
        statement = statement.where(Movie.genres.any(Genre.tmdb_id == genre))
    statement = statement.order_by(*_order_by(model, ordering))
    return paginate(statement, page, page_size)


def _get_entry(model: type[Entry], user_id: int, entry_id: int, label: str, code: str) -> Entry:
    """One of the user's entries; another user's entry does not exist, as far as they know."""
    entry = db.session.scalar(_entries(model, user_id).where(model.id == entry_id))
    if entry is None:
        raise NotFound(f"{label} {entry_id} does not exist.", code=code)
    return entry


def _insert_entry(entry: Entry, detail: str, code: str) -> Entry:
    """Insert `entry`; Conflict (with the stored entry's id) when the user already has one.

    The insert runs in a SAVEPOINT and the unique constraint decides: a check-then-insert
    would let two concurrent requests both pass the check.
    """
    model = type(entry)
    user_id, movie_id = entry.user_id, entry.movie_id
    try:
        with db.session.begin_nested():
            db.session.add(entry)
            db.session.flush()
    except IntegrityError:
        existing_id = db.session.scalar(
            select(model.id).where(model.user_id == user_id, model.movie_id == movie_id)
        )
        if existing_id is None:  # another constraint failed: not a duplicate
            raise
        raise Conflict(detail, code=code, extra={"existing_id": existing_id}) from None
    return entry


def _load_movie(entry: Entry) -> Entry:
    """Make the entry's movie and genres ready for serialisation after a commit."""
    return db.session.scalars(
        select(type(entry))
        .where(type(entry).id == entry.id)
        .options(selectinload(type(entry).movie).selectinload(Movie.genres))
    ).one()


# --- favourites ----------------------------------------------------------------------------


def list_favorites(user_id: int, **options: Unpack[ListOptions]) -> Page[Favorite]:
    """A page of the user's favourites, newest first unless `ordering` says otherwise."""
    return _list_entries(Favorite, user_id, **options)


def add_favorite(
    user_id: int, *, movie_id: int | None = None, tmdb_id: int | None = None
) -> Favorite:
    """Favourite a movie; Conflict when it already is one. Commits."""
    movie = resolve_movie(movie_id, tmdb_id)
    favorite = _insert_entry(
        Favorite(user_id=user_id, movie_id=movie.id),
        f"Movie {movie.id} is already in your favourites.",
        "already_favorited",
    )
    mark_favorited(user_id, movie.id)
    record_outcome(user_id, movie.id, "favorite")
    mark_recommendations_stale(user_id)
    db.session.commit()
    return _load_movie(favorite)


def remove_favorite(user_id: int, favorite_id: int) -> None:
    """Delete one of the user's favourites; NotFound for anyone else's. Commits."""
    favorite = _get_entry(Favorite, user_id, favorite_id, "Favourite", "favorite_not_found")
    db.session.delete(favorite)
    mark_recommendations_stale(user_id)
    db.session.commit()


def is_favorited(user_id: int, movie_id: int) -> bool:
    """Whether the user has favourited the movie; NotFound for an unknown movie."""
    catalogue.get_movie(movie_id)
    statement = select(Favorite.id).where(
        Favorite.user_id == user_id, Favorite.movie_id == movie_id
    )
    return db.session.scalar(statement) is not None


# --- ratings -------------------------------------------------------------------------------


def check_rating(rating: Decimal | float) -> Decimal:
    """`rating` as the exact Decimal stored; ValidationFailed unless it is from 1 to 10 in
    steps of 0.5."""
    exact = rating_on_scale(rating)
    if exact is None:
        raise ValidationFailed(RATING_RULE, errors={"rating": [RATING_RULE]})
    return exact


def check_review(review: str) -> None:
    """ValidationFailed unless `review` is text of at most REVIEW_MAX_LENGTH characters."""
    if not isinstance(review, str) or len(review) > REVIEW_MAX_LENGTH:
        raise ValidationFailed(
            f"A review is text of at most {REVIEW_MAX_LENGTH} characters.",
            errors={"review": [f"Longer than maximum length {REVIEW_MAX_LENGTH}."]},
        )


def list_ratings(user_id: int, **options: Unpack[ListOptions]) -> Page[Rating]:
    """A page of the user's ratings, newest first unless `ordering` says otherwise."""
    return _list_entries(Rating, user_id, **options)


def get_rating(user_id: int, rating_id: int) -> Rating:
    """One of the user's ratings; NotFound for anyone else's."""
    return _get_entry(Rating, user_id, rating_id, "Rating", "rating_not_found")


def get_rating_for_movie(user_id: int, movie_id: int) -> Rating:
    """The user's rating of a movie; NotFound for an unknown movie or when not rated."""
    catalogue.get_movie(movie_id)
    rating = db.session.scalar(_entries(Rating, user_id).where(Rating.movie_id == movie_id))
    if rating is None:
        raise NotFound(f"You have not rated movie {movie_id}.", code="rating_not_found")
    return rating


def _after_rating_change(user_id: int, movie_id: int, *, rated: bool, unwatch: bool) -> None:
    """Record a new rating on the movie's recommendation, mark tastes changed."""
    if rated:
        mark_rated(user_id, movie_id)
    if unwatch:
        db.session.execute(
            delete(WatchlistEntry).where(
                WatchlistEntry.user_id == user_id, WatchlistEntry.movie_id == movie_id
            )
        )
    mark_recommendations_stale(user_id)


def rate_movie(
    user_id: int,
    *,
    rating: Decimal | float,
    review: str = "",
    movie_id: int | None = None,
    tmdb_id: int | None = None,
    remove_from_watchlist: bool = False,
) -> Rating:
    """Rate a movie (once: Conflict when already rated), optionally leaving the watchlist.

    Records the rating on the user's recommendation of the movie, if any. Commits.
    """
    exact = check_rating(rating)
    check_review(review)
    movie = resolve_movie(movie_id, tmdb_id)
    entry = _insert_entry(
        Rating(user_id=user_id, movie_id=movie.id, rating=exact, review=review),
        f"You have already rated movie {movie.id}: update that rating instead.",
        "already_rated",
    )
    record_outcome(user_id, movie.id, "rating", rating=float(exact))
    _after_rating_change(user_id, movie.id, rated=True, unwatch=remove_from_watchlist)
    db.session.commit()
    return _load_movie(entry)


def update_rating(
    user_id: int,
    rating_id: int,
    *,
    rating: Decimal | float | None = None,
    review: str | None = None,
    remove_from_watchlist: bool = False,
) -> Rating:
    """Change the score and/or review of one of the user's ratings (None: unchanged). Commits."""
    exact = None if rating is None else check_rating(rating)
    if review is not None:
        check_review(review)
    entry = get_rating(user_id, rating_id)
    if exact is not None:
        entry.rating = exact
        record_outcome(user_id, entry.movie_id, "rating", rating=float(exact))
    if review is not None:
        entry.review = review
    _after_rating_change(user_id, entry.movie_id, rated=True, unwatch=remove_from_watchlist)
    db.session.commit()
    return _load_movie(entry)


def delete_rating(user_id: int, rating_id: int) -> None:
    """Delete one of the user's ratings (its recommendation stays rated: it was). Commits."""
    entry = get_rating(user_id, rating_id)
    movie_id = entry.movie_id
    db.session.delete(entry)
    _after_rating_change(user_id, movie_id, rated=False, unwatch=False)
    db.session.commit()


# --- watchlist -----------------------------------------------------------------------------


def list_watchlist(user_id: int, **options: Unpack[ListOptions]) -> Page[WatchlistEntry]:
    """A page of the user's watchlist, newest first unless `ordering` says otherwise."""
    return _list_entries(WatchlistEntry, user_id, **options)


def add_to_watchlist(
    user_id: int, *, movie_id: int | None = None, tmdb_id: int | None = None
) -> WatchlistEntry:
    """Put a movie on the user's watchlist; Conflict when it is already there. Commits."""
    movie = resolve_movie(movie_id, tmdb_id)
    entry = _insert_entry(
        WatchlistEntry(user_id=user_id, movie_id=movie.id),
        f"Movie {movie.id} is already on your watchlist.",
        "already_in_watchlist",
    )
    record_outcome(user_id, movie.id, "watchlist")
    mark_recommendations_stale(user_id)
    db.session.commit()
    return _load_movie(entry)


def remove_from_watchlist(user_id: int, entry_id: int) -> None:
    """Delete one of the user's watchlist entries; NotFound for anyone else's. Commits."""
    entry = _get_entry(
        WatchlistEntry, user_id, entry_id, "Watchlist entry", "watchlist_entry_not_found"
    )
    db.session.delete(entry)
    mark_recommendations_stale(user_id)
    db.session.commit()
