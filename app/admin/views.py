"""The admin's pages: the home page with login and logout, and one model view per table.

Every model view is reachable only by a signed-in active staff user (anyone else is sent to
the login page), lists 50 rows a page with their related user and movie loaded in the same
query, and never shows or edits a password hash.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from flask import Response, abort, current_app, flash, g, redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_admin.model import typefmt
from flask_admin.model.template import EndpointLinkRowAction
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response as BaseResponse
from wtforms import Form
from wtforms.validators import DataRequired, Length, Regexp

from app.admin.auth import (
    authenticate_staff,
    current_staff_user,
    end_staff_session,
    login_attempt_allowed,
    set_user_password,
    start_staff_session,
)
from app.admin.forms import LoginForm, SetPasswordForm
from app.admin.login_token import NONCE_COOKIE, new_login_token, set_nonce_cookie
from app.admin.operations import (
    ActionOutcome,
    dashboard_counts,
    make_model_version_current,
    refresh_movie_details,
    regenerate_recommendations,
    set_movies_hidden,
    set_users_active,
    start_retraining,
    sync_genres_from_tmdb,
)
from app.errors import (
    AuthenticationFailed,
    DomainError,
    PermissionDenied,
    ValidationFailed,
)
from app.extensions import db
from app.models import Genre, Movie, User
from app.models.users import username_skeleton
from app.services.accounts import (
    check_not_locking_out,
    check_username,
    normalise_email,
    normalise_username,
)
from app.services.recommendation.model_versions import current_version_id
from app.services.recommendation.staleness import mark_recommendations_stale

ViewResponse = str | Response | BaseResponse | tuple[str, int]

EMAIL_FORMAT = r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z"
TOO_MANY_ATTEMPTS = "Too many sign-in attempts from this address. Wait a minute and try again."


def safe_admin_target(target: str | None) -> str | None:
    """`target` when it is a path inside the admin (never another site), else None."""
    if not target:
        return None
    parts = urlsplit(target)
    admin_url = current_app.extensions["admin"][0].url.rstrip("/")
    if parts.scheme or parts.netloc or target.startswith("//") or "\\" in target:
        return None
    if not (parts.path == admin_url or parts.path.startswith(admin_url + "/")):
        return None
    return target


def flash_outcome(outcome: ActionOutcome, done_message: str) -> None:
    if outcome.done or not outcome.failures:
        flash(done_message.format(count=outcome.done), "success")
    for failure in outcome.failures:
        flash(failure, "error")


def format_datetime(view: Any, value: datetime, name: str) -> str:
    """Times in lists and details: to the second, in UTC (as stored)."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


class StaffIndexView(AdminIndexView):
    """/admin/: the home page, the login form and logout."""

    def is_visible(self) -> bool:
        return current_staff_user() is not None

    def signed_in_user(self) -> User | None:
        """For the page header: who is signed in."""
        return current_staff_user()

    @expose("/")
    def index(self) -> ViewResponse:
        if current_staff_user() is None:
            return redirect(url_for(".login", next=request.full_path.rstrip("?")))
        return self.render("staff_admin/index.html", counts=dashboard_counts())

    @expose("/login/", methods=("GET", "POST"))
    def login(self) -> ViewResponse:
        form = LoginForm()
        next_url = safe_admin_target(request.args.get("next"))
        if request.method == "GET":
            if current_staff_user() is not None:
                return redirect(next_url or url_for(".index"))
            return self._login_page(form, None, 200)
        if not login_attempt_allowed(request.form.get("email", "")[:254]):
            return self._login_page(form, TOO_MANY_ATTEMPTS, 429)
        if not form.validate():
            return self._login_page(form, "Enter your email and your password.", 400)
        try:
            user = authenticate_staff(form.email.data or "", form.password.data or "")
        except AuthenticationFailed as error:
            return self._login_page(form, error.detail, 401)
        except PermissionDenied as error:
            return self._login_page(form, error.detail, 403)
        start_staff_session(user)
        return redirect(next_url or url_for(".index"))

    def _login_page(self, form: LoginForm, error: str | None, status: int) -> BaseResponse:
        """The form with a fresh session-free CSRF token (and its nonce cookie)."""
        form.password.data = ""
        nonce, token = new_login_token(request.cookies.get(NONCE_COOKIE))
        page = self.render("staff_admin/login.html", form=form, error=error, login_token=token)
        response = current_app.make_response((page, status))
        set_nonce_cookie(response, nonce)
        return response

    @expose("/logout/", methods=("POST",))
    def logout(self) -> ViewResponse:
        end_staff_session()
        flash("You are signed out.", "success")
        return redirect(url_for(".login"))


class StaffModelView(ModelView):
    """Shared by every table: staff only, read-only unless a view says otherwise."""

    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = True
    can_export = False
    can_set_page_size = False
    page_size = 50
    column_type_formatters = {**typefmt.BASE_FORMATTERS, datetime: format_datetime}
    column_type_formatters_detail = {
        **typefmt.DETAIL_FORMATTERS,
        datetime: format_datetime,
    }
    # Relations shown in the list, loaded with the page's rows (no query per row).
    related: tuple[str, ...] = ()

    def __init__(self, model: type[Any], *, page_size: int = 50, **kwargs: Any) -> None:
        self.page_size = page_size
        self.column_select_related_list = [getattr(model, name) for name in self.related]
        super().__init__(model, db, **kwargs)

    def is_accessible(self) -> bool:
        return current_staff_user() is not None

    def inaccessible_callback(self, name: str, **kwargs: Any) -> ViewResponse:
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))

    def handle_view_exception(self, exc: Exception) -> bool:
        if isinstance(exc, IntegrityError):
            flash(
                "The change conflicts with data already stored "
                "(for example an email or a username that is taken).",
                "error",
            )
            return True
        if isinstance(exc, DomainError):
            flash(exc.detail, "error")
            return True
        return bool(super().handle_view_exception(exc))


class LibraryEntryView(StaffModelView):
    """A user's favourites, ratings, watchlist, history or feedback: staff may remove
    entries (moderation), which makes the user's recommendations stale."""

    can_delete = True
    related = ("user", "movie")
    column_searchable_list = ["user.email", "movie.title"]
    column_labels = {"user.email": "User", "movie.title": "Movie"}
    column_default_sort = ("id", True)
    # Every entry sorts by id, user and movie; a view appends its own columns to these.
    ENTRY_SORTS: ClassVar[list[Any]] = [
        "id",
        ("user.email", "user.email"),
        ("movie.title", "movie.title"),
    ]
    column_sortable_list = ENTRY_SORTS

    def on_model_delete(self, model: Any) -> None:
        mark_recommendations_stale(model.user_id)


# --- users and profiles -------------------------------------------------------------------


class UserView(StaffModelView):
    can_edit = True
    # The account's state and dates, in the list and in the details alike.
    ACCOUNT_STATE: ClassVar[list[str]] = [
        "is_active",
        "is_staff",
        "is_superuser",
        "email_verified",
        "date_joined",
        "last_login",
    ]
    column_list = ["id", "email", "username", *ACCOUNT_STATE]
    column_details_list = [
        "id",
        "email",
        "username",
        "first_name",
        "last_name",
        *ACCOUNT_STATE,
        "deleted_at",
    ]
    column_searchable_list = ["email", "username"]
    column_filters = ["is_active", "is_staff", "is_superuser", "email_verified"]
    column_default_sort = ("id", False)
    form_columns = [
        "email",
        "username",
        "first_name",
        "last_name",
        "is_active",
        "email_verified",
        "is_staff",
    ]
    form_excluded_columns = ["password_hash", "token_version"]
    form_args = {
        "email": {"validators": [DataRequired(), Length(max=254), Regexp(EMAIL_FORMAT)]},
        "username": {"validators": [DataRequired(), Length(max=150)]},
    }
    column_extra_row_actions = [
        EndpointLinkRowAction("fa fa-key", ".set_password", title="Set a new password")
    ]

    def edit_form(self, obj: Any = None) -> Form:
        form = super().edit_form(obj)
        staff = current_staff_user()
        if staff is None or not staff.is_superuser:
            del form.is_staff  # only superusers grant or withdraw staff status
        return form

    def on_model_change(self, form: Form, model: User, is_created: bool) -> None:
        model.email = normalise_email(model.email)
        model.username = normalise_username(model.username)
        with db.session.no_autoflush:  # ask before the change reaches the unique index
            check_username(model.username, user_id=model.id)
        model.username_skeleton = username_skeleton(model.username)
        staff = current_staff_user()
        if staff is not None:
            check_not_locking_out(staff.id, model)

    @expose("/password/", methods=("GET", "POST"))
    def set_password(self) -> ViewResponse:
        user_id = request.args.get("id", type=int)
        user = db.session.get(User, user_id) if user_id else None
        if user is None:
            abort(404)
        form = SetPasswordForm()
        status = 200
        if request.method == "POST":
            if form.validate():
                try:
                    set_user_password(user, form.password.data or "")
                except ValidationFailed as error:
                    for problem in (error.errors or {}).get("password", [error.detail]):
                        form.password.errors.append(problem)
                    status = 400
                else:
                    flash(
                        f"The password of {user.email} was changed; their tokens are revoked.",
                        "success",
                    )
                    return redirect(self.get_url(".details_view", id=user.id))
            else:
                status = 400
        page = self.render("staff_admin/set_password.html", form=form, user=user)
        return page, status

    @action("deactivate", "Deactivate", "Deactivate the selected users?")
    def action_deactivate(self, ids: list[str]) -> None:
        flash_outcome(
            set_users_active(ids, False, actor=self._staff()), "{count} user(s) deactivated."
        )

    @action("activate", "Activate")
    def action_activate(self, ids: list[str]) -> None:
        flash_outcome(
            set_users_active(ids, True, actor=self._staff()), "{count} user(s) activated."
        )

    @action(
        "regenerate_recommendations",
        "Regenerate recommendations",
        "Compute a fresh recommendation batch for the selected users?",
    )
    def action_regenerate_recommendations(self, ids: list[str]) -> None:
        flash_outcome(
            regenerate_recommendations(ids), "Recommendations regenerated for {count} user(s)."
        )

    def _staff(self) -> User:
        staff = current_staff_user()
        if staff is None:  # is_accessible already refused the request
            abort(403)
        return staff


class ProfileView(StaffModelView):
    can_edit = True
    related = ("user",)
    column_list = [
        "user.email",
        "preferred_language",
        "mature_content",
        "favorite_genres",
        "recommendations_stale",
        "recommendations_generated_at",
        "updated_at",
    ]
    column_labels = {"user.email": "User"}
    column_searchable_list = ["user.email", "user.username"]
    column_filters = ["preferred_language", "mature_content", "recommendations_stale"]
    column_sortable_list = [
        ("user.email", "user.email"),
        "preferred_language",
        "recommendations_generated_at",
        "updated_at",
    ]
    form_columns = ["bio", "avatar_url", "preferred_language", "mature_content"]

    def on_model_change(self, form: Form, model: Any, is_created: bool) -> None:
        mark_recommendations_stale(model.user_id)


# --- the catalogue ----------------------------------------------------------------------


class GenreChoices:
    """The genre filter's choices, read when a list page renders (Flask-Admin keeps the
    object from startup, so a genre synced later still shows up)."""

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Iterator[tuple[str, str]]:
        genres = db.session.execute(select(Genre.id, Genre.name).order_by(Genre.name)).all()
        return iter([(str(genre_id), name) for genre_id, name in genres])


class GenreFilter(BaseSQLAFilter):
    """Movies linked to one genre (the list of genres is short: all are offered)."""

    def __init__(self) -> None:
        super().__init__(Movie.id, "Genre")

    def get_options(self, view: Any) -> Any:
        return GenreChoices()

    def clean(self, value: Any) -> int:
        return int(value)

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        return query.filter(Movie.genres.any(Genre.id == int(value)))

    def operation(self) -> str:
        return "is"


class ReleaseYearFilter(BaseSQLAFilter):
    """Movies released in one year (a date range, so the release_date index serves it)."""

    def __init__(self) -> None:
        super().__init__(Movie.release_date, "Release year")

    def clean(self, value: Any) -> int:
        year = int(value)
        if not 1800 <= year <= 2200:
            raise ValueError("not a plausible year")
        return year

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        year = int(value)
        return query.filter(
            Movie.release_date >= date(year, 1, 1), Movie.release_date < date(year + 1, 1, 1)
        )

    def operation(self) -> str:
        return "is"


class MovieView(StaffModelView):
    can_edit = True
    column_list = [
        "title",
        "tmdb_id",
        "release_date",
        "original_language",
        "vote_average",
        "vote_count",
        "popularity",
        "details_fetched_at",
        "deleted_at",
    ]
    column_labels = {
        "tmdb_id": "TMDb id",
        "original_language": "Language",
        "details_fetched_at": "Details fetched",
        "deleted_at": "Hidden since",
    }
    column_searchable_list = ["title", "tmdb_id"]
    column_default_sort = ("popularity", True)
    form_columns = ["title", "original_title", "overview", "original_language", "adult", "genres"]

    def __init__(self, model: type[Any], **kwargs: Any) -> None:
        # Filters are built per view: each holds the column it applies to.
        self.column_filters = [
            GenreFilter(),
            ReleaseYearFilter(),
            "original_language",
            "adult",
        ]
        super().__init__(model, **kwargs)

    @action(
        "refresh_details",
        "Refresh details from TMDb",
        "Fetch the full TMDb details of the selected movies?",
    )
    def action_refresh_details(self, ids: list[str]) -> None:
        flash_outcome(
            refresh_movie_details(ids), "Details refreshed from TMDb for {count} movie(s)."
        )

    @action("hide", "Hide from the catalogue", "Hide the selected movies from the API?")
    def action_hide(self, ids: list[str]) -> None:
        flash_outcome(set_movies_hidden(ids, True), "{count} movie(s) hidden.")

    @action("restore", "Restore to the catalogue")
    def action_restore(self, ids: list[str]) -> None:
        flash_outcome(set_movies_hidden(ids, False), "{count} movie(s) restored.")


class GenreView(StaffModelView):
    can_edit = True
    list_template = "staff_admin/genre_list.html"
    column_list = ["name", "tmdb_id"]
    column_labels = {"tmdb_id": "TMDb id"}
    column_searchable_list = ["name"]
    column_default_sort = ("name", False)
    form_columns = ["name"]
    form_args = {"name": {"validators": [DataRequired(), Length(max=100)]}}

    @expose("/sync/", methods=("POST",))
    def sync(self) -> ViewResponse:
        try:
            count = sync_genres_from_tmdb()
        except DomainError as error:
            flash(f"The genre sync failed: {error.detail}", "error")
        else:
            flash(f"Genres synced from TMDb: TMDb lists {count}.", "success")
        return redirect(self.get_url(".index_view"))


# --- the library and recommendations -----------------------------------------------------


class FavoriteView(LibraryEntryView):
    column_list = ["id", "user.email", "movie.title", "created_at"]


class RatingView(LibraryEntryView):
    column_list = ["id", "user.email", "movie.title", "rating", "review", "created_at"]
    column_sortable_list = [*LibraryEntryView.ENTRY_SORTS, "rating", "created_at"]
    column_filters = ["rating"]
    column_searchable_list = ["user.email", "movie.title", "review"]


class WatchlistView(LibraryEntryView):
    column_list = ["id", "user.email", "movie.title", "created_at"]


class HistoryView(LibraryEntryView):
    column_list = ["id", "user.email", "movie.title", "watched_at"]
    column_sortable_list = [*LibraryEntryView.ENTRY_SORTS, "watched_at"]


class FeedbackView(LibraryEntryView):
    column_list = ["id", "user.email", "movie.title", "feedback_type", "comment", "created_at"]
    column_sortable_list = [*LibraryEntryView.ENTRY_SORTS, "feedback_type", "created_at"]
    column_filters = ["feedback_type"]


class RecommendationView(StaffModelView):
    related = ("user", "movie")
    column_list = [
        "id",
        "user.email",
        "rank",
        "movie.title",
        "recommendation_type",
        "confidence_score",
        "clicked_at",
        "rated_at",
        "removed_at",
        "created_at",
    ]
    column_labels = {"user.email": "User", "movie.title": "Movie"}
    column_searchable_list = ["user.email", "movie.title"]
    column_sortable_list = [
        "id",
        ("user.email", "user.email"),
        "rank",
        ("movie.title", "movie.title"),
        "confidence_score",
        "created_at",
    ]
    column_filters = ["recommendation_type"]
    column_default_sort = ("id", True)


class TunedConfigurationView(StaffModelView):
    """What `flask recommender tune` chose, run by run (read-only: the CLI writes it)."""

    column_list = [
        "id",
        "created_at",
        "source",
        "description",
        "validation_ndcg",
        "validation_coverage",
        "default_ndcg",
        "default_coverage",
        "validation_users",
        "candidates",
        "seconds",
    ]
    column_labels = {
        "validation_ndcg": "NDCG@10 (tuned)",
        "validation_coverage": "Coverage@10 (tuned)",
        "default_ndcg": "NDCG@10 (defaults)",
        "default_coverage": "Coverage@10 (defaults)",
        "description": "Chosen configuration",
    }
    column_default_sort = ("id", True)


class TokenBlocklistView(StaffModelView):
    column_list = ["id", "jti", "token_type", "user_id", "reason", "created_at", "expires_at"]
    column_searchable_list = ["jti"]
    column_filters = ["token_type", "reason", "user_id"]
    column_default_sort = ("id", True)


# --- background jobs -----------------------------------------------------------------------


def format_duration(view: Any, context: Any, model: Any, name: str) -> str:
    seconds = getattr(model, name)
    return "" if seconds is None else f"{seconds:.1f} s"


def format_progress(view: Any, context: Any, model: Any, name: str) -> str:
    if model.progress_total is None:
        return str(model.progress_done) if model.progress_done else ""
    return f"{model.progress_done} / {model.progress_total}"


class JobRunView(StaffModelView):
    """Recent background jobs, newest first: outcome, attempts, duration, the last error;
    and a button that retrains the recommender now."""

    list_template = "staff_admin/job_list.html"
    column_list = [
        "created_at",
        "name",
        "args_summary",
        "state",
        "attempts",
        "progress_done",
        "duration_seconds",
        "result",
        "error",
    ]
    column_labels = {
        "created_at": "Queued",
        "args_summary": "Arguments",
        "progress_done": "Progress",
        "duration_seconds": "Duration",
    }
    column_formatters = {"duration_seconds": format_duration, "progress_done": format_progress}
    column_filters = ["name", "state"]
    column_searchable_list = ["name", "args_summary", "error"]
    column_default_sort = [("created_at", True), ("id", True)]

    @expose("/retrain/", methods=("POST",))
    def retrain(self) -> ViewResponse:
        job_id = start_retraining()
        flash(f"Retraining started (job {job_id}); its run is listed here.", "success")
        return redirect(self.get_url(".index_view"))


# --- the recommender's model versions -----------------------------------------------------


def current_version_marker(view: Any, context: Any, model: Any, name: str) -> str:
    """ "current" beside the version web workers serve (looked up once per page)."""
    if "current_model_version" not in g:
        g.current_model_version = current_version_id()
    return "current" if model.id == g.current_model_version else ""


class ModelVersionView(StaffModelView):
    """Trained item-model versions (never edited); staff make an older one current again."""

    column_list = [
        "id",
        "current",
        "trained_at",
        "algorithm",
        "items",
        "users",
        "interactions",
        "training_seconds",
        "ndcg_at_10",
        "coverage_at_10",
        "validation_users",
        "weights_bytes",
    ]
    column_details_list = [
        "id",
        "current",
        "trained_at",
        "algorithm",
        "parameters",
        "items",
        "users",
        "interactions",
        "interaction_watermark",
        "training_seconds",
        "ndcg_at_10",
        "coverage_at_10",
        "validation_users",
        "weights_bytes",
    ]
    column_labels = {
        "training_seconds": "Training (s)",
        "ndcg_at_10": "NDCG@10",
        "coverage_at_10": "Coverage@10",
        "validation_users": "Validated users",
        "weights_bytes": "Weights (bytes)",
    }
    column_formatters = {"current": current_version_marker}
    column_formatters_detail = {"current": current_version_marker}
    column_sortable_list = ["id", "trained_at", "ndcg_at_10", "training_seconds"]
    column_default_sort = ("id", True)

    @action(
        "make_current",
        "Make current (roll back)",
        "Serve the selected model version from now on?",
    )
    def action_make_current(self, ids: list[str]) -> None:
        staff = current_staff_user()
        if staff is None:  # is_accessible already refused the request
            abort(403)
        outcome = make_model_version_current(ids, actor=staff)
        if outcome.done:
            flash(f"Model version {ids[0]} is now current.", "success")
        for failure in outcome.failures:
            flash(failure, "error")


class ModelActivationView(StaffModelView):
    """When each version became current, why (trained or rollback) and by whom."""

    related = ("version",)
    column_list = ["id", "version_id", "reason", "activated_by_id", "activated_at"]
    column_labels = {"version_id": "Version", "activated_by_id": "By user"}
    column_filters = ["reason"]
    column_default_sort = ("id", True)
