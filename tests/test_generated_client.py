"""A client generated from the live OpenAPI document runs a user's whole journey.

The app is served over real HTTP; `openapi-python-client` generates a Python client from
its `/api/openapi.json` (any warning fails the test: the document must say everything a
generator needs), and the journey (register, log in, browse, favourite, rate, watchlist,
recommendations, feedback, click, similar movies, refresh, log out) goes through the
generated functions and typed models only.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.factories import make_genre, make_movie

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "movie_api_client"
GENERATION_TIMEOUT_SECONDS = 120
PASSWORD = "a-long-enough-passphrase-42"


@pytest.fixture(scope="module")
def base_url(app: Flask) -> Iterator[str]:
    """The app behind a real HTTP server, in a thread, for this module."""
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def api(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated client package, imported (its modules are under `api.api` and
    `api.models`)."""
    directory = tmp_path_factory.mktemp("generated")
    config = directory / "generator.yaml"
    # No formatting pass over the generated code: it needs ruff on PATH and changes nothing
    # the test relies on.
    config.write_text("post_hooks: []\n")
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--url",
            f"{base_url}/api/openapi.json",
            "--meta",
            "none",
            "--output-path",
            str(directory / PACKAGE),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=GENERATION_TIMEOUT_SECONDS,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output and "Error" not in output, output
    sys.path.insert(0, str(directory))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(directory))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def operation(api: ModuleType, tag: str, name: str) -> Any:
    return importlib.import_module(f"{api.__name__}.api.{tag}.{name}")


def models(api: ModuleType) -> Any:
    return importlib.import_module(f"{api.__name__}.models")


def test_the_generated_client_names_operations_after_their_operation_ids(
    api: ModuleType,
) -> None:
    for tag, name in [
        ("movies", "list_movies"),
        ("movies", "get_movie"),
        ("favorites", "create_rating"),
        ("recommendations", "list_recommendations"),
        ("auth", "logout"),
    ]:
        assert callable(operation(api, tag, name).sync_detailed)


@pytest.mark.committing
def test_a_generated_client_runs_the_whole_journey(
    app: Flask, api: ModuleType, base_url: str
) -> None:
    m = models(api)
    science_fiction = make_genre(app, tmdb_id=878, name="Science Fiction")
    drama = make_genre(app, tmdb_id=18, name="Drama")
    # Six science-fiction films, then four dramas, each less popular than the one before.
    catalogue = [
        make_movie(
            app,
            genres=[genre],
            title=f"{title} {n}",
            overview=f"{overview} {n}.",
            popularity=top_popularity - n,
        )
        for genre, count, title, overview, top_popularity in [
            (
                science_fiction,
                6,
                "Star voyage",
                "A crew of astronauts travels through space to a distant planet",
                100.0,
            ),
            (drama, 4, "Family drama", "A family gathers at the farm for a difficult summer", 50.0),
        ]
        for n in range(count)
    ]
    anonymous = api.Client(base_url=base_url)

    # Register, then log in.
    registered = operation(api, "auth", "register_user").sync_detailed(
        client=anonymous,
        body=m.Register(
            email="newcomer@example.com",
            username="newcomer",
            password=PASSWORD,
            password_confirm=PASSWORD,
        ),
    )
    assert registered.status_code == 201, registered.content
    assert isinstance(registered.parsed, m.SignedIn)
    assert registered.parsed.user.username == "newcomer"

    logged_in = operation(api, "auth", "login").sync_detailed(
        client=anonymous, body=m.Login(email="newcomer@example.com", password=PASSWORD)
    )
    assert logged_in.status_code == 200, logged_in.content
    tokens = logged_in.parsed.tokens
    assert isinstance(tokens, m.TokenPair) and tokens.access and tokens.refresh
    client = api.AuthenticatedClient(base_url=base_url, token=tokens.access)

    # Browse the catalogue: genres, a page in title order, one movie, TMDb's popular list.
    genres = operation(api, "movies", "list_genres").sync_detailed(client=anonymous)
    assert genres.status_code == 200
    assert {(g.name, g.movie_count) for g in genres.parsed} >= {
        ("Science Fiction", 6),
        ("Drama", 4),
    }
    page = operation(api, "movies", "list_movies").sync_detailed(
        client=client, page_size=4, ordering=m.ListMoviesOrdering.TITLE, genre="878"
    )
    assert page.status_code == 200, page.content
    assert isinstance(page.parsed, m.MovieListItemPage)
    assert page.parsed.count == 6
    assert [movie.title for movie in page.parsed.results] == [f"Star voyage {n}" for n in range(4)]
    # A list item is a summary: the overview (and the other long fields) is in the detail.
    assert isinstance(page.parsed.results[0], m.MovieListItem)
    assert not hasattr(page.parsed.results[0], "overview")
    # The generator calls `next` `next_` (it would shadow a builtin).
    assert "page=2" in page.parsed.next_ and page.parsed.previous is None
    first = catalogue[0]
    detail = operation(api, "movies", "get_movie").sync_detailed(first.id, client=client)
    assert detail.status_code == 200
    assert isinstance(detail.parsed, m.Movie)
    assert (detail.parsed.id, detail.parsed.title) == (first.id, "Star voyage 0")
    assert isinstance(detail.parsed.overview, str)
    assert [genre.name for genre in detail.parsed.genres] == ["Science Fiction"]
    popular = operation(api, "movies", "list_popular_movies").sync_detailed(client=anonymous)
    assert popular.status_code == 200, popular.content
    assert popular.parsed.count > 0 and all(movie.id for movie in popular.parsed.results)

    # Favourite, rate and put on the watchlist.
    favorite = operation(api, "favorites", "create_favorite").sync_detailed(
        client=client, body=m.FavoriteCreate(movie=first.id)
    )
    assert favorite.status_code == 201, favorite.content
    assert isinstance(favorite.parsed, m.Favorite)
    assert favorite.parsed.movie.id == first.id
    rating = operation(api, "favorites", "create_rating").sync_detailed(
        client=client, body=m.RatingCreate(movie=catalogue[1].id, rating=8.5, review="Loved it.")
    )
    assert rating.status_code == 201, rating.content
    assert isinstance(rating.parsed, m.Rating)
    assert (rating.parsed.movie.id, rating.parsed.rating) == (catalogue[1].id, 8.5)
    duplicate = operation(api, "favorites", "create_favorite").sync_detailed(
        client=client, body=m.FavoriteCreate(movie=first.id)
    )
    assert duplicate.status_code == 409
    assert isinstance(duplicate.parsed, m.DuplicateProblem)
    assert duplicate.parsed.existing_id == favorite.parsed.id
    watchlist = operation(api, "favorites", "create_watchlist_entry").sync_detailed(
        client=client, body=m.WatchlistEntryCreate(movie=catalogue[7].id)
    )
    assert watchlist.status_code == 201, watchlist.content
    assert watchlist.parsed.movie.id == catalogue[7].id

    # Recommendations: never a film the user favourited or rated.
    recommended = operation(api, "recommendations", "list_recommendations").sync_detailed(
        client=client, page_size=5
    )
    assert recommended.status_code == 200, recommended.content
    assert isinstance(recommended.parsed, m.RecommendationPage)
    results = recommended.parsed.results
    assert results, "a catalogue of ten films gives some recommendations"
    seen = {first.id, catalogue[1].id}
    assert {r.movie.id for r in results}.isdisjoint(seen)
    assert [r.rank for r in results] == list(range(1, len(results) + 1))
    assert all(r.explanation and r.feedback is None for r in results)
    best = results[0]

    # Feedback and a click on the first recommendation.
    feedback = operation(api, "recommendations", "create_feedback").sync_detailed(
        client=client,
        body=m.FeedbackCreate(
            recommendation=best.id, feedback_type=m.FeedbackCreateFeedbackType.LIKE
        ),
    )
    assert feedback.status_code == 201, feedback.content
    assert isinstance(feedback.parsed, m.Feedback)
    assert (feedback.parsed.recommendation, feedback.parsed.feedback_type) == (best.id, "like")
    clicked = operation(api, "recommendations", "record_click").sync_detailed(
        best.id, client=client
    )
    assert clicked.status_code == 200, clicked.content
    assert isinstance(clicked.parsed, m.Recommendation)
    assert clicked.parsed.is_clicked is True
    assert isinstance(clicked.parsed.feedback, m.FeedbackSummary)
    assert clicked.parsed.feedback.feedback_type == "like"

    # Similar movies: the other space films come before the family dramas.
    similar = operation(api, "recommendations", "list_similar_movies").sync_detailed(
        first.id, client=anonymous, page_size=5
    )
    assert similar.status_code == 200, similar.content
    assert isinstance(similar.parsed, m.SimilarMoviePage)
    similar_titles = [item.movie.title for item in similar.parsed.results]
    assert similar_titles and all(title.startswith("Star voyage") for title in similar_titles[:3])
    assert first.title not in similar_titles

    # Refresh: a new batch, still without the films the user favourited or rated.
    refreshed = operation(api, "recommendations", "refresh_recommendations").sync_detailed(
        client=client
    )
    assert refreshed.status_code == 200, refreshed.content
    assert isinstance(refreshed.parsed, m.RefreshResult)
    assert refreshed.parsed.recommendations
    assert {r.movie.id for r in refreshed.parsed.recommendations}.isdisjoint(seen)

    # Log out: the refresh token and the access token sent along are revoked.
    logged_out = operation(api, "auth", "logout").sync_detailed(
        client=client, body=m.RefreshToken(refresh=tokens.refresh)
    )
    assert logged_out.status_code == 200, logged_out.content
    assert isinstance(logged_out.parsed, m.Message)
    refused = operation(api, "auth", "get_current_user").sync_detailed(client=client)
    assert refused.status_code == 401
    assert isinstance(refused.parsed, m.Problem)
    assert refused.parsed.code == "token_revoked"
