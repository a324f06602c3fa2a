"""The app factory, configuration, documentation and security headers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate

from config import check_worker_processes

ROOT = Path(__file__).resolve().parent.parent


def run_create_app(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "-c", "from app import create_app; create_app()"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_secrets() -> None:
    result = run_create_app({"APP_ENV": "production"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a random value" in result.stderr


def test_production_refuses_the_development_default_secret() -> None:
    result = run_create_app(
        {"APP_ENV": "production", "SECRET_KEY": "dev-secret-key", "JWT_SECRET_KEY": "x" * 40}
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_starts_with_strong_secrets() -> None:
    result = run_create_app(
        {"APP_ENV": "production", "SECRET_KEY": "s" * 48, "JWT_SECRET_KEY": "j" * 48}
    )
    assert result.returncode == 0, result.stderr


def test_unknown_app_env_is_refused_clearly() -> None:
    result = run_create_app({"APP_ENV": "staging"})
    assert result.returncode != 0
    assert "APP_ENV must be one of development, testing, production" in result.stderr


def test_openapi_document_is_valid_and_declares_bearer_auth(client: Any) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert client.get("/api/schema/").get_json() == spec


def test_every_operation_that_takes_a_token_documents_it_and_its_401(client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    secured = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters" or "security" not in operation:
                continue
            secured += 1
            assert {"bearerAuth": []} in operation["security"], (path, method)
            unauthorised = operation["responses"].get("401")
            assert unauthorised is not None, (path, method)
            schema = unauthorised["content"]["application/problem+json"]["schema"]
            assert schema["$ref"] == "#/components/schemas/Problem", (path, method)
    assert secured >= 30  # every personal endpoint, not a handful


def test_the_catalogue_list_documents_the_page_it_returns(client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/movies/movies/"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"] == "#/components/schemas/MovieListItemPage"
    assert operation["security"] == [{}, {"bearerAuth": []}]


def test_swagger_ui_is_served_with_local_assets_only(client: Any) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/docs/assets/swagger-ui-bundle.js" in html
    assert "//cdn" not in html and "unpkg" not in html and "jsdelivr" not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        response = client.get(f"/api/docs/assets/{asset}")
        assert response.status_code == 200, asset
        assert len(response.data) > 1000


def test_root_redirects_to_the_docs(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/api/docs/")


def test_security_headers_on_api_responses(client: Any) -> None:
    for path in ("/health/live/", "/api/v1/missing/"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert headers["X-Frame-Options"] == "DENY"


def test_cors_allows_only_configured_origins(client: Any) -> None:
    allowed = client.get("/api/openapi.json", headers={"Origin": "http://localhost:3000"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    refused = client.get("/api/openapi.json", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_gunicorn_refuses_several_workers_in_production_without_redis() -> None:
    clean = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "SECRET_KEY"}}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env={
            **clean,
            "APP_ENV": "production",
            "SECRET_KEY": "s" * 48,
            "JWT_SECRET_KEY": "j" * 48,
            "WEB_CONCURRENCY": "3",
            "GUNICORN_BIND": "127.0.0.1:0",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "3 worker processes without REDIS_URL" in result.stderr
    assert "set REDIS_URL, or run one worker" in result.stderr


def test_one_worker_or_redis_or_development_may_start() -> None:
    check_worker_processes(1, "production", "")
    check_worker_processes(5, "production", "redis://127.0.0.1:6379/0")
    check_worker_processes(5, "development", "")


def test_a_web_worker_loads_no_module_only_account_writes_or_jobs_need() -> None:
    """Building the app (what every gunicorn worker does) leaves out the password policy's
    dictionaries, ICU and the tuner's ALS library: memory a worker that only reads never
    needs (docs/scaling.md). Signing up still checks the password and the username."""
    lazy = ("zxcvbn", "icu", "implicit")
    script = (
        "import sys; from app import create_app; create_app(); "
        f"print(sorted(name for name in {lazy!r} if name in sys.modules))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.endswith("SECRET_KEY")}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**clean, "APP_ENV": "development", "REDIS_URL": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_gunicorn_workers_leave_out_the_migration_commands_and_alembic() -> None:
    """gunicorn.conf.py builds the workers' app without Flask-Migrate (so without Alembic:
    docs/scaling.md); any other app, the `flask` command's, keeps `flask db`."""
    modules = ("flask_migrate", "alembic")
    report = (
        "from app import create_app; app = create_app(); "
        f"print('db' in app.cli.commands, sorted(m for m in {modules!r} if m in sys.modules))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.endswith("SECRET_KEY")}
    env = {**clean, "APP_ENV": "development", "REDIS_URL": ""}
    outputs = []
    for setup in ("", "import runpy; runpy.run_path('gunicorn.conf.py'); "):
        result = subprocess.run(
            [sys.executable, "-c", f"import sys; {setup}{report}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout.strip().splitlines()[-1])
    assert outputs == ["True ['alembic', 'flask_migrate']", "False []"]
