"""The personal library: favourites, ratings with reviews and the watchlist.

Every operation acts on the caller's own entries: another user's entry is a 404.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api import Blueprint, Problem, current_user_id
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


PAGE_ERRORS = {404: "The page does not exist"}
NO_SUCH_RATING = {404: "No such rating of yours"}
UPSTREAM_ERROR = "tmdb_id: TMDb answered with an error"
UPSTREAM_UNAVAILABLE = "tmdb_id: TMDb is not configured or unreachable"


def movie_reference_problems(*, conflict: str) -> dict[int, str | Problem]:
    """The errors of adding a movie named by local id or TMDb id: no such movie, already
    there (`conflict`; the 409 names the stored entry), and TMDb failing."""
    return {
        404: "The movie does not exist (locally, or on TMDb for tmdb_id)",
        409: Problem(conflict, schema=DuplicateProblemSchema),
        502: UPSTREAM_ERROR,
        503: UPSTREAM_UNAVAILABLE,
    }


# --- favourites ----------------------------------------------------------------------------


@blp.route("/favorites/")
class Favorites(MethodView):
    @blp.operation(
        "listFavorites",
        200,
        page_schema(FavoriteSchema),
        token="required",
        query=FavoriteListArgs,
        errors=PAGE_ERRORS,
    )
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your favourites, newest first, each with its movie."""
        return page_body(library.list_favorites(current_user_id(), **args))

    @blp.operation(
        "createFavorite",
        201,
        FavoriteSchema,
        token="required",
        body=FavoriteCreateSchema,
        example={"movie": 12},
        body_description="`movie` or `tmdb_id`",
        errors=movie_reference_problems(
            conflict="Already a favourite; `existing_id` names the stored entry"
        ),
    )
    def post(self, data: dict[str, Any]) -> Favorite:
        """Add a movie to your favourites, by local id (`movie`) or TMDb id (`tmdb_id`)."""
        return library.add_favorite(
            current_user_id(), movie_id=data.get("movie"), tmdb_id=data.get("tmdb_id")
        )


@blp.route("/favorites/<id:favorite_id>/")
class FavoriteById(MethodView):
    @blp.operation(
        "deleteFavorite", 204, token="required", errors={404: "No such favourite of yours"}
    )
    def delete(self, favorite_id: int) -> None:
        """Remove one of your favourites."""
        library.remove_favorite(current_user_id(), favorite_id)


@blp.route("/favorites/check/<id:movie_id>/")
class FavoriteCheck(MethodView):
    @blp.operation(
        "checkFavorite",
        200,
        FavoriteCheckSchema,
        token="required",
        errors={404: "The movie does not exist"},
    )
    def get(self, movie_id: int) -> dict[str, bool]:
        """Whether a movie (local id) is one of your favourites."""
        return {"is_favorited": library.is_favorited(current_user_id(), movie_id)}


# --- ratings -------------------------------------------------------------------------------


@blp.route("/ratings/")
class Ratings(MethodView):
    @blp.operation(
        "listRatings",
        200,
        page_schema(RatingSchema),
        token="required",
        query=RatingListArgs,
        errors=PAGE_ERRORS,
    )
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your ratings, newest first, each with its movie and review."""
        return page_body(library.list_ratings(current_user_id(), **args))

    @blp.operation(
        "createRating",
        201,
        RatingSchema,
        token="required",
        query=RatingWatchlistArgs,
        body=RatingCreateSchema,
        example={"movie": 12, "rating": 7.5, "review": "Still holds up."},
        body_description="`movie` or `tmdb_id`; `rating` from 1 to 10 in steps of 0.5",
        errors=movie_reference_problems(
            conflict="Already rated; update it with PUT or PATCH (`existing_id` names it)"
        ),
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
    @blp.operation("getRating", 200, RatingSchema, token="required", errors=NO_SUCH_RATING)
    def get(self, rating_id: int) -> Rating:
        """One of your ratings."""
        return library.get_rating(current_user_id(), rating_id)

    @blp.operation(
        "replaceRating",
        200,
        RatingSchema,
        token="required",
        query=RatingWatchlistArgs,
        body=RatingReplaceSchema,
        example={"rating": 9, "review": "Better the second time."},
        errors=NO_SUCH_RATING,
    )
    def put(self, query: dict[str, Any], data: dict[str, Any], rating_id: int) -> Rating:
        """Replace the score and review of one of your ratings (a missing review empties it)."""
        return library.update_rating(
            current_user_id(),
            rating_id,
            rating=data["rating"],
            review=data["review"],
            remove_from_watchlist=query["remove_from_watchlist"],
        )

    @blp.operation(
        "updateRating",
        200,
        RatingSchema,
        token="required",
        query=RatingWatchlistArgs,
        body=RatingPatchSchema,
        example={"rating": 8.5},
        errors=NO_SUCH_RATING,
    )
    def patch(self, query: dict[str, Any], data: dict[str, Any], rating_id: int) -> Rating:
        """Change the score, the review or both of one of your ratings."""
        return library.update_rating(
            current_user_id(),
            rating_id,
            rating=data.get("rating"),
            review=data.get("review"),
            remove_from_watchlist=query["remove_from_watchlist"],
        )

    @blp.operation("deleteRating", 204, token="required", errors=NO_SUCH_RATING)
    def delete(self, rating_id: int) -> None:
        """Delete one of your ratings."""
        library.delete_rating(current_user_id(), rating_id)


@blp.route("/ratings/movie/<id:movie_id>/")
class RatingByMovie(MethodView):
    @blp.operation(
        "getMovieRating",
        200,
        RatingSchema,
        token="required",
        errors={404: "The movie does not exist, or you have not rated it"},
    )
    def get(self, movie_id: int) -> Rating:
        """Your rating of a movie (local id)."""
        return library.get_rating_for_movie(current_user_id(), movie_id)


# --- watchlist -----------------------------------------------------------------------------


@blp.route("/watchlist/")
class Watchlist(MethodView):
    @blp.operation(
        "listWatchlist",
        200,
        page_schema(WatchlistEntrySchema),
        token="required",
        query=WatchlistListArgs,
        errors=PAGE_ERRORS,
    )
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The movies you want to see, newest first."""
        return page_body(library.list_watchlist(current_user_id(), **args))

    @blp.operation(
        "createWatchlistEntry",
        201,
        WatchlistEntrySchema,
        token="required",
        body=WatchlistEntryCreateSchema,
        example={"tmdb_id": 603},
        body_description="`movie` or `tmdb_id`",
        errors=movie_reference_problems(
            conflict="Already on your watchlist; `existing_id` names the stored entry"
        ),
    )
    def post(self, data: dict[str, Any]) -> WatchlistEntry:
        """Add a movie to your watchlist, by local id (`movie`) or TMDb id (`tmdb_id`)."""
        return library.add_to_watchlist(
            current_user_id(), movie_id=data.get("movie"), tmdb_id=data.get("tmdb_id")
        )


@blp.route("/watchlist/<id:entry_id>/")
class WatchlistEntryById(MethodView):
    @blp.operation(
        "deleteWatchlistEntry",
        204,
        token="required",
        errors={404: "No such watchlist entry of yours"},
    )
    def delete(self, entry_id: int) -> None:
        """Take a movie off your watchlist."""
        library.remove_from_watchlist(current_user_id(), entry_id)
