"""The movie catalogue, TMDb browsing, genres and watch history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Response
from flask.views import MethodView

from app.api import (
    Blueprint,
    current_user_id,
    current_user_id_or_none,
    public_read,
)
from app.blueprints.movies.schemas import (
    GenreWithCountSchema,
    HistoryCreateSchema,
    HistoryEntrySchema,
    MovieListArgs,
    MovieListItemSchema,
    MovieSchema,
    SearchArgs,
    TMDbPageArgs,
    TrendingArgs,
)
from app.blueprints.pagination import PageArgs, page_body, page_schema, paged_body
from app.blueprints.rendered_pages import rendered_page
from app.models import Movie, WatchHistory
from app.services import catalogue, catalogue_cache, history
from app.services.catalogue import BrowsedPage, GenreCount, MovieFilters
from app.services.tmdb import MAX_TMDB_PAGE

blp = Blueprint(
    "movies",
    __name__,
    description="The movie catalogue, TMDb browsing, genres and watch history.",
)

# Lists send each movie's list fields; the detail (getMovie) sends every field.
MoviePageSchema = page_schema(MovieListItemSchema)
MOVIE_PAGE = MoviePageSchema()  # what a cached page is rendered with (`rendered_page`)
TMDB_FAILURES = {
    404: "Not found on TMDb",
    502: "TMDb refused our key or sent a malformed response",
    503: "TMDb is not configured, unreachable, failing or rate limiting",
}


def tmdb_page_read(operation_id: str, args_schema: type[ma.Schema]) -> Callable[[Any], Any]:
    """A public read of one page of a TMDb list: the operation's name, its query arguments,
    a page of movies and TMDb's failures."""
    return blp.operation(
        operation_id,
        200,
        MoviePageSchema,
        cache=public_read(),
        query=args_schema,
        errors=TMDB_FAILURES,
    )


def browsed_page_body(browsed: BrowsedPage) -> dict[str, Any]:
    """TMDb pages in our page shape: count is TMDb's total, the links are our URLs (up to
    the last page TMDb serves)."""
    last_page = min(browsed.total_pages, MAX_TMDB_PAGE)
    return paged_body(browsed.total_results, browsed.page, last_page, browsed.movies)


# --- The local catalogue ------------------------------------------------------------------


@blp.route("/movies/")
class Movies(MethodView):
    @blp.operation(
        "listMovies",
        200,
        MoviePageSchema,
        token="optional",
        cache=public_read(depends_on_caller=True),
        query=MovieListArgs,
        errors={404: "The page is out of range"},
    )
    def get(self, args: dict[str, Any]) -> Response | dict[str, Any]:
        """The local catalogue, filtered, searched and ordered.

        Adult titles are listed only for callers whose profile allows mature content.
        """
        page, page_size = args.pop("page"), args.pop("page_size")
        filters = MovieFilters(genre_tmdb_ids=args.pop("genre", []), **args)
        listing = catalogue_cache.list_movies(
            filters, page, page_size, viewer_id=current_user_id_or_none()
        )
        return rendered_page(listing, MOVIE_PAGE)


@blp.route("/movies/<id:movie_id>/")
class MovieDetail(MethodView):
    @blp.operation(
        "getMovie",
        200,
        MovieSchema,
        token="optional",
        cache=public_read(depends_on_caller=True),
        errors={404: "No such movie"},
    )
    def get(self, movie_id: int) -> dict[str, Any]:
        """One local movie with every stored field and its genres."""
        return catalogue_cache.get_movie(movie_id, viewer_id=current_user_id_or_none())


# --- Browsing TMDb (saved locally, returned with local ids) ------------------------------


@blp.route("/movies/trending/")
class Trending(MethodView):
    @tmdb_page_read("listTrendingMovies", TrendingArgs)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """TMDb's trending movies of the day or the week."""
        return browsed_page_body(catalogue.browse_trending(args["time_window"], args["page"]))


@blp.route("/movies/popular/")
class Popular(MethodView):
    @tmdb_page_read("listPopularMovies", TMDbPageArgs)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """TMDb's popular movies."""
        return browsed_page_body(catalogue.browse_popular(args["page"]))


@blp.route("/movies/top_rated/")
class TopRated(MethodView):
    @tmdb_page_read("listTopRatedMovies", TMDbPageArgs)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """TMDb's top rated movies."""
        return browsed_page_body(catalogue.browse_top_rated(args["page"]))


@blp.route("/movies/search/")
class Search(MethodView):
    @tmdb_page_read("searchMovies", SearchArgs)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search TMDb by title."""
        return browsed_page_body(catalogue.search_tmdb(args["q"], args["page"]))


@blp.route("/movies/tmdb/<id:tmdb_id>/")
class TMDbMovie(MethodView):
    @blp.operation("getTmdbMovie", 200, MovieSchema, cache=public_read(), errors=TMDB_FAILURES)
    def get(self, tmdb_id: int) -> Movie:
        """A movie's full TMDb details by TMDb id, saved locally."""
        return catalogue.refresh_movie_from_tmdb(tmdb_id)


# --- Genres -----------------------------------------------------------------------------


@blp.route("/genres/")
class Genres(MethodView):
    @blp.operation("listGenres", 200, GenreWithCountSchema(many=True), cache=public_read())
    def get(self) -> list[GenreCount]:
        """Every genre, by name, with the number of catalogue movies in it."""
        return catalogue.list_genres_with_counts()


@blp.route("/genres/sync/")
class GenreSync(MethodView):
    @blp.operation(
        "syncGenres",
        200,
        GenreWithCountSchema(many=True),
        token="required",
        errors={403: "Staff only", 502: "TMDb refused our key", 503: "TMDb is unavailable"},
    )
    def post(self) -> list[GenreCount]:
        """Refresh the genre list from TMDb (staff only); returns every genre."""
        return catalogue.sync_genres_for(current_user_id())


# --- Watch history --------------------------------------------------------------------------


@blp.route("/history/")
class History(MethodView):
    @blp.operation(
        "listHistory",
        200,
        page_schema(HistoryEntrySchema),
        token="required",
        query=PageArgs,
        errors={404: "The page is out of range"},
    )
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The caller's viewings, newest first."""
        return page_body(history.list_history(current_user_id(), args["page"], args["page_size"]))

    @blp.operation(
        "createHistoryEntry",
        201,
        HistoryEntrySchema,
        token="required",
        body=HistoryCreateSchema,
        errors={404: "No such movie"},
    )
    def post(self, data: dict[str, Any]) -> WatchHistory:
        """Record that the caller watched a movie (now, or at `watched_at`)."""
        return history.record_viewing(current_user_id(), data["movie"], data.get("watched_at"))


@blp.route("/history/<id:entry_id>/")
class HistoryEntry(MethodView):
    @blp.operation(
        "deleteHistoryEntry", 204, token="required", errors={404: "No such entry of the caller's"}
    )
    def delete(self, entry_id: int) -> None:
        """Remove one of the caller's viewings."""
        history.delete_viewing(current_user_id(), entry_id)
