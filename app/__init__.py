"""The application factory: create_app() reads as a table of contents."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import orjson
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import DataError

from app.admin import init_admin
from app.api import register_http_caching
from app.auth_callbacks import register_jwt_callbacks
from app.blueprints.auth import blp as auth_blp
from app.blueprints.favorites import blp as favorites_blp
from app.blueprints.health import blp as health_blp
from app.blueprints.movies import blp as movies_blp
from app.blueprints.recommendations import blp as recommendations_blp
from app.cli import register_cli
from app.database_timeouts import (
    engine_options,
    install_deadlines,
    is_postgres,
    statement_timeout_ms,
)
from app.errors import register_error_handlers
from app.extensions import api, cache, cors, db, jwt, limiter
from app.json_provider import OrjsonProvider
from app.observability import (
    configure_logging,
    register_metrics_endpoint,
    register_request_tracking,
)
from app.ratelimit import (
    RATE_LIMIT_HEADERS,
    exempt_blueprints,
    rate_limit_storage_uri,
    register_rate_limit_headers,
)
from app.redis_connections import redis_client_options
from app.security import TrustedProxyFix, register_json_depth_limit, register_security_headers
from app.services.catalogue_cache import register_session_listeners
from app.services.recommendation.model_versions import register_training_request_hook
from app.tasks.runner import celery_init_app, request_retraining
from config import INSTANCE_DIR, MIGRATIONS_DIR, get_config

# Response headers a browser lets the front end's script read (CORS hides the others).
EXPOSED_HEADERS = ["ETag", "Link", "Retry-After", "X-Request-ID", *RATE_LIMIT_HEADERS]


def create_app(config_name: str | None = None, **overrides: Any) -> Flask:
    """Build the app for `config_name` (or APP_ENV), with optional config overrides."""
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.json = OrjsonProvider(app)
    app.config.from_object(get_config(config_name))
    app.config.update(overrides)
    configure_logging(app)
    configure_proxy(app)
    register_request_tracking(app)
    # Before the rate limiter's hook, whose key functions read the JSON body.
    register_json_depth_limit(app)
    # Before the extensions, so that it runs after flask-cors's hook (see its docstring).
    register_http_caching(app)
    register_extensions(app)
    register_metrics_endpoint(app)
    register_blueprints(app)
    init_admin(app)
    register_error_handlers(app)
    register_security_headers(app)
    register_commands(app)
    return app


def configure_proxy(app: Flask) -> None:
    """Trust X-Forwarded-* only from the proxies in FORWARDED_ALLOW_IPS (none by default),
    through TRUSTED_PROXY_COUNT hops (1 unless set)."""
    allowed = app.config["FORWARDED_ALLOW_IPS"]
    if allowed:
        hops = app.config["TRUSTED_PROXY_COUNT"] or 1
        app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, allowed, x_for=hops, x_proto=hops, x_host=hops
        )


def register_extensions(app: Flask) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    # JSON columns (and PostgreSQL's json results) decoded by orjson, as responses are encoded.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        "json_deserializer": orjson.loads,
        **engine_options(app.config),
    }
    db.init_app(app)
    if is_postgres(app.config["SQLALCHEMY_DATABASE_URI"]):
        with app.app_context():
            install_deadlines(
                db.engine,
                statement_timeout_ms(app.config),
                ping_after_idle=app.config["DATABASE_PING_AFTER_IDLE_SECONDS"],
            )
    if app.config["MIGRATION_COMMANDS"]:
        register_migrations(app)
    configure_jwt(app)
    jwt.init_app(app)
    register_jwt_callbacks(jwt)
    cache.init_app(app, config=cache_config(app))
    configure_page_cache(app)
    register_session_listeners()
    cors.init_app(
        app,
        resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
        expose_headers=EXPOSED_HEADERS,
        allow_headers=["Authorization", "Content-Type", "If-None-Match"],
    )
    configure_rate_limit_storage(app)
    limiter.init_app(app)
    register_rate_limit_headers(app, limiter)
    api.init_app(app)
    celery_init_app(app)
    register_training_request_hook(app, request_retraining)


def register_migrations(app: Flask) -> None:
    """Flask-Migrate: the `flask db` commands, and `flask_migrate.upgrade()` in-process.
    Imported here, not with the app: it brings Alembic, which a web worker never uses."""
    from flask_migrate import Migrate

    Migrate(
        app,
        db,
        directory=str(MIGRATIONS_DIR),
        render_as_batch=True,  # SQLite can only ALTER tables by copying them
        compare_type=True,
    )


def cache_config(app: Flask) -> dict[str, Any]:
    """Redis when REDIS_URL is set (a failure there is a miss), an in-process cache otherwise."""
    if app.config["REDIS_URL"]:
        return {
            "CACHE_TYPE": "app.resilient_cache.ResilientRedisCache",
            "CACHE_REDIS_URL": app.config["REDIS_URL"],
            "CACHE_OPTIONS": redis_client_options(app.config),
        }
    return {"CACHE_TYPE": "SimpleCache"}


def configure_rate_limit_storage(app: Flask) -> None:
    """Counters in Redis when REDIS_URL is set; while Redis is down, Flask-Limiter counts in
    each process (and logs a warning) and goes back to Redis once it answers again."""
    config = app.config
    redis_url = config["REDIS_URL"]
    config.setdefault(
        "RATELIMIT_STORAGE_URI", rate_limit_storage_uri(redis_url) if redis_url else "memory://"
    )
    if "redis" in config["RATELIMIT_STORAGE_URI"].split("://", 1)[0]:
        config.setdefault("RATELIMIT_STORAGE_OPTIONS", redis_client_options(config))
        config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)


def configure_page_cache(app: Flask) -> None:
    """Unless set, catalogue pages are cached only in Redis: an in-process cache would keep
    them in each worker, out of reach of the invalidations made by the others."""
    if app.config.get("CATALOGUE_PAGE_CACHE_SECONDS") is None:
        app.config["CATALOGUE_PAGE_CACHE_SECONDS"] = 60 if app.config["REDIS_URL"] else 0


def configure_jwt(app: Flask) -> None:
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = timedelta(minutes=app.config["JWT_ACCESS_MINUTES"])
    app.config["JWT_REFRESH_TOKEN_EXPIRES"] = timedelta(days=app.config["JWT_REFRESH_DAYS"])


def register_blueprints(app: Flask) -> None:
    api.register_blueprint(auth_blp, url_prefix="/api/v1/auth")
    api.register_blueprint(movies_blp, url_prefix="/api/v1/movies")
    api.register_blueprint(favorites_blp, url_prefix="/api/v1/favorites")
    api.register_blueprint(recommendations_blp, url_prefix="/api/v1/recommendations")
    api.register_blueprint(health_blp, url_prefix="/health")
    # Probes and documentation are never throttled: load balancers and browsers poll them.
    exempt_blueprints(app, health_blp.name, *(n for n in app.blueprints if n.endswith("api-docs")))
    for endpoint in ("swagger_assets", "openapi_schema", "root", "metrics"):
        if endpoint in app.view_functions:
            limiter.exempt(app.view_functions[endpoint])


def register_commands(app: Flask) -> None:
    register_cli(app)


@event.listens_for(Engine, "connect")
def configure_sqlite_connection(dbapi_connection: Any, connection_record: Any) -> None:
    """Foreign keys on, and let SQLAlchemy drive transactions so SAVEPOINTs work."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


@event.listens_for(Engine, "begin")
def begin_sqlite_transaction(connection: Any) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")


@event.listens_for(Engine, "handle_error")
def report_nul_characters_as_bad_data(context: ExceptionContext) -> None:
    """psycopg2 refuses a string holding a NUL character (which PostgreSQL cannot store)
    with a plain ValueError: raise it as the DataError (a 400) that any bad value is."""
    error = context.original_exception
    if isinstance(error, ValueError) and "NUL (0x00)" in str(error):
        raise DataError(context.statement, context.parameters, error) from error
