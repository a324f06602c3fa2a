"""Settings for every environment, read from the environment in this one place."""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"
MIGRATIONS_DIR = BASE_DIR / "migrations"

# Values that must never reach production: the development defaults below.
INSECURE_DEFAULT_SECRETS = {"", "dev-secret-key", "dev-jwt-secret-key", "change-me"}


def load_dotenv_file(path: Path | str | None = None) -> bool:
    """Read KEY=value lines from `.env` in the working directory (or `path`) into the
    environment; a variable already set keeps its value. True when a file was read."""
    return load_dotenv(Path(path) if path is not None else Path.cwd() / ".env", override=False)


# `flask` (which reads .env itself), gunicorn and scripts all import this module first.
load_dotenv_file()


def env_str(name: str, default: str = "") -> str:
    """The variable's value; unset or empty (as in `NAME=` in .env) means the default."""
    return os.environ.get(name) or default


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_optional_int(name: str) -> int | None:
    value = os.environ.get(name)
    return None if value in (None, "") else int(value)


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if value in (None, "") else float(value)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def normalise_database_url(url: str) -> str:
    """Use psycopg2 for postgres:// and postgresql:// URLs (Heroku-style URLs included)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


class ConfigurationError(RuntimeError):
    """Raised when the environment asks for an unsafe or impossible configuration."""


class Config:
    APP_ENV = "development"
    DEBUG = False
    TESTING = False

    SECRET_KEY = env_str("SECRET_KEY", "dev-secret-key")
    JWT_SECRET_KEY = env_str("JWT_SECRET_KEY", "dev-jwt-secret-key")

    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        env_str("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'movies.db'}")
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, object] = {}
    SQLALCHEMY_RECORD_QUERIES = False
    # Bounded time on PostgreSQL (app/database_timeouts.py): seconds to open a connection,
    # to wait for a free pooled one, and the longest statement a web request may run
    # (milliseconds; enforced by the server, and on the client when the server is frozen).
    # `flask` commands use DATABASE_CLI_STATEMENT_TIMEOUT_MS instead (0: no limit).
    DATABASE_CONNECT_TIMEOUT = env_int("DATABASE_CONNECT_TIMEOUT", 2)
    DATABASE_POOL_TIMEOUT = env_float("DATABASE_POOL_TIMEOUT", 2.0)
    DATABASE_STATEMENT_TIMEOUT_MS = env_int("DATABASE_STATEMENT_TIMEOUT_MS", 3000)
    DATABASE_CLI_STATEMENT_TIMEOUT_MS = env_int("DATABASE_CLI_STATEMENT_TIMEOUT_MS", 0)
    # A pooled PostgreSQL connection idle this long is pinged (SELECT 1) before it is handed
    # out; one returned sooner is not (0: ping every checkout).
    DATABASE_PING_AFTER_IDLE_SECONDS = env_float("DATABASE_PING_AFTER_IDLE_SECONDS", 1.0)

    REDIS_URL = env_str("REDIS_URL")
    # Seconds to connect to or hear from Redis before it counts as down; the cache then
    # skips Redis for CACHE_RETRY_SECONDS, the rate limiter counts in-process.
    REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 0.5)
    CACHE_RETRY_SECONDS = env_float("CACHE_RETRY_SECONDS", 5.0)
    # /health/ready/ answers within this many seconds, whatever its dependencies do.
    READINESS_TIMEOUT = env_float("READINESS_TIMEOUT", 1.5)
    # gunicorn's worker timeout (gunicorn.conf.py reads the same variable): every
    # deadline on another system must end before it.
    GUNICORN_TIMEOUT = env_int("GUNICORN_TIMEOUT", 30)
    GUNICORN_THREADS = env_int("GUNICORN_THREADS", 4)

    # Largest request body accepted, in bytes (a review of 5,000 characters fits many times).
    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 1024 * 1024)

    # History imports (POST /api/v1/favorites/imports/): the largest file accepted, in bytes
    # (this route's own request limit, above MAX_CONTENT_LENGTH), and how many times that a
    # ZIP may unpack to.
    IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 10 * 1024 * 1024)
    IMPORT_MAX_UNPACK_RATIO = env_int("IMPORT_MAX_UNPACK_RATIO", 10)

    # JWT
    JWT_ACCESS_MINUTES = env_int("JWT_ACCESS_MINUTES", 60)
    JWT_REFRESH_DAYS = env_int("JWT_REFRESH_DAYS", 7)
    JWT_TOKEN_LOCATION = ["headers"]
    JWT_ERROR_MESSAGE_KEY = "detail"

    # CORS
    CORS_ORIGINS = env_list(
        "CORS_ORIGINS",
        "http://localhost:3000,http://localhost:8080,http://localhost:4200",
    )

    # Rate limits (Flask-Limiter reads RATELIMIT_*).
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_ANONYMOUS = env_str("RATELIMIT_ANONYMOUS", "100/hour")
    RATELIMIT_USER = env_str("RATELIMIT_USER", "1000/hour")
    # Login attempts per account and address, per address, and per account (README).
    RATELIMIT_LOGIN = env_str("RATELIMIT_LOGIN", "10/minute")
    RATELIMIT_LOGIN_ADDRESS = env_str("RATELIMIT_LOGIN_ADDRESS", "30/minute")
    RATELIMIT_LOGIN_ACCOUNT = env_str("RATELIMIT_LOGIN_ACCOUNT", "100/hour")
    RATELIMIT_REGISTER = env_str("RATELIMIT_REGISTER", "10/minute")

    # Argon2id password hashing cost (argon2-cffi's RFC 9106 low-memory profile by default).
    # Hashes made with other parameters are upgraded at the next login.
    # OWASP's Argon2id baseline (19 MiB, 2 iterations, 1 lane): about 30 ms a hash on the
    # project machine, where argon2-cffi's default (64 MiB, 3, 4 lanes) took 170 ms of both
    # cores and made every login a latency spike for everyone else.
    ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 2)
    ARGON2_MEMORY_KIB = env_int("ARGON2_MEMORY_KIB", 19456)
    ARGON2_PARALLELISM = env_int("ARGON2_PARALLELISM", 1)
    # X-RateLimit-Limit, -Remaining and -Reset on every response (app/ratelimit.py sends them:
    # Flask-Limiter's own would also put its window's Retry-After on every response, even a
    # 200 or a 503 that has its own; the 429 handler sets Retry-After itself).
    RATELIMIT_HEADERS_ENABLED = env_bool("RATELIMIT_HEADERS_ENABLED", True)
    # Addresses or networks of the reverse proxies whose X-Forwarded-* headers are trusted
    # (comma-separated; empty: nobody's), and how many proxy hops they add (0 means 1).
    FORWARDED_ALLOW_IPS = env_list("FORWARDED_ALLOW_IPS", "")
    TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
    # Set both to build absolute URLs (pagination links) from them, never from Host.
    SERVER_NAME = env_str("SERVER_NAME") or None
    PREFERRED_URL_SCHEME = env_str("PREFERRED_URL_SCHEME", "http")

    # TMDb
    TMDB_API_KEY = env_str("TMDB_API_KEY")
    TMDB_BASE_URL = env_str("TMDB_BASE_URL", "https://api.themoviedb.org/3")
    TMDB_IMAGE_BASE_URL = env_str("TMDB_IMAGE_BASE_URL", "https://image.tmdb.org/t/p/w500")
    TMDB_LANGUAGE = env_str("TMDB_LANGUAGE", "en-US")
    TMDB_CONNECT_TIMEOUT = env_float("TMDB_CONNECT_TIMEOUT", 3.05)
    TMDB_READ_TIMEOUT = env_float("TMDB_READ_TIMEOUT", 10.0)
    TMDB_MAX_RETRIES = env_int("TMDB_MAX_RETRIES", 3)
    TMDB_BACKOFF_FACTOR = env_float("TMDB_BACKOFF_FACTOR", 0.5)
    # Longest Retry-After (seconds) the client will wait before giving up on a 429.
    TMDB_MAX_RETRY_AFTER = env_float("TMDB_MAX_RETRY_AFTER", 10.0)
    # One deadline for a whole TMDb call (connects, slow bodies, retries, Retry-After
    # waits); past it the request answers 503 tmdb_unavailable.
    TMDB_TOTAL_DEADLINE = env_float("TMDB_TOTAL_DEADLINE", 8.0)
    # TMDb calls in flight per process at most; more answer 503 at once, so a slow TMDb
    # never holds every thread of a worker (liveness and the rest of the API keep one).
    TMDB_MAX_CONCURRENT_CALLS = env_int(
        "TMDB_MAX_CONCURRENT_CALLS", max(1, env_int("GUNICORN_THREADS", 4) // 2)
    )
    TMDB_CACHE_LIST_SECONDS = env_int("TMDB_CACHE_LIST_SECONDS", 60 * 60)
    TMDB_CACHE_DETAILS_SECONDS = env_int("TMDB_CACHE_DETAILS_SECONDS", 24 * 60 * 60)
    TMDB_CACHE_GENRES_SECONDS = env_int("TMDB_CACHE_GENRES_SECONDS", 7 * 24 * 60 * 60)

    # Recommendation engine weights. The original engine's (0.45, 0.20, 0.15, 0.10, 0.10) let
    # genre swamp the learned signal; these double NDCG@10 offline (docs/recommendations.md).
    RECOMMENDER_WEIGHT_GENRE = env_float("RECOMMENDER_WEIGHT_GENRE", 0.20)
    RECOMMENDER_WEIGHT_QUALITY = env_float("RECOMMENDER_WEIGHT_QUALITY", 0.10)
    RECOMMENDER_WEIGHT_POPULARITY = env_float("RECOMMENDER_WEIGHT_POPULARITY", 0.15)
    RECOMMENDER_WEIGHT_RECENCY = env_float("RECOMMENDER_WEIGHT_RECENCY", 0.10)
    RECOMMENDER_WEIGHT_COLLABORATIVE = env_float("RECOMMENDER_WEIGHT_COLLABORATIVE", 0.45)
    RECOMMENDER_BATCH_SIZE = env_int("RECOMMENDER_BATCH_SIZE", 20)
    # New positive interactions since the current model version was trained that make a new
    # version due (`flask recommender train --if-due`, the retrain job).
    RECOMMENDER_REBUILD_AFTER = env_int("RECOMMENDER_REBUILD_AFTER", 500)
    # Each web worker looks up which model version is current (one indexed query) at most
    # this often, and loads a newer one; 0 looks on every call.
    RECOMMENDER_MODEL_CHECK_SECONDS = env_float("RECOMMENDER_MODEL_CHECK_SECONDS", 5.0)
    # Users held out in a model's offline validation at training time (the most recently
    # active); bounds the validation's cost at any scale.
    RECOMMENDER_VALIDATION_USERS = env_int("RECOMMENDER_VALIDATION_USERS", 500)
    # The recommender checks whether the catalogue changed (one aggregate query) at most this
    # often per process; 0 checks on every call.
    RECOMMENDER_CATALOGUE_CHECK_SECONDS = env_float("RECOMMENDER_CATALOGUE_CHECK_SECONDS", 10.0)
    # `flask recommender tune`: default time budget of the search, in seconds, and the least
    # catalogue coverage@10 its choice must reach on validation (never below the defaults').
    RECOMMENDER_TUNE_BUDGET_SECONDS = env_float("RECOMMENDER_TUNE_BUDGET_SECONDS", 300.0)
    RECOMMENDER_TUNE_MIN_COVERAGE = env_float("RECOMMENDER_TUNE_MIN_COVERAGE", 0.0)
    # The `recommender.tune` job runs this often under celery beat (0: never on a schedule);
    # the next training then learns with what it chose.
    JOBS_TUNE_INTERVAL_SECONDS = env_int("JOBS_TUNE_INTERVAL_SECONDS", 7 * 24 * 3600)

    # Background jobs on Celery (docs/jobs.md). The broker, e.g. redis://127.0.0.1:6379/1;
    # empty: no broker, and the same jobs run in-process (from the CLI, or after the
    # response of the request that asked for them).
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
    # The queue jobs are sent to and workers read (deployments sharing a broker differ here).
    CELERY_QUEUE = env_str("CELERY_QUEUE", "celery")
    # Run every job inline where it is enqueued (the tests; never in production).
    CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
    # A job that failed for a passing reason (TMDb or the database down) is tried again
    # this many times, after 2, 4, 8... seconds (at most JOBS_RETRY_BACKOFF_MAX_SECONDS).
    JOBS_MAX_RETRIES = env_int("JOBS_MAX_RETRIES", 5)
    JOBS_RETRY_BACKOFF_MAX_SECONDS = env_int("JOBS_RETRY_BACKOFF_MAX_SECONDS", 600)
    # Retraining: when this many interactions (favorites, ratings) were added since the last
    # training (checked every JOBS_RETRAIN_CHECK_SECONDS), and every
    # JOBS_RETRAIN_INTERVAL_SECONDS whatever happened.
    JOBS_RETRAIN_AFTER_INTERACTIONS = env_int("JOBS_RETRAIN_AFTER_INTERACTIONS", 500)
    JOBS_RETRAIN_CHECK_SECONDS = env_int("JOBS_RETRAIN_CHECK_SECONDS", 60)
    JOBS_RETRAIN_INTERVAL_SECONDS = env_int("JOBS_RETRAIN_INTERVAL_SECONDS", 24 * 60 * 60)
    # Precompute: every JOBS_PRECOMPUTE_INTERVAL_SECONDS, regenerate the stale batches of
    # users who signed in within JOBS_PRECOMPUTE_ACTIVE_DAYS (at most
    # JOBS_PRECOMPUTE_MAX_USERS a run, most recent first). `flask recommend --all` sends
    # JOBS_RECOMMEND_CHUNK_SIZE users per task.
    JOBS_PRECOMPUTE_INTERVAL_SECONDS = env_int("JOBS_PRECOMPUTE_INTERVAL_SECONDS", 300)
    JOBS_PRECOMPUTE_ACTIVE_DAYS = env_int("JOBS_PRECOMPUTE_ACTIVE_DAYS", 14)
    JOBS_PRECOMPUTE_MAX_USERS = env_int("JOBS_PRECOMPUTE_MAX_USERS", 2000)
    JOBS_RECOMMEND_CHUNK_SIZE = env_int("JOBS_RECOMMEND_CHUNK_SIZE", 100)
    # TMDb upkeep (scheduled only when TMDB_API_KEY is set): the changes sync, and the list
    # sync of JOBS_TMDB_SYNC_PAGES pages per list with the missing details; seconds paused
    # between TMDb calls.
    JOBS_TMDB_CHANGES_INTERVAL_SECONDS = env_int("JOBS_TMDB_CHANGES_INTERVAL_SECONDS", 6 * 3600)
    JOBS_TMDB_PAGES_INTERVAL_SECONDS = env_int("JOBS_TMDB_PAGES_INTERVAL_SECONDS", 24 * 3600)
    JOBS_TMDB_SYNC_PAGES = env_int("JOBS_TMDB_SYNC_PAGES", 5)
    JOBS_TMDB_SLEEP_SECONDS = env_float("JOBS_TMDB_SLEEP_SECONDS", 0.25)

    # Impressions: every served list of recommendations is logged (one INSERT per request)
    # for the online metrics (docs/recommendation-metrics.md).
    RECOMMENDATION_IMPRESSIONS_ENABLED = env_bool("RECOMMENDATION_IMPRESSIONS_ENABLED", True)
    # `flask prune-impressions` deletes impressions (and their outcomes) older than this.
    RECOMMENDATION_IMPRESSION_RETENTION_DAYS = env_int(
        "RECOMMENDATION_IMPRESSION_RETENTION_DAYS", 90
    )
    # An outcome (click, favourite, rating...) counts for the latest impression of its movie
    # shown to the user at most this many days before.
    RECOMMENDATION_OUTCOME_WINDOW_DAYS = env_int("RECOMMENDATION_OUTCOME_WINDOW_DAYS", 7)
    # The model version stamped on impressions; empty: the served one, hybrid-<family>@v<id>.
    RECOMMENDATION_MODEL_VERSION = env_str("RECOMMENDATION_MODEL_VERSION", "")

    # Cache
    CACHE_DEFAULT_TIMEOUT = env_int("CACHE_DEFAULT_TIMEOUT", 300)
    # How long GET movies/genres/ reuses its movie counts (0: count on every request).
    GENRE_COUNTS_CACHE_SECONDS = env_int("GENRE_COUNTS_CACHE_SECONDS", 60)
    # How long a page of GET movies/ may be reused (0: never). Any catalogue change made
    # through this app invalidates the pages at once; this bounds everything else. Unset: 60
    # with Redis, 0 with the in-process cache, which other workers' changes cannot reach.
    CATALOGUE_PAGE_CACHE_SECONDS = env_optional_int("CATALOGUE_PAGE_CACHE_SECONDS")
    # How long a worker reuses the catalogue generation it read from the cache (0: read it on
    # every page). Its own changes it sees at once; another worker's, within this many
    # seconds: far less than HTTP_CACHE_MAX_AGE, which lets clients reuse a page anyway.
    CATALOGUE_GENERATION_CHECK_SECONDS = env_float("CATALOGUE_GENERATION_CHECK_SECONDS", 1.0)
    # Seconds browsers and shared caches may reuse an anonymous catalogue read
    # (Cache-Control: public, max-age=N); ETags revalidate it after that.
    HTTP_CACHE_MAX_AGE = env_int("HTTP_CACHE_MAX_AGE", 60)

    # OpenAPI / Swagger UI (assets served locally, never from a CDN)
    API_TITLE = "Movie Recommendation API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs/"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"

    # Staff admin (/admin/): a server-side session (Flask-Session) whose cookie only /admin sees,
    # and CSRF tokens on its forms. The JSON API uses Bearer tokens: no cookie, no CSRF check.
    SESSION_COOKIE_NAME = "admin_session"
    SESSION_COOKIE_PATH = "/admin"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
    ADMIN_SESSION_HOURS = env_int("ADMIN_SESSION_HOURS", 8)
    WTF_CSRF_CHECK_DEFAULT = False  # app/admin checks every /admin form itself
    WTF_CSRF_TIME_LIMIT = None  # a token lives as long as the admin session
    ADMIN_PAGE_SIZE = env_int("ADMIN_PAGE_SIZE", 50)

    LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
    # Bind Flask-Migrate (the `flask db` commands, and Alembic with them: 10 MiB and 0.15 s
    # of import). gunicorn.conf.py turns it off: a web worker serves, the release step
    # migrates.
    MIGRATION_COMMANDS = True
    # Set (to an empty, writable folder) under gunicorn so /metrics adds up all workers.
    PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")
    # Bearer token a scraper sends to read /metrics. Unset: open in development, and not
    # served at all in production.
    METRICS_TOKEN = env_str("METRICS_TOKEN")

    @classmethod
    def validate(cls) -> None:
        """Refuse configurations that are unsafe for this environment."""
        validate_deadlines(cls)


def validate_deadlines(config: type[Config]) -> None:
    """Every deadline on another system ends before gunicorn kills the worker."""
    if not 0 < config.TMDB_TOTAL_DEADLINE < config.GUNICORN_TIMEOUT:
        raise ConfigurationError(
            f"TMDB_TOTAL_DEADLINE ({config.TMDB_TOTAL_DEADLINE}) must be above 0 and below "
            f"the worker timeout GUNICORN_TIMEOUT ({config.GUNICORN_TIMEOUT})."
        )
    statement_seconds = config.DATABASE_STATEMENT_TIMEOUT_MS / 1000
    if statement_seconds >= config.GUNICORN_TIMEOUT:
        raise ConfigurationError(
            f"DATABASE_STATEMENT_TIMEOUT_MS ({config.DATABASE_STATEMENT_TIMEOUT_MS}) must be "
            f"below the worker timeout GUNICORN_TIMEOUT ({config.GUNICORN_TIMEOUT} s)."
        )


class DevelopmentConfig(Config):
    APP_ENV = "development"
    DEBUG = env_bool("FLASK_DEBUG", False)


class TestingConfig(Config):
    APP_ENV = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key-not-for-production"
    JWT_SECRET_KEY = "testing-jwt-secret-key-not-for-production-use"
    # One SQLite file per test process, so parallel runs never share (or delete) a database.
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        env_str("TEST_DATABASE_URL", f"sqlite:///{INSTANCE_DIR / f'test-{os.getpid()}.db'}")
    )
    REDIS_URL = env_str("TEST_REDIS_URL")
    # The limiter stays on (as in production) with limits no test reaches by accident;
    # throttling tests lower them with monkeypatch.setitem(app.config, ...).
    GENRE_COUNTS_CACHE_SECONDS = 0
    RATELIMIT_ANONYMOUS = "100000/hour"
    RATELIMIT_USER = "100000/hour"
    RATELIMIT_LOGIN = "100000/hour"
    RATELIMIT_LOGIN_ADDRESS = "100000/hour"
    RATELIMIT_LOGIN_ACCOUNT = "100000/hour"
    RATELIMIT_REGISTER = "100000/hour"
    # Cheap hashing: the suite creates hundreds of users (production keeps the defaults).
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_KIB = 1024
    ARGON2_PARALLELISM = 1
    TMDB_API_KEY = "test-tmdb-key"
    TMDB_BASE_URL = "http://127.0.0.1:9/3"  # replaced by the fake server's address in tests
    TMDB_MAX_RETRIES = 2
    TMDB_BACKOFF_FACTOR = 0.0
    TMDB_READ_TIMEOUT = 1.0
    TMDB_MAX_RETRY_AFTER = 2.0
    TMDB_TOTAL_DEADLINE = 4.0
    TMDB_MAX_CONCURRENT_CALLS = 8
    # Jobs run inline, and TMDb syncs do not pause between calls.
    CELERY_BROKER_URL = ""
    CELERY_TASK_ALWAYS_EAGER = True
    JOBS_TMDB_SLEEP_SECONDS = 0.0
    # Tests see every catalogue change and every new model version at once.
    RECOMMENDER_CATALOGUE_CHECK_SECONDS = 0.0
    RECOMMENDER_MODEL_CHECK_SECONDS = 0.0
    CATALOGUE_GENERATION_CHECK_SECONDS = 0.0


class ProductionConfig(Config):
    APP_ENV = "production"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)

    @classmethod
    def validate(cls) -> None:
        validate_deadlines(cls)
        for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
            value = getattr(cls, name)
            if value in INSECURE_DEFAULT_SECRETS or len(value) < 32:
                raise ConfigurationError(
                    f"{name} must be set to a random value of at least 32 characters in "
                    f"production (for example: python -c 'import secrets; "
                    f"print(secrets.token_urlsafe(48))')."
                )


def check_worker_processes(workers: int, app_env: str, redis_url: str) -> None:
    """Refuse several worker processes in production without Redis: rate-limit counters
    (and caches) would be per process, so each limit would be multiplied by the workers."""
    if app_env.strip().lower() == "production" and not redis_url and workers > 1:
        raise ConfigurationError(
            f"{workers} worker processes without REDIS_URL would each keep their own "
            "rate-limit counters (every limit multiplied by the workers): set REDIS_URL, "
            "or run one worker (WEB_CONCURRENCY=1, with GUNICORN_THREADS for concurrency)."
        )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def get_config(name: str | None = None) -> type[Config]:
    """The configuration class named by `name`, or by APP_ENV (development by default)."""
    env_name = (name or env_str("APP_ENV", "development")).strip().lower()
    try:
        config = CONFIGS[env_name]
    except KeyError:
        raise ConfigurationError(
            f"APP_ENV must be one of {', '.join(CONFIGS)}, not {env_name!r}."
        ) from None
    config.validate()
    return config
