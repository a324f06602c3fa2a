"""The personal library: favourites, ratings with reviews and the watchlist.

Every operation acts on the caller's own entries: another user's entry is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.views import MethodView

from app.api import Blueprint, current_user_id, login_required, problem
from app.blueprints.favorites.schemas import (
    DuplicateProblemSchema,
    FavoriteCheckSchema,
    FavoriteCreateSchema,
    FavoriteListArgs,
    FavoriteSchema,
    RatingCreateSchema,
    RatingListArgs,
    RatingPatchSchema,
    RatingReplaceSchema,
    RatingSchema,
    RatingWatchlistArgs,
    WatchlistEntryCreateSchema,
    WatchlistEntrySchema,
    WatchlistListArgs,
)
from app.blueprints.pagination import page_body, page_schema
from app.models import Favorite, Rating, WatchlistEntry
from app.services import library

blp = Blueprint(
    "favorites",
    __name__,
    description="The personal library: favourites, ratings with reviews (from 1 to 10 in "
    "steps of 0.5, reviews up to 5000 characters) and the watchlist. Every list is newest first, "
    "paginated, filterable by TMDb genre id and orderable by date added, title or rating.",
)


UPSTREAM_ERROR = "tmdb_id: TMDb answered with an error"
UPSTREAM_UNAVAILABLE = "tmdb_id: TMDb is not configured or unreachable"


def movie_reference_problems(*, conflict: str) -> Callable[[Any], Any]:
    """The errors of adding a movie named by local id or TMDb id: no such movie, already
    there (`conflict`; the 409 names the stored entry), and TMDb failing."""

    def decorate(view: Any) -> Any:
        view = problem(503, UPSTREAM_UNAVAILABLE)(view)
        view = problem(502, UPSTREAM_ERROR)(view)
        view = problem(409, conflict, schema=DuplicateProblemSchema)(view)
        return problem(404, "The movie does not exist (locally, or on TMDb for tmdb_id)")(view)

    return decorate


# --- favourites ----------------------------------------------------------------------------


@blp.route("/favorites/")
class Favorites(MethodView):
    @blp.doc(operationId="listFavorites")
    @login_required
    @blp.arguments(FavoriteListArgs, location="query")
    @blp.response(200, page_schema(FavoriteSchema))
    @problem(404, "The page does not exist")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your favourites, newest first, each with its movie."""
        return page_body(library.list_favorites(current_user_id(), **args))

    @blp.doc(operationId="createFavorite")
    @login_required
    @blp.arguments(FavoriteCreateSchema, example={"movie": 12}, description="`movie` or `tmdb_id`")
    @blp.response(201, FavoriteSchema)
    @movie_reference_problems(conflict="Already a favourite; `existing_id` names the stored entry")
    def post(self, data: dict[str, Any]) -> Favorite:
        """Add a movie to your favourites, by local id (`movie`) or TMDb id (`tmdb_id`)."""
        return library.add_favorite(
            current_user_id(), movie_id=data.get("movie"), tmdb_id=data.get("tmdb_id")
        )


@blp.route("/favorites/<id:favorite_id>/")
class FavoriteById(MethodView):
    @blp.doc(operationId="deleteFavorite")
    @login_required
    @blp.response(204)
    @problem(404, "No such favourite of yours")
    def delete(self, favorite_id: int) -> None:
        """Remove one of your favourites."""
        library.remove_favorite(current_user_id(), favorite_id)


@blp.route("/favorites/check/<id:movie_id>/")
class FavoriteCheck(MethodView):
    @blp.doc(operationId="checkFavorite")
    @login_required
    @blp.response(200, FavoriteCheckSchema)
    @problem(404, "The movie does not exist")
    def get(self, movie_id: int) -> dict[str, bool]:
        """Whether a movie (local id) is one of your favourites."""
        return {"is_favorited": library.is_favorited(current_user_id(), movie_id)}


# --- ratings -------------------------------------------------------------------------------


@blp.route("/ratings/")
class Ratings(MethodView):
    @blp.doc(operationId="listRatings")
    @login_required
    @blp.arguments(RatingListArgs, location="query")
    @blp.response(200, page_schema(RatingSchema))
    @problem(404, "The page does not exist")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your ratings, newest first, each with its movie and review."""
        return page_body(library.list_ratings(current_user_id(), **args))

    @blp.doc(operationId="createRating")
    @login_required
    @blp.arguments(RatingWatchlistArgs, location="query")
    @blp.arguments(
        RatingCreateSchema,
        example={"movie": 12, "rating": 7.5, "review": "Still holds up."},
        description="`movie` or `tmdb_id`; `rating` from 1 to 10 in steps of 0.5",
    )
    @blp.response(201, RatingSchema)
    @movie_reference_problems(
        conflict="Already rated; update it with PUT or PATCH (`existing_id` names it)"
    )
    def post(self, query: dict[str, Any], data: dict[str, Any]) -> Rating:
        """Rate a movie from 1 to 10, with an optional review.

        One rating per movie. Rating marks your recommendation of the movie as rated; it
        stays on your watchlist unless you send `?remove_from_watchlist=true`.
        """
        return library.rate_movie(
            current_user_id(),
            rating=data["rating"],
            review=data["review"],
            movie_id=data.get("movie"),
            tmdb_id=data.get("tmdb_id"),
            remove_from_watchlist=query["remove_from_watchlist"],
        )


@blp.route("/ratings/<id:rating_id>/")
class RatingById(MethodView):
    @blp.doc(operationId="getRating")
    @login_required
    @blp.response(200, RatingSchema)
    @problem(404, "No such rating of yours")
    def get(self, rating_id: int) -> Rating:
        """One of your ratings."""
        return library.get_rating(current_user_id(), rating_id)

    @blp.doc(operationId="replaceRating")
    @login_required
    @blp.arguments(RatingWatchlistArgs, location="query")
    @blp.arguments(RatingReplaceSchema, example={"rating": 9, "review": "Better the second time."})
    @blp.response(200, RatingSchema)
    @problem(404, "No such rating of yours")
    def put(self, query: dict[str, Any], data: dict[str, Any], rating_id: int) -> Rating:
        """Replace the score and review of one of your ratings (a missing review empties it)."""
        return library.update_rating(
            current_user_id(),
            rating_id,
            rating=data["rating"],
            review=data["review"],
            remove_from_watchlist=query["remove_from_watchlist"],
        )

    @blp.doc(operationId="updateRating")
    @login_required
    @blp.arguments(RatingWatchlistArgs, location="query")
    @blp.arguments(RatingPatchSchema, example={"rating": 8.5})
    @blp.response(200, RatingSchema)
    @problem(404, "No such rating of yours")
    def patch(self, query: dict[str, Any], data: dict[str, Any], rating_id: int) -> Rating:
        """Change the score, the review or both of one of your ratings."""
        return library.update_rating(
            current_user_id(),
            rating_id,
            rating=data.get("rating"),
            review=data.get("review"),
            remove_from_watchlist=query["remove_from_watchlist"],
        )

    @blp.doc(operationId="deleteRating")
    @login_required
    @blp.response(204)
    @problem(404, "No such rating of yours")
    def delete(self, rating_id: int) -> None:
        """Delete one of your ratings."""
        library.delete_rating(current_user_id(), rating_id)


@blp.route("/ratings/movie/<id:movie_id>/")
class RatingByMovie(MethodView):
    @blp.doc(operationId="getMovieRating")
    @login_required
    @blp.response(200, RatingSchema)
    @problem(404, "The movie does not exist, or you have not rated it")
    def get(self, movie_id: int) -> Rating:
        """Your rating of a movie (local id)."""
        return library.get_rating_for_movie(current_user_id(), movie_id)


# --- watchlist -----------------------------------------------------------------------------


@blp.route("/watchlist/")
class Watchlist(MethodView):
    @blp.doc(operationId="listWatchlist")
    @login_required
    @blp.arguments(WatchlistListArgs, location="query")
    @blp.response(200, page_schema(WatchlistEntrySchema))
    @problem(404, "The page does not exist")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The movies you want to see, newest first."""
        return page_body(library.list_watchlist(current_user_id(), **args))

    @blp.doc(operationId="createWatchlistEntry")
    @login_required
    @blp.arguments(
        WatchlistEntryCreateSchema, example={"tmdb_id": 603}, description="`movie` or `tmdb_id`"
    )
    @blp.response(201, WatchlistEntrySchema)
    @movie_reference_problems(
        conflict="Already on your watchlist; `existing_id` names the stored entry"
    )
    def post(self, data: dict[str, Any]) -> WatchlistEntry:
        """Add a movie to your watchlist, by local id (`movie`) or TMDb id (`tmdb_id`)."""
        return library.add_to_watchlist(
            current_user_id(), movie_id=data.get("movie"), tmdb_id=data.get("tmdb_id")
        )


@blp.route("/watchlist/<id:entry_id>/")
class WatchlistEntryById(MethodView):
    @blp.doc(operationId="deleteWatchlistEntry")
    @login_required
    @blp.response(204)
    @problem(404, "No such watchlist entry of yours")
    def delete(self, entry_id: int) -> None:
        """Take a movie off your watchlist."""
        library.remove_from_watchlist(current_user_id(), entry_id)
