"""Deployment settings: the PostgreSQL driver, gunicorn's bind ($PORT), .env files, and
the settings every reader of .env.example and the README is told about."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from sqlalchemy.engine import make_url

import config
from app.services.demo import DEMO_EMAIL, DEMO_PASSWORD
from app.services.startup import ready_message
from config import normalise_database_url

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
# Variables the tests below set themselves: never inherited from the caller's shell.
CONTROLLED = ("PORT", "GUNICORN_BIND", "WEB_CONCURRENCY", "DATABASE_URL", "JWT_ACCESS_MINUTES")


def clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CONTROLLED}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)  # no stray temporary folders
    env.update(values)
    return env


def run_with_gunicorn_conf(
    script: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`script` in a fresh Python run from `cwd`, given gunicorn.conf.py's path as argv[1]."""
    return subprocess.run(
        [sys.executable, "-c", script, str(GUNICORN_CONF)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def gunicorn_settings(cwd: Path, **values: str) -> dict[str, object]:
    """gunicorn.conf.py evaluated as gunicorn does, in a fresh process run from `cwd`."""
    script = (
        "import json, runpy, sys; settings = runpy.run_path(sys.argv[1]); "
        "print(json.dumps({k: settings[k] for k in ('bind', 'workers', 'preload_app')}))"
    )
    result = run_with_gunicorn_conf(script, cwd, clean_env(cwd, **values))
    result.check_returncode()
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgres_urls_use_psycopg2(scheme: str) -> None:
    url = normalise_database_url(f"{scheme}://app:secret@db.example:5432/movies")
    assert url == "postgresql+psycopg2://app:secret@db.example:5432/movies"
    assert make_url(url).get_dialect().driver == "psycopg2"


def test_other_database_urls_are_left_as_they_are() -> None:
    assert normalise_database_url("sqlite:///instance/movies.db") == "sqlite:///instance/movies.db"


def test_gunicorn_binds_localhost_8000_without_port(tmp_path: Path) -> None:
    assert gunicorn_settings(tmp_path)["bind"] == "127.0.0.1:8000"


def test_gunicorn_binds_every_interface_on_port_when_set(tmp_path: Path) -> None:
    assert gunicorn_settings(tmp_path, PORT="8123")["bind"] == "0.0.0.0:8123"


def test_gunicorn_bind_overrides_port(tmp_path: Path) -> None:
    settings = gunicorn_settings(tmp_path, PORT="8123", GUNICORN_BIND="127.0.0.1:9001")
    assert settings["bind"] == "127.0.0.1:9001"


def test_gunicorn_loads_the_app_once_before_forking(tmp_path: Path) -> None:
    assert gunicorn_settings(tmp_path)["preload_app"] is True


def test_gunicorn_master_settles_its_memory_before_forking_the_workers(tmp_path: Path) -> None:
    """When the master is ready (the app loaded and warmed), its surviving objects are
    frozen, so the workers' garbage collections leave the pages they share alone."""
    script = (
        "import gc, runpy, sys, types; settings = runpy.run_path(sys.argv[1]); "
        "from app import create_app; "
        "app = create_app('testing', SQLALCHEMY_DATABASE_URI='sqlite://'); "
        "log = types.SimpleNamespace(info=lambda message: None); "
        "server = types.SimpleNamespace(app=types.SimpleNamespace(callable=app), log=log); "
        "before = gc.get_freeze_count(); settings['when_ready'](server); "
        "print(before, gc.get_freeze_count())"
    )
    result = run_with_gunicorn_conf(script, ROOT, clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    before, after = map(int, result.stdout.split()[-2:])
    assert before == 0 and after > 0


@pytest.mark.parametrize(
    ("exit_code", "open_connections", "torn_down"), [(0, 0, False), (0, 1, True), (3, 0, True)]
)
def test_a_worker_that_stops_cleanly_leaves_at_once_and_others_exit_as_before(
    tmp_path: Path, exit_code: int, open_connections: int, torn_down: bool
) -> None:
    """A recycled worker skips Python's teardown, so the master replaces it at once; one
    still serving a request, or failing (3: gunicorn's boot error, on which the master
    halts), exits as before."""
    script = (
        "import atexit, runpy, sys, types\n"
        "settings = runpy.run_path(sys.argv[1])\n"
        "atexit.register(lambda: print('torn down'))\n"
        "server = types.SimpleNamespace(app=None)\n"
        f"worker = types.SimpleNamespace(booted=True, nr_conns={open_connections})\n"
        "try:\n"
        f"    sys.exit({exit_code})\n"
        "finally:\n"
        "    settings['worker_exit'](server, worker)\n"
    )
    result = run_with_gunicorn_conf(script, ROOT, clean_env(tmp_path))
    assert result.returncode == exit_code
    assert ("torn down" in result.stdout) is torn_down


@pytest.mark.parametrize("workers", [2, 5])
def test_gunicorn_workers_sharing_the_load_are_never_recycled_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # as gunicorn_settings does
    # Evaluated in this process: the web-worker settings it sets must not outlive the test.
    monkeypatch.setattr(config.Config, "MIGRATION_COMMANDS", config.Config.MIGRATION_COMMANDS)
    settings = runpy.run_path(str(GUNICORN_CONF))
    limit, staggered = settings["max_requests"], settings["staggered_max_requests"]
    assert limit > 0 and settings["max_requests_jitter"] == 0
    # Each worker slot's restarts, counted in requests served per worker (an even share of
    # the load): its first worker's limit, then a replacement's limit after each restart.
    restarts: list[int] = []
    for age in range(1, workers + 1):
        first = staggered(limit, workers, age)
        replacement = staggered(limit, workers, age + workers)
        restarts += [first + cycle * replacement for cycle in range(10)]
    restarts.sort()
    gaps = [later - earlier for earlier, later in itertools.pairwise(restarts)]
    assert min(gaps) >= limit // workers


class FakeRequest:
    """What gunicorn's pre_request hook reads of a request, and the flag it sets."""

    method, path = "GET", "/api/v1/movies/movies/"

    def __init__(self, req_number: int) -> None:
        self.req_number = req_number  # its position on its keep-alive connection, from 1
        self.must_close = False


def test_a_keep_alive_connection_is_closed_after_its_share_of_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(config.Config, "MIGRATION_COMMANDS", config.Config.MIGRATION_COMMANDS)
    monkeypatch.setenv("GUNICORN_MAX_REQUESTS_PER_CONNECTION", "25")
    pre_request = runpy.run_path(str(GUNICORN_CONF))["pre_request"]
    worker = SimpleNamespace(log=logging.getLogger("gunicorn.error"))
    served = [FakeRequest(number) for number in (1, 24, 25)]
    for request in served:
        pre_request(worker, request)
    # gunicorn answers the 25th with `Connection: close`; the client reconnects, to any worker.
    assert [request.must_close for request in served] == [False, False, True]

    monkeypatch.setenv("GUNICORN_MAX_REQUESTS_PER_CONNECTION", "0")
    never = runpy.run_path(str(GUNICORN_CONF))["pre_request"]
    request = FakeRequest(10_000)
    never(worker, request)
    assert request.must_close is False


def test_gunicorn_reads_dot_env_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=8124\nWEB_CONCURRENCY=3\n")
    settings = gunicorn_settings(tmp_path)
    assert settings["bind"] == "0.0.0.0:8124"
    assert settings["workers"] == 3
    assert gunicorn_settings(tmp_path, PORT="8125")["bind"] == "0.0.0.0:8125"


def test_app_settings_come_from_dot_env_and_empty_values_mean_the_default(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text(
        "# a comment\nDATABASE_URL=postgres://app@db.example/movies\nJWT_ACCESS_MINUTES=\n"
    )
    script = (
        "import json, config; print(json.dumps([config.Config.SQLALCHEMY_DATABASE_URI, "
        "config.Config.JWT_ACCESS_MINUTES]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=clean_env(tmp_path, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    url, minutes = json.loads(result.stdout.strip().splitlines()[-1])
    assert url == "postgresql+psycopg2://app@db.example/movies"
    assert minutes == 60


def test_flask_cli_migrates_the_database_named_in_dot_env(tmp_path: Path) -> None:
    database = tmp_path / "from-dot-env.db"
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{database}\n")
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "flask"), "db", "upgrade"],
        cwd=tmp_path,
        env=clean_env(tmp_path, FLASK_APP=str(ROOT / "wsgi.py")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert database.exists() and database.stat().st_size > 0


def settings_read_by(path: Path) -> set[str]:
    text = path.read_text()
    return set(re.findall(r'(?:env_\w+|os\.environ\.get)\(\s*"([A-Z][A-Z0-9_]*)"', text))


def test_every_setting_is_in_env_example_and_the_readme() -> None:
    settings = settings_read_by(ROOT / "config.py") | settings_read_by(GUNICORN_CONF)
    assert {"DATABASE_URL", "SECRET_KEY", "PORT", "WEB_CONCURRENCY"} <= settings
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    missing_in_example = {name for name in settings if f"# {name}=" not in example}
    missing_in_readme = {name for name in settings if f"`{name}`" not in readme}
    assert missing_in_example == set()
    assert missing_in_readme == set()


def test_ready_line_names_the_docs_and_the_demo_login(app: Flask, runner) -> None:  # type: ignore[no-untyped-def]
    base = "http://127.0.0.1:8000"
    assert ready_message(app, base) == f"Ready: API docs at {base}/api/docs/"
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert ready_message(app, base) == (
        f"Ready: API docs at {base}/api/docs/ - demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}"
    )


def test_ready_line_never_shows_the_demo_login_in_production(
    app: Flask,
    runner,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    monkeypatch.setitem(app.config, "APP_ENV", "production")
    assert DEMO_PASSWORD not in ready_message(app, "http://127.0.0.1:8000")
