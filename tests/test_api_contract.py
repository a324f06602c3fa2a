"""The specification's list of operations, checked against the OpenAPI document and the app.

`OPERATIONS` is the contract a client is written from: every operation's method, path and
operationId (generated clients name their methods after it, so it must not drift). Each one
must be in the document and be routed by the running app with that method; the document
holds nothing else.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import MethodNotAllowed, NotFound

V1 = "/api/v1"

OPERATIONS: list[tuple[str, str, str]] = [
    # auth
    ("POST", f"{V1}/auth/users/", "registerUser"),
    ("POST", f"{V1}/auth/login/", "login"),
    ("POST", f"{V1}/auth/token/refresh/", "refreshToken"),
    ("POST", f"{V1}/auth/token/blacklist/", "logout"),
    ("POST", f"{V1}/auth/token/verify/", "verifyToken"),
    ("POST", f"{V1}/auth/password/change/", "changePassword"),
    ("GET", f"{V1}/auth/users/me/", "getCurrentUser"),
    ("PATCH", f"{V1}/auth/users/me/", "updateCurrentUser"),
    ("DELETE", f"{V1}/auth/users/me/", "deleteCurrentUser"),
    ("GET", f"{V1}/auth/users/me/export/", "exportCurrentUser"),
    ("GET", f"{V1}/auth/profiles/", "listProfiles"),
    ("GET", f"{V1}/auth/profiles/{{profile_id}}/", "getProfile"),
    ("PUT", f"{V1}/auth/profiles/{{profile_id}}/", "replaceProfile"),
    ("PATCH", f"{V1}/auth/profiles/{{profile_id}}/", "updateProfile"),
    # movies: the catalogue at the specification's movies/movies/
    ("GET", f"{V1}/movies/movies/", "listMovies"),
    ("GET", f"{V1}/movies/movies/{{movie_id}}/", "getMovie"),
    ("GET", f"{V1}/movies/movies/trending/", "listTrendingMovies"),
    ("GET", f"{V1}/movies/movies/popular/", "listPopularMovies"),
    ("GET", f"{V1}/movies/movies/top_rated/", "listTopRatedMovies"),
    ("GET", f"{V1}/movies/movies/search/", "searchMovies"),
    ("GET", f"{V1}/movies/movies/tmdb/{{tmdb_id}}/", "getTmdbMovie"),
    ("GET", f"{V1}/movies/genres/", "listGenres"),
    ("POST", f"{V1}/movies/genres/sync/", "syncGenres"),
    ("GET", f"{V1}/movies/history/", "listHistory"),
    ("POST", f"{V1}/movies/history/", "createHistoryEntry"),
    ("DELETE", f"{V1}/movies/history/{{entry_id}}/", "deleteHistoryEntry"),
    # favorites: favourites, ratings, watchlist
    ("GET", f"{V1}/favorites/favorites/", "listFavorites"),
    ("POST", f"{V1}/favorites/favorites/", "createFavorite"),
    ("DELETE", f"{V1}/favorites/favorites/{{favorite_id}}/", "deleteFavorite"),
    ("GET", f"{V1}/favorites/favorites/check/{{movie_id}}/", "checkFavorite"),
    ("GET", f"{V1}/favorites/ratings/", "listRatings"),
    ("POST", f"{V1}/favorites/ratings/", "createRating"),
    ("GET", f"{V1}/favorites/ratings/{{rating_id}}/", "getRating"),
    ("PUT", f"{V1}/favorites/ratings/{{rating_id}}/", "replaceRating"),
    ("PATCH", f"{V1}/favorites/ratings/{{rating_id}}/", "updateRating"),
    ("DELETE", f"{V1}/favorites/ratings/{{rating_id}}/", "deleteRating"),
    ("GET", f"{V1}/favorites/ratings/movie/{{movie_id}}/", "getMovieRating"),
    ("GET", f"{V1}/favorites/watchlist/", "listWatchlist"),
    ("POST", f"{V1}/favorites/watchlist/", "createWatchlistEntry"),
    ("DELETE", f"{V1}/favorites/watchlist/{{entry_id}}/", "deleteWatchlistEntry"),
    # beyond the specification: history imports
    ("POST", f"{V1}/favorites/imports/", "createImport"),
    ("GET", f"{V1}/favorites/imports/{{import_id}}/", "getImport"),
    # recommendations
    ("GET", f"{V1}/recommendations/", "listRecommendations"),
    ("POST", f"{V1}/recommendations/refresh/", "refreshRecommendations"),
    # beyond the specification: the onboarding list
    ("GET", f"{V1}/recommendations/onboarding/", "listOnboardingMovies"),
    ("GET", f"{V1}/recommendations/similar/{{movie_id}}/", "listSimilarMovies"),
    ("POST", f"{V1}/recommendations/feedback/", "createFeedback"),
    ("GET", f"{V1}/recommendations/feedback/list/", "listFeedback"),
    ("DELETE", f"{V1}/recommendations/feedback/{{feedback_id}}/", "deleteFeedback"),
    ("DELETE", f"{V1}/recommendations/{{recommendation_id}}/", "dismissRecommendation"),
    ("POST", f"{V1}/recommendations/{{recommendation_id}}/click/", "recordClick"),
    ("GET", f"{V1}/recommendations/metrics/", "getRecommendationMetrics"),
    # health
    ("GET", "/health/", "getHealth"),
    ("GET", "/health/live/", "getLiveness"),
    ("GET", "/health/ready/", "getReadiness"),
]

# Where the catalogue used to answer, one level up: gone, no client depends on it.
FORMER_CATALOGUE_PATHS = [
    f"{V1}/movies/",
    f"{V1}/movies/1/",
    f"{V1}/movies/trending/",
    f"{V1}/movies/popular/",
    f"{V1}/movies/top_rated/",
    f"{V1}/movies/search/?q=alien",
    f"{V1}/movies/tmdb/1/",
]

CAMEL_CASE = re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]+)*$")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def spec(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def documented_operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def concrete(path: str) -> str:
    """The path with each `{parameter}` replaced by a valid id."""
    return re.sub(r"\{[a-z_]+\}", "1", path)


def test_the_list_names_each_operation_once() -> None:
    assert len({(method, path) for method, path, _ in OPERATIONS}) == len(OPERATIONS)
    assert len({operation_id for _, _, operation_id in OPERATIONS}) == len(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "operation_id"), OPERATIONS)
def test_each_operation_is_documented_under_its_name(
    spec: dict[str, Any], method: str, path: str, operation_id: str
) -> None:
    operation = documented_operations(spec).get((method, path))
    assert operation is not None, f"{method} {path} is not in the OpenAPI document"
    assert operation["operationId"] == operation_id


def test_the_document_has_no_operation_outside_the_list(spec: dict[str, Any]) -> None:
    listed = {(method, path) for method, path, _ in OPERATIONS}
    assert set(documented_operations(spec)) - listed == set()


@pytest.mark.parametrize(("method", "path", "operation_id"), OPERATIONS)
def test_the_running_app_serves_each_operation_at_its_path(
    app: Flask, client: FlaskClient, method: str, path: str, operation_id: str
) -> None:
    url = concrete(path)
    # The router itself: the path matches a rule that takes this method.
    endpoint, _ = app.url_map.bind("localhost").match(url, method=method)
    assert endpoint.split(".")[0] in {"auth", "movies", "favorites", "recommendations", "health"}
    # And a real request (no token, no body) gets past routing: whatever the answer (200,
    # 400, 401, or a 404 that names a missing movie or rating), it is not "no such URL".
    response = client.open(url, method=method)
    assert response.status_code != 405, (method, url)
    if response.status_code == 404:
        assert response.get_json()["detail"] != NotFound.description, (method, url)


@pytest.mark.parametrize("url", FORMER_CATALOGUE_PATHS)
def test_the_catalogue_no_longer_answers_one_level_up(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_an_unlisted_method_is_refused_with_405(app: Flask, client: FlaskClient) -> None:
    with pytest.raises(MethodNotAllowed):
        app.url_map.bind("localhost").match(f"{V1}/movies/movies/", method="POST")
    assert client.post(f"{V1}/movies/movies/").status_code == 405


def test_every_operation_id_is_present_unique_and_camel_case(spec: dict[str, Any]) -> None:
    operation_ids = [op.get("operationId") for op in documented_operations(spec).values()]
    assert None not in operation_ids
    assert len(set(operation_ids)) == len(operation_ids)
    assert [name for name in operation_ids if not CAMEL_CASE.match(name)] == []


def test_every_operation_has_a_one_line_summary(spec: dict[str, Any]) -> None:
    for (method, path), operation in documented_operations(spec).items():
        summary = operation.get("summary", "")
        assert summary.strip(), f"{method} {path} has no summary"
        assert "\n" not in summary, f"{method} {path}: the summary is one line"


# The schemas a client reads and sends most: every field they hold has an example.
MAIN_SCHEMAS = [
    "Register",
    "Login",
    "TokenPair",
    "RefreshToken",
    "Me",
    "Movie",
    "MovieSummary",
    "MovieListItem",
    "MovieListItemPage",
    "Genre",
    "GenreWithCount",
    "FavoriteCreate",
    "Favorite",
    "RatingCreate",
    "Rating",
    "WatchlistEntryCreate",
    "WatchlistEntry",
    "Recommendation",
    "RecommendationPage",
    "RefreshResult",
    "SimilarMovie",
    "OnboardingMovie",
    "OnboardingList",
    "FeedbackCreate",
    "Feedback",
    "Problem",
]


@pytest.mark.parametrize("name", MAIN_SCHEMAS)
def test_main_schemas_give_an_example_of_every_field(spec: dict[str, Any], name: str) -> None:
    schema = spec["components"]["schemas"][name]
    without = [
        field
        for field, definition in schema["properties"].items()
        if "example" not in definition and not refers_to_a_schema(definition)
    ]
    assert without == [], f"{name}: no example for {without}"


def refers_to_a_schema(definition: dict[str, Any]) -> bool:
    """A nested schema (or a list of them) shows its example through that schema."""
    if "$ref" in definition or "allOf" in definition:
        return True
    if any("$ref" in choice for choice in definition.get("anyOf", [])):
        return True
    return definition.get("type") == "array" and "$ref" in definition.get("items", {})


def test_a_nullable_nested_schema_is_that_schema_or_null(spec: dict[str, Any]) -> None:
    feedback = spec["components"]["schemas"]["Recommendation"]["properties"]["feedback"]
    assert feedback["allOf"] == [{"$ref": "#/components/schemas/FeedbackSummary"}]
    assert feedback["nullable"] is True
    assert "anyOf" not in str(spec)  # nowhere "this schema or any object"


def test_descending_orderings_have_names_for_generated_enums(spec: dict[str, Any]) -> None:
    parameters = documented_operations(spec)[("GET", f"{V1}/movies/movies/")]["parameters"]
    ordering = next(p["schema"] for p in parameters if p.get("name") == "ordering")
    names = dict(zip(ordering["enum"], ordering["x-enum-varnames"], strict=True))
    assert names["-title"] == "title_desc" and names["title"] == "title"
