"""`make e2e`: the real server (gunicorn, production config, a fresh migrated and seeded
SQLite database) looked at by a real browser (Debian's headless chromium).

Swagger UI at /api/docs/ must render every operation of the OpenAPI document from local
assets with no failed request and no script error; a staff member must be able to sign in
to /admin/ and see the movie list. Both pages are saved under docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import (
    LOCAL,
    Browser,
    Server,
    ensure_chromium,
    launch_browser,
    run_flask,
    start_server,
    stop_process,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}

STAFF_EMAIL = "staff@example.com"
STAFF_PASSWORD = secrets.token_urlsafe(16)
CREATE_STAFF = """
import sys
from app import create_app
from app.extensions import db
from app.services.accounts import create_user

app = create_app()
with app.app_context():
    create_user(email=sys.argv[1], username="staff", password=sys.argv[2],
                is_staff=True, is_superuser=True)
    db.session.commit()
"""


@pytest.fixture(scope="module")
def demo_movie_count() -> list[int]:
    return []


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, demo_movie_count: list[int]
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("e2e-server")
    (workdir / "metrics").mkdir()
    environment = {
        **os.environ,
        "FLASK_APP": "wsgi.py",
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite:///{workdir / 'e2e.db'}",
        "REDIS_URL": "",
        "TMDB_API_KEY": "",
        # Plain HTTP on loopback: a Secure cookie would never come back.
        "SESSION_COOKIE_SECURE": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
        "LOG_LEVEL": "WARNING",
    }
    run_flask(ROOT, environment, "db", "upgrade")
    seeded = run_flask(ROOT, environment, "seed-demo")
    movies = re.search(r"Movies: (\d+)", seeded)
    assert movies, seeded
    demo_movie_count.append(int(movies.group(1)))
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c", CREATE_STAFF, STAFF_EMAIL, STAFF_PASSWORD],
        cwd=ROOT,
        env=environment,
        check=True,
        timeout=60,
    )
    running = start_server(ROOT, environment, workdir / "gunicorn.log")
    yield running
    stop_process(running.process)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chromium = ensure_chromium()
    opened = launch_browser(chromium, tmp_path_factory.mktemp("chromium-profile"))
    yield opened
    opened.close()


def operation_count(server: Server) -> int:
    with LOCAL.open(f"{server.base_url}/api/openapi.json", timeout=10) as response:
        document = json.load(response)
    return sum(
        1
        for operations in document["paths"].values()
        for method in operations
        if method in HTTP_METHODS
    )


def assert_everything_loaded_locally(browser: Browser, server: Server) -> None:
    """Every request went to our server (no CDN) and got a non-error answer."""
    assert browser.requests, "the page made no request at all"
    foreign = [
        r.url for r in browser.requests.values() if not r.url.startswith((server.base_url, "data:"))
    ]
    # The browser's own favicon probe: no page asks for it and the API serves none.
    favicon = f"{server.base_url}/favicon.ico"
    failed = [
        (r.url, r.status, r.failure)
        for r in browser.requests.values()
        if (r.failure or (r.status is not None and r.status >= 400)) and r.url != favicon
    ]
    errors = [text for text in browser.console_errors if not text.endswith(favicon)]
    assert not foreign, f"requests left the server: {foreign}"
    assert not failed, f"failed requests: {failed}"
    assert not errors, f"errors in the page: {errors}"


def fill_in_the_admin_login_form(browser: Browser) -> None:
    """Sign in as the staff member on the login page shown, and wait for the next page."""
    loads = browser.loaded
    browser.evaluate(
        f"""(() => {{
            document.querySelector('input[name=email]').value = {json.dumps(STAFF_EMAIL)};
            document.querySelector('input[name=password]').value = {json.dumps(STAFF_PASSWORD)};
            document.querySelector('form[method=post] button[type=submit]').click();
        }})()"""
    )
    browser.wait_for_load(loads)


def call_api(server: Server, method: str, path: str, token: str = "", body: Any = None) -> Any:
    """One JSON request to the server's API; the decoded answer."""
    request = urllib.request.Request(
        f"{server.base_url}/api/v1/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **bearer(token)},
    )
    with LOCAL.open(request, timeout=30) as response:
        return json.load(response)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def test_swagger_ui_renders_every_operation_from_local_assets(
    browser: Browser, server: Server
) -> None:
    expected = operation_count(server)
    assert expected > 10

    browser.open(f"{server.base_url}/api/docs/")
    rendered = browser.wait_for(
        f"document.querySelectorAll('.opblock').length >= {expected} "
        "&& document.querySelectorAll('.opblock').length",
        timeout=30,
        what=f"Swagger UI to list {expected} operations",
    )
    browser.settle()

    assert rendered == expected
    title = browser.evaluate("document.querySelector('.information-container .title').textContent")
    assert title.startswith("Movie Recommendation API")
    assert browser.evaluate("document.querySelectorAll('.opblock-tag').length") >= 4
    assert_everything_loaded_locally(browser, server)
    browser.screenshot(SCREENSHOTS / "swagger-ui.png")


def test_staff_member_signs_in_to_the_admin_and_sees_the_movie_list(
    browser: Browser, server: Server, demo_movie_count: list[int]
) -> None:
    browser.open(f"{server.base_url}/admin/movies/")
    assert browser.evaluate("location.pathname") == "/admin/login/"

    fill_in_the_admin_login_form(browser)
    rows = browser.wait_for(
        "document.querySelectorAll('table.model-list tbody tr').length",
        timeout=30,
        what="the movie list",
    )
    browser.settle()

    assert browser.evaluate("location.pathname") == "/admin/movies/"
    assert rows == min(50, demo_movie_count[0])
    assert STAFF_EMAIL in browser.evaluate("document.querySelector('nav').textContent")
    cookies = browser.send("Network.getCookies", {"urls": [f"{server.base_url}/admin/"]})["cookies"]
    session_cookie = next(c for c in cookies if c["name"] == "admin_session")
    assert session_cookie["httpOnly"] is True
    assert session_cookie["sameSite"] == "Lax"
    assert_everything_loaded_locally(browser, server)
    browser.screenshot(SCREENSHOTS / "admin-movies.png")


def test_staff_member_sees_the_recommendation_metrics_as_charts(
    browser: Browser, server: Server
) -> None:
    # Lists served to the staff member (a member like any other) and a click on one.
    token = call_api(
        server, "POST", "auth/login/", body={"email": STAFF_EMAIL, "password": STAFF_PASSWORD}
    )["tokens"]["access"]
    for _ in range(2):
        served = call_api(server, "GET", "recommendations/?limit=10", token)["results"]
    call_api(server, "POST", f"recommendations/{served[0]['id']}/click/", token)
    figures = call_api(server, "GET", "recommendations/metrics/", token)["total"]
    assert (figures["impressions"], figures["clicks"]) == (20, 1)

    browser.open(f"{server.base_url}/admin/recommendation-metrics/")
    if browser.evaluate("location.pathname") == "/admin/login/":
        fill_in_the_admin_login_form(browser)
    charts = browser.wait_for(
        "document.querySelectorAll('#metrics-charts svg').length",
        timeout=30,
        what="the metrics charts",
    )
    browser.settle()

    assert browser.evaluate("location.pathname") == "/admin/recommendation-metrics/"
    assert charts == 5
    # The charts are drawn: each line has points, each bar a height.
    assert browser.evaluate("document.querySelectorAll('#metrics-charts polyline').length") == 4
    assert browser.evaluate(
        "[...document.querySelectorAll('#metrics-charts rect.bar')]"
        ".some(bar => bar.getBBox().height > 0)"
    )
    assert "5.0%" in browser.evaluate("document.querySelector('#metrics-table').textContent")
    assert_everything_loaded_locally(browser, server)
    browser.screenshot(SCREENSHOTS / "admin-recommendation-metrics.png")
