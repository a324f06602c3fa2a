"""The TMDb client, driven over real HTTP against the fake TMDb server."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from flask import Flask

from app.errors import NotFound, UpstreamError, UpstreamUnavailable
from app.services.tmdb import TMDbClient, redact_api_key, tmdb_client
from tests.fake_tmdb import API_KEY, READ_TOKEN, FakeTMDb


@pytest.fixture
def client(app: Flask) -> Iterator[TMDbClient]:
    with app.app_context():
        yield tmdb_client()


def test_popular_returns_a_validated_page_with_tmdb_pagination(
    client: TMDbClient, fake_tmdb: FakeTMDb
) -> None:
    page = client.popular(2)
    assert (page.page, page.total_pages, page.total_results) == (2, 3, 60)
    assert len(page.results) == 20
    assert all("genre_ids" in record for record in page.results)


def test_every_list_method_calls_its_tmdb_path_with_key_and_language(
    client: TMDbClient, fake_tmdb: FakeTMDb
) -> None:
    client.trending("day")
    client.trending("week")
    client.popular()
    client.top_rated()
    client.search("movie 1")
    client.genres()
    client.movie_details(5)
    paths = [path.split("?")[0] for path in fake_tmdb.requests]
    assert paths == [
        "/3/trending/movie/day",
        "/3/trending/movie/week",
        "/3/movie/popular",
        "/3/movie/top_rated",
        "/3/search/movie",
        "/3/genre/movie/list",
        "/3/movie/5",
    ]
    assert all(f"api_key={API_KEY}" in path for path in fake_tmdb.requests)
    assert all("language=en-US" in path for path in fake_tmdb.requests)
    assert "query=movie+1" in fake_tmdb.requests[4]


def test_a_v4_read_token_is_sent_as_a_bearer_header_not_a_parameter(
    app: Flask, fake_tmdb: FakeTMDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "TMDB_API_KEY", READ_TOKEN)
    with app.app_context():
        page = tmdb_client().popular()
    assert page.total_results == 60
    assert fake_tmdb.count("/movie/popular") == 1
    assert "api_key" not in fake_tmdb.requests[0]


def test_the_client_is_reused_until_its_settings_change(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.app_context():
        first = tmdb_client()
        assert tmdb_client() is first
        monkeypatch.setitem(app.config, "TMDB_LANGUAGE", "fr-FR")
        second = tmdb_client()
    assert second is not first
    assert second.settings.language == "fr-FR"


def test_missing_key_is_503_saying_how_to_configure_it_without_calling_tmdb(
    app: Flask, fake_tmdb: FakeTMDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "TMDB_API_KEY", "")
    with app.app_context(), pytest.raises(UpstreamUnavailable) as raised:
        tmdb_client().popular()
    assert raised.value.code == "tmdb_not_configured"
    assert "TMDB_API_KEY" in raised.value.detail
    assert fake_tmdb.requests == []


def test_a_500_is_retried_and_the_retry_succeeds(client: TMDbClient, fake_tmdb: FakeTMDb) -> None:
    fake_tmdb.failures = ["500", "503"]
    page = client.popular()
    assert page.total_results == 60
    assert fake_tmdb.count("/movie/popular") == 3


def test_persistent_5xx_gives_up_after_the_configured_retries_with_503(
    client: TMDbClient, fake_tmdb: FakeTMDb
) -> None:
    fake_tmdb.failure = "500"
    with pytest.raises(UpstreamUnavailable) as raised:
        client.popular()
    assert raised.value.code == "tmdb_unavailable"
    assert "TMDb is unavailable" in raised.value.detail
    # TestingConfig: TMDB_MAX_RETRIES = 2, so one call and two retries.
    assert fake_tmdb.count("/movie/popular") == 3


def test_a_429_waits_for_retry_after_and_then_succeeds(
    client: TMDbClient, fake_tmdb: FakeTMDb
) -> None:
    fake_tmdb.failures = ["429"]
    fake_tmdb.retry_after = 1
    page = client.top_rated()
    assert page.total_results == 60
    assert fake_tmdb.count("/movie/top_rated") == 2


def test_persistent_429_is_503_rate_limited_with_retry_after(
    client: TMDbClient, fake_tmdb: FakeTMDb
) -> None:
    fake_tmdb.failure = "429"
    fake_tmdb.retry_after = 0
    with pytest.raises(UpstreamUnavailable) as raised:
        client.top_rated()
    assert raised.value.code == "tmdb_rate_limited"
    assert raised.value.headers["Retry-After"] == "0"
    assert fake_tmdb.count("/movie/top_rated") == 3


def test_a_long_retry_after_is_waited_for_only_up_to_the_cap(
    app: Flask, fake_tmdb: FakeTMDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "TMDB_MAX_RETRY_AFTER", 0)
    fake_tmdb.failures = ["429", "429"]
    fake_tmdb.retry_after = 3600  # honoured literally, this test would wait two hours
    with app.app_context():
        assert tmdb_client().popular().total_results == 60
    assert fake_tmdb.count("/movie/popular") == 3


def test_a_timeout_is_retried_then_reported_as_unavailable(
    app: Flask, fake_tmdb: FakeTMDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "TMDB_READ_TIMEOUT", 0.2)
    fake_tmdb.failure = "timeout"
    with app.app_context(), pytest.raises(UpstreamUnavailable) as raised:
        tmdb_client().popular()
    assert raised.value.code == "tmdb_unavailable"
    assert fake_tmdb.count("/movie/popular") == 3


def test_one_timeout_then_an_answer_succeeds(
    app: Flask, fake_tmdb: FakeTMDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "TMDB_READ_TIMEOUT", 0.2)
    fake_tmdb.failures = ["timeout"]
    with app.app_context():
        assert tmdb_client().popular().total_results == 60
    assert fake_tmdb.count("/movie/popular") == 2


def test_unreachable_tmdb_is_503(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "TMDB_BASE_URL", "http://127.0.0.1:9/3")
    with app.app_context(), pytest.raises(UpstreamUnavailable) as raised:
        tmdb_client().popular()
    assert raised.value.code == "tmdb_unavailable"


def test_a_rejected_key_is_502_about_the_key_and_never_shows_it(
    client: TMDbClient, fake_tmdb: FakeTMDb
) -> None:
    fake_tmdb.failure = "401"
    with pytest.raises(UpstreamError) as raised:
        client.popular()
    assert raised.value.code == "tmdb_auth_failed"
    assert "TMDB_API_KEY" in raised.value.detail
    assert API_KEY not in raised.value.detail
    assert fake_tmdb.count("/movie/popular") == 1  # a 401 is not retried


def test_an_unknown_movie_is_not_found(client: TMDbClient) -> None:
    with pytest.raises(NotFound) as raised:
        client.movie_details(424242)
    assert raised.value.detail == "No movie with TMDb id 424242."


@pytest.mark.parametrize("failure", ["malformed", "bad_shape"])
def test_a_malformed_payload_is_502_and_is_not_cached(
    client: TMDbClient, fake_tmdb: FakeTMDb, failure: str
) -> None:
    fake_tmdb.failures = [failure]
    with pytest.raises(UpstreamError) as raised:
        client.popular()
    assert raised.value.code == "tmdb_bad_response"
    assert client.popular().total_results == 60
    assert fake_tmdb.count("/movie/popular") == 2


@pytest.mark.parametrize("call", ["details", "genres"])
def test_malformed_details_and_genre_lists_are_502(
    client: TMDbClient, fake_tmdb: FakeTMDb, call: str
) -> None:
    fake_tmdb.failure = "bad_shape"
    with pytest.raises(UpstreamError):
        client.movie_details(3) if call == "details" else client.genres()


def test_responses_are_cached_per_path_and_parameters(
    client: TMDbClient, fake_tmdb: FakeTMDb
) -> None:
    client.popular(1)
    client.popular(1)
    client.popular(2)
    client.movie_details(4)
    client.movie_details(4)
    client.genres()
    client.genres()
    assert fake_tmdb.count("/movie/popular?page=1") == 1
    assert fake_tmdb.count("/movie/popular?page=2") == 1
    assert fake_tmdb.count("/movie/4") == 1
    assert fake_tmdb.count("/genre/movie/list") == 1


def test_failures_are_not_cached(client: TMDbClient, fake_tmdb: FakeTMDb) -> None:
    fake_tmdb.failures = ["401"]
    with pytest.raises(UpstreamError):
        client.popular()
    assert client.popular().total_results == 60
    assert fake_tmdb.count("/movie/popular") == 2


def test_genres_refresh_bypasses_the_cache(client: TMDbClient, fake_tmdb: FakeTMDb) -> None:
    client.genres()
    fake_tmdb.genres = [*fake_tmdb.genres, {"id": 10752, "name": "War"}]
    assert len(client.genres()) == 10
    assert len(client.genres(refresh=True)) == 11
    assert len(client.genres()) == 11
    assert fake_tmdb.count("/genre/movie/list") == 2


def test_the_key_never_reaches_the_logs_even_when_retrying(
    app: Flask,
    fake_tmdb: FakeTMDb,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(app.config, "TMDB_READ_TIMEOUT", 0.2)
    fake_tmdb.failures = ["timeout", "500"]
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        tmdb_client().popular()
    assert fake_tmdb.count("/movie/popular") == 3
    assert "Retrying" in caplog.text  # urllib3 logged the retried URL...
    assert API_KEY not in caplog.text  # ...with the key redacted


def test_redact_api_key_hides_the_parameter_value() -> None:
    assert redact_api_key("/3/movie/1?api_key=secret&page=2") == (
        "/3/movie/1?api_key=[redacted]&page=2"
    )
