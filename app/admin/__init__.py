"""The staff admin at /admin/ (Flask-Admin): its session, CSRF protection and views.

Only /admin uses a cookie session (server-side, Flask-Session: files under the instance
folder, or Redis when REDIS_URL is set) and only /admin checks CSRF tokens; the JSON API
under /api authenticates with Bearer tokens and is left exactly as it was.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from cachelib import FileSystemCache
from flask import Blueprint, Flask, Request, Response, g, render_template, request
from flask.sessions import SessionInterface, SessionMixin
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_session import Session
from flask_wtf.csrf import CSRFError, CSRFProtect
from redis import Redis
from redis.exceptions import RedisError

from app.admin.login_token import check_login_token
from app.admin.metrics import RecommendationMetricsView
from app.admin.views import (
    FavoriteView,
    FeedbackView,
    GenreView,
    HistoryView,
    JobRunView,
    ModelActivationView,
    ModelVersionView,
    MovieView,
    ProfileView,
    RatingView,
    RecommendationView,
    StaffIndexView,
    TokenBlocklistView,
    TunedConfigurationView,
    UserView,
    WatchlistView,
)
from app.models import (
    Favorite,
    Genre,
    ItemModelActivation,
    ItemModelVersion,
    JobRun,
    Movie,
    Rating,
    Recommendation,
    RecommendationFeedback,
    TokenBlocklist,
    TunedConfiguration,
    User,
    UserProfile,
    WatchHistory,
    WatchlistEntry,
)
from app.ratelimit import exempt_blueprints
from app.redis_connections import redis_client_options

logger = logging.getLogger(__name__)

ADMIN_URL = "/admin"
LOGIN_URL = ADMIN_URL + "/login/"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

csrf = CSRFProtect()
server_session = Session()

# Only carries the admin's own templates (staff_admin/...) onto the app's template path.
templates = Blueprint("staff_admin_templates", __name__, template_folder="templates")


def init_admin(app: Flask) -> None:
    """Mount the admin on `app`: session, CSRF, the views, and their error pages."""
    configure_session(app)
    csrf.init_app(app)
    app.register_blueprint(templates)
    admin = Admin(
        app,
        name="Movie API admin",
        url=ADMIN_URL,
        index_view=StaffIndexView(url=ADMIN_URL),
        theme=Bootstrap4Theme(base_template="staff_admin/master.html", fluid=True),
    )
    # At least one row a page: Flask-Admin reads 0 as "every row".
    add_views(admin, page_size=max(1, app.config["ADMIN_PAGE_SIZE"]))
    # Staff browse many pages an hour; only the login form is throttled (in the view).
    exempt_blueprints(app, *(view.blueprint.name for view in admin._views))

    @app.before_request
    def answer_503_without_a_session_store() -> tuple[str, int] | None:
        if g.get(SESSION_STORE_DOWN) and request.path.startswith(ADMIN_URL + "/"):
            return render_template("staff_admin/unavailable.html"), 503
        return None

    @app.before_request
    def check_admin_csrf_token() -> None:
        """Every form posted to the admin carries a CSRF token: the login form a
        session-free one (no session exists before sign-in), every other the session's."""
        if request.method in UNSAFE_METHODS and request.path.startswith(ADMIN_URL + "/"):
            if request.path == LOGIN_URL:
                check_login_token()
            else:
                csrf.protect()

    @app.errorhandler(CSRFError)
    def refuse_form_without_token(error: CSRFError) -> tuple[str, int]:
        return render_template("staff_admin/csrf_error.html", reason=error.description), 400


def configure_session(app: Flask) -> None:
    """A server-side session whose id is the only thing in the (HttpOnly) cookie."""
    config = app.config
    config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=config["ADMIN_SESSION_HOURS"])
    config.setdefault("SESSION_KEY_PREFIX", "admin-session:")
    if config["REDIS_URL"]:
        config.setdefault("SESSION_TYPE", "redis")
        config.setdefault(
            "SESSION_REDIS", Redis.from_url(config["REDIS_URL"], **redis_client_options(config))
        )
    else:
        config.setdefault("SESSION_TYPE", "cachelib")
        config.setdefault(
            "SESSION_CACHELIB",
            FileSystemCache(
                str(Path(app.instance_path) / "admin-sessions"), threshold=10_000, mode=0o600
            ),
        )
    server_session.init_app(app)
    interface = app.session_interface
    # The same interface object, with the guard's methods in front of its own.
    interface.__class__ = type(
        f"Guarded{type(interface).__name__}", (SessionStoreGuard, type(interface)), {}
    )


SESSION_STORE_DOWN = "admin_session_store_down"


class SessionStoreGuard(SessionInterface):
    """Put in front of Flask-Session's interface: Redis being down makes the admin answer
    503 (an explanatory page) instead of 500; the API, which has no session, is not
    affected.

    Only the admin has a session: elsewhere (every API request) a null session is opened
    at once, so Flask-Session makes and then drops no new empty session (3% of a cached
    detail's time under cProfile); the admin's cookie is never sent outside it anyway
    (SESSION_COOKIE_PATH)."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if not request.path.startswith(ADMIN_URL + "/"):
            return self.make_null_session(app)
        try:
            return super().open_session(app, request)
        except RedisError as error:
            logger.warning("admin session store unavailable: %s", error.__class__.__name__)
            g.setdefault(SESSION_STORE_DOWN, True)
            return self.make_null_session(app)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if g.get(SESSION_STORE_DOWN):
            return
        try:
            super().save_session(app, session, response)
        except RedisError as error:
            # Too late for the before_request page: the answer becomes that page instead.
            logger.warning("admin session not saved: %s", error.__class__.__name__)
            response.status_code = 503
            response.headers.pop("Location", None)
            response.set_data(render_template("staff_admin/unavailable.html"))
            response.mimetype = "text/html"


def add_views(admin: Admin, *, page_size: int) -> None:
    """One view per table, at /admin/<url>/, grouped in the menu."""
    views = [
        (UserView, User, "Users", "users", "People"),
        (ProfileView, UserProfile, "Profiles", "profiles", "People"),
        (TokenBlocklistView, TokenBlocklist, "Token blocklist", "token-blocklist", "People"),
        (MovieView, Movie, "Movies", "movies", None),
        (GenreView, Genre, "Genres", "genres", None),
        (FavoriteView, Favorite, "Favourites", "favorites", "Library"),
        (RatingView, Rating, "Ratings", "ratings", "Library"),
        (WatchlistView, WatchlistEntry, "Watchlist", "watchlist", "Library"),
        (HistoryView, WatchHistory, "History", "history", "Library"),
        (RecommendationView, Recommendation, "Recommendations", "recommendations", "Library"),
        (FeedbackView, RecommendationFeedback, "Feedback", "feedback", "Library"),
        (JobRunView, JobRun, "Jobs", "jobs", None),
        (ModelVersionView, ItemModelVersion, "Model versions", "model-versions", "Recommender"),
        (
            ModelActivationView,
            ItemModelActivation,
            "Model activations",
            "model-activations",
            "Recommender",
        ),
        (TunedConfigurationView, TunedConfiguration, "Tuned engine", "tuned-engine", None),
    ]
    for view_class, model, name, url, category in views:
        admin.add_view(
            view_class(
                model,
                name=name,
                endpoint=f"admin_{url.replace('-', '_')}",
                url=url,
                category=category,
                page_size=page_size,
            )
        )
    admin.add_view(
        RecommendationMetricsView(
            name="Recommendation metrics",
            endpoint="admin_recommendation_metrics",
            url="recommendation-metrics",
        )
    )
