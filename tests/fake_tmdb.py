"""A fake TMDb v3 server for tests, served over real HTTP on a free loopback port.

It answers the paths our client uses with payloads shaped like TMDb's (page, results,
total_pages, total_results; genre_ids in lists, genres in details) and records every
request, so tests can count calls. Failure modes are switched per test.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

API_KEY = "test-tmdb-key"
# A v4 "API read access token" (a JWT in real life), accepted as a Bearer header.
READ_TOKEN = "eyJ-test-tmdb-read-access-token"

GENRES = [
    {"id": 28, "name": "Action"},
    {"id": 12, "name": "Adventure"},
    {"id": 16, "name": "Animation"},
    {"id": 35, "name": "Comedy"},
    {"id": 80, "name": "Crime"},
    {"id": 18, "name": "Drama"},
    {"id": 14, "name": "Fantasy"},
    {"id": 27, "name": "Horror"},
    {"id": 878, "name": "Science Fiction"},
    {"id": 53, "name": "Thriller"},
]


def make_movie(tmdb_id: int, **overrides: Any) -> dict[str, Any]:
    """A TMDb details payload for a made-up movie."""
    movie = {
        "id": tmdb_id,
        "title": f"Movie {tmdb_id}",
        "original_title": f"Movie {tmdb_id}",
        "overview": f"Overview of movie {tmdb_id}.",
        "poster_path": f"/poster{tmdb_id}.jpg",
        "backdrop_path": f"/backdrop{tmdb_id}.jpg",
        "release_date": "2020-01-01",
        "runtime": 100 + tmdb_id % 50,
        "vote_average": round(5 + (tmdb_id % 50) / 10, 1),
        "vote_count": 100 + tmdb_id,
        "popularity": 10.0 + tmdb_id % 100,
        "original_language": "en",
        "adult": False,
        "status": "Released",
        "budget": 1_000_000,
        "revenue": 5_000_000,
        "homepage": "",
        "imdb_id": f"tt{tmdb_id:07d}",
        "genres": [GENRES[tmdb_id % len(GENRES)], GENRES[(tmdb_id + 3) % len(GENRES)]],
    }
    movie.update(overrides)
    return movie


def list_item(movie: dict[str, Any]) -> dict[str, Any]:
    """The shape a movie has inside a TMDb list: genre_ids, no details."""
    item = {
        key: movie[key]
        for key in (
            "id",
            "title",
            "original_title",
            "overview",
            "poster_path",
            "backdrop_path",
            "release_date",
            "vote_average",
            "vote_count",
            "popularity",
            "original_language",
            "adult",
        )
    }
    item["genre_ids"] = [genre["id"] for genre in movie["genres"]]
    return item


@dataclass
class FakeTMDb:
    server: BaseWSGIServer
    thread: threading.Thread
    movies: dict[int, dict[str, Any]] = field(default_factory=dict)
    genres: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    # Ids /movie/changes lists (whatever the dates asked), TMDb's 100 a page.
    changes: list[int] = field(default_factory=list)
    changes_page_size: int = 100
    # A list of failure modes consumed one per request ("500", "503", "429", "timeout",
    # "malformed" (not JSON), "bad_shape" (JSON with wrong types), "401", "404", "slow"
    # (answers after `delay` seconds), "trickle" (sends its body one byte every `delay`
    # seconds)); when empty, `failure` (if set) applies to every request.
    failures: list[str] = field(default_factory=list)
    failure: str | None = None
    retry_after: int = 1
    delay: float = 30.0
    # Set by reset(): wakes every slow or trickling answer still waiting, so none outlives
    # its test.
    released: threading.Event = field(default_factory=threading.Event)
    page_size: int = 20
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/3"

    def reset(self) -> None:
        with self.lock:
            self.movies = {tmdb_id: make_movie(tmdb_id) for tmdb_id in range(1, 61)}
            self.genres = list(GENRES)
            self.requests = []
            self.changes = []
            self.changes_page_size = 100
            self.failures = []
            self.failure = None
            self.retry_after = 1
            self.delay = 30.0
            self.released.set()
            self.released = threading.Event()

    def count(self, path_fragment: str) -> int:
        return sum(1 for path in self.requests if path_fragment in path)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def _page(items: list[dict[str, Any]], page: int, page_size: int) -> dict[str, Any]:
    total_pages = max(1, -(-len(items) // page_size))
    chunk = items[(page - 1) * page_size : page * page_size]
    return {
        "page": page,
        "results": [list_item(movie) for movie in chunk],
        "total_pages": total_pages,
        "total_results": len(items),
    }


def _changes_page(fake: FakeTMDb, page: int) -> dict[str, Any]:
    """/movie/changes: ids only (and `adult`), however many pages they take."""
    size = fake.changes_page_size
    chunk = fake.changes[(page - 1) * size : page * size]
    return {
        "results": [{"id": tmdb_id, "adult": False} for tmdb_id in chunk],
        "page": page,
        "total_pages": max(1, -(-len(fake.changes) // size)),
        "total_results": len(fake.changes),
    }


def _next_failure(fake: FakeTMDb) -> str | None:
    with fake.lock:
        if fake.failures:
            return fake.failures.pop(0)
        return fake.failure


def build_app(fake: FakeTMDb) -> Any:
    def application(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with fake.lock:
            fake.requests.append(request.full_path)
        response = handle(fake, request)
        return response(environ, start_response)

    return application


def handle(fake: FakeTMDb, request: Request) -> Response:
    failure = _next_failure(fake)
    if failure == "timeout":
        threading.Event().wait(3)
        return _json({"status_message": "too late"})
    if failure == "slow":
        fake.released.wait(fake.delay)
        return route(fake, request)
    if failure == "trickle":
        return trickle(route(fake, request), fake.delay, fake.released)
    if failure == "500":
        return _json({"status_message": "Internal error"}, 500)
    if failure == "503":
        return _json({"status_message": "Service unavailable"}, 503)
    if failure == "429":
        return _json(
            {"status_message": "Request count over limit", "status_code": 25},
            429,
            {"Retry-After": str(fake.retry_after)},
        )
    if failure == "malformed":
        return Response("{not json", status=200, mimetype="application/json")
    bearer = request.headers.get("Authorization", "")
    if failure == "401" or (
        request.args.get("api_key") != API_KEY and bearer != f"Bearer {READ_TOKEN}"
    ):
        return _json(
            {
                "status_code": 7,
                "status_message": "Invalid API key: You must be granted a valid key.",
                "success": False,
            },
            401,
        )
    if failure == "404":
        return _json({"status_code": 34, "status_message": "The resource could not be found."}, 404)
    if failure == "bad_shape":
        return _json(bad_shape(route(fake, request).get_json()))
    return route(fake, request)


def trickle(response: Response, interval: float, released: threading.Event) -> Response:
    """The same answer, its body sent one byte every `interval` seconds."""
    body = response.get_data()

    def drip() -> Any:
        for index in range(len(body)):
            if released.wait(interval):
                return
            yield body[index : index + 1]

    return Response(
        drip(),
        status=response.status_code,
        headers={"Content-Length": str(len(body))},
        mimetype="application/json",
    )


def unreachable_base_url() -> str:
    """A TMDb that is down: a loopback port nothing listens on (connections refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/3"


def bad_shape(body: Any) -> Any:
    """Valid JSON with one wrong type deep inside: the last movie's title is a number."""
    if isinstance(body, dict) and body.get("results"):
        body["results"][-1]["title"] = 12345
    elif isinstance(body, dict) and "genres" in body and "id" not in body:
        body["genres"][-1] = {"id": "not-a-number", "name": "Broken"}
    elif isinstance(body, dict):
        body["vote_count"] = "many"
    return body


def route(fake: FakeTMDb, request: Request) -> Response:
    path = request.path.removeprefix("/3")
    page = int(request.args.get("page", "1") or 1)
    ordered = sorted(fake.movies.values(), key=lambda movie: -movie["popularity"])
    if path == "/genre/movie/list":
        return _json({"genres": fake.genres})
    if path in ("/trending/movie/day", "/trending/movie/week", "/movie/popular"):
        return _json(_page(ordered, page, fake.page_size))
    if path == "/movie/top_rated":
        by_vote = sorted(fake.movies.values(), key=lambda movie: -movie["vote_average"])
        return _json(_page(by_vote, page, fake.page_size))
    if path == "/search/movie":
        query = request.args.get("query", "").lower()
        found = [movie for movie in ordered if query in movie["title"].lower()]
        year = request.args.get("year") or request.args.get("primary_release_year")
        if year:
            found = [movie for movie in found if (movie["release_date"] or "")[:4] == year]
        return _json(_page(found, page, fake.page_size))
    if path.startswith("/find/"):
        if request.args.get("external_source") != "imdb_id":
            return _json({"status_code": 22, "status_message": "Invalid parameters."}, 422)
        imdb_id = path.removeprefix("/find/")
        matches = [movie for movie in ordered if movie.get("imdb_id") == imdb_id]
        return _json(
            {
                "movie_results": [list_item(movie) for movie in matches],
                "person_results": [],
                "tv_results": [],
                "tv_episode_results": [],
                "tv_season_results": [],
            }
        )
    if path == "/movie/changes":
        return _json(_changes_page(fake, page))
    if path.startswith("/movie/"):
        try:
            tmdb_id = int(path.removeprefix("/movie/"))
        except ValueError:
            tmdb_id = -1
        movie = fake.movies.get(tmdb_id)
        if movie is not None:
            return _json(movie)
    return _json({"status_code": 34, "status_message": "The resource could not be found."}, 404)


class QuietRequestHandler(WSGIRequestHandler):
    """No access log: TMDb's own logs are not ours, and they would carry the key."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def start_fake_tmdb() -> FakeTMDb:
    """Serve a fake TMDb on 127.0.0.1 (a free port) in a background thread."""
    placeholder: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return placeholder["app"](environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    fake = FakeTMDb(server=server, thread=thread)
    placeholder["app"] = build_app(fake)
    fake.reset()
    thread.start()
    return fake
