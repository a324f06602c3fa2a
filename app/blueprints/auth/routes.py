"""Registration, login, JWT tokens, the current user and profiles."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_jwt_extended import get_jwt

from app.api import (
    Blueprint,
    Problem,
    current_user_id,
)
from app.blueprints.auth.schemas import (
    AccountDeleteSchema,
    AccountExportArgs,
    AccountExportSchema,
    LoginSchema,
    MePatchSchema,
    MeSchema,
    MessageSchema,
    PasswordChangedSchema,
    PasswordChangeSchema,
    ProfileListArgs,
    ProfilePatchSchema,
    ProfilePutSchema,
    ProfileSchema,
    RefreshTokenSchema,
    RegisterSchema,
    SignedInSchema,
    TokenInfoSchema,
    TokenPairSchema,
    TokenVerifySchema,
)
from app.blueprints.pagination import page_body, page_schema
from app.extensions import limiter
from app.models import User, UserProfile
from app.ratelimit import address_key, login_limits, register_rate_limit
from app.services.account_export import export_account, export_imdb_csv, export_letterboxd_csv
from app.services.accounts import (
    change_password,
    delete_account,
    get_account,
    get_profile,
    list_profiles,
    log_in,
    register_user,
    update_account,
    update_profile,
)
from app.services.tokens import TokenInfo, log_out, rotate_refresh_token, verify_token

blp = Blueprint(
    "auth",
    __name__,
    description="Registration, login, JWT tokens, the current user and profiles.",
)


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}


def throttled(description: str = "Too many requests: see Retry-After") -> dict[int, Problem]:
    """The 429 of an operation under a rate limit."""
    return {429: Problem(description, headers=RETRY_AFTER)}


@blp.route("/users/")
class Registration(MethodView):
    # Its own bucket (per address) in place of the default limits.
    decorators = [
        limiter.limit(register_rate_limit, key_func=address_key),
    ]

    @blp.operation(
        "registerUser",
        201,
        SignedInSchema,
        body=RegisterSchema,
        errors={
            409: "The email or the username is taken (named in errors)",
            **throttled("Too many registrations from this address"),
        },
    )
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Register, and receive a token pair.

        The email is stored lower-cased and must be unique (case-insensitively), as must
        the username. The password must pass the password policy; each rule it breaks is
        listed under `errors.password`.
        """
        data.pop("password_confirm")
        signed_in = register_user(**data)
        return {
            "message": "Registration successful.",
            "user": signed_in.user,
            "tokens": signed_in.tokens,
        }


@blp.route("/login/")
class Login(MethodView):
    # The login buckets (app/ratelimit.py), in place of the default limits: browsing never
    # uses up the attempts needed to log in, and a stranger's guesses never lock out the owner.
    decorators = login_limits(limiter)

    @blp.operation(
        "login",
        200,
        SignedInSchema,
        body=LoginSchema,
        errors={
            401: "Wrong email or password, or an inactive account (one message for all)",
            **throttled("Too many login attempts from this address or for this email"),
        },
    )
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Log in with email and password, and receive a token pair."""
        signed_in = log_in(data["email"], data["password"])
        return {"message": "Login successful.", "user": signed_in.user, "tokens": signed_in.tokens}


@blp.route("/token/refresh/")
class TokenRefresh(MethodView):
    @blp.operation(
        "refreshToken",
        200,
        TokenPairSchema,
        body=RefreshTokenSchema,
        errors={
            401: "The refresh token is invalid, expired, revoked or already used",
            **throttled(),
        },
    )
    def post(self, data: dict[str, Any]) -> dict[str, str]:
        """Exchange a refresh token for a new access and refresh token.

        The refresh token presented is revoked (rotation): presenting it again is a 401.
        """
        return rotate_refresh_token(data["refresh"])


@blp.route("/token/blacklist/")
class TokenBlacklist(MethodView):
    @blp.operation(
        "logout",
        200,
        MessageSchema,
        token="optional",
        body=RefreshTokenSchema,
        errors={
            400: "The refresh token belongs to another user than the access token",
            **throttled(),
        },
    )
    def post(self, data: dict[str, Any]) -> dict[str, str]:
        """Log out: revoke the refresh token, and the access token sent as Bearer, if any."""
        log_out(data["refresh"], get_jwt() or None)
        return {"message": "Logged out."}


@blp.route("/token/verify/")
class TokenVerify(MethodView):
    @blp.operation(
        "verifyToken",
        200,
        TokenInfoSchema,
        body=TokenVerifySchema,
        errors={401: "The token is invalid, expired or revoked", **throttled()},
    )
    def post(self, data: dict[str, Any]) -> TokenInfo:
        """Check that an access or refresh token is valid and not revoked."""
        return verify_token(data["token"])


@blp.route("/password/change/")
class PasswordChange(MethodView):
    @blp.operation(
        "changePassword",
        200,
        PasswordChangedSchema,
        token="required",
        body=PasswordChangeSchema,
        errors=throttled(),
    )
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Change the password: every token issued before is revoked, a new pair returned.

        A wrong old password is a 400 naming `old_password`.
        """
        tokens = change_password(current_user_id(), data["old_password"], data["new_password"])
        return {"message": "Password changed.", "tokens": tokens}


@blp.route("/users/me/")
class CurrentUser(MethodView):
    @blp.operation("getCurrentUser", 200, MeSchema, token="required", errors=throttled())
    def get(self) -> User:
        """The current user, with their profile."""
        return get_account(current_user_id())

    @blp.operation(
        "updateCurrentUser",
        200,
        MeSchema,
        token="required",
        body=MePatchSchema,
        errors={409: "The username is taken", **throttled()},
    )
    def patch(self, data: dict[str, Any]) -> User:
        """Change names, username or profile fields.

        Anything else (is_staff, email...) is refused with 400.
        """
        return update_account(current_user_id(), data)

    @blp.operation(
        "deleteCurrentUser", 204, token="required", body=AccountDeleteSchema, errors=throttled()
    )
    def delete(self, data: dict[str, Any]) -> None:
        """Delete the account and everything stored about it; its tokens stop working.

        The password confirms it (a wrong one is a 400).
        """
        delete_account(current_user_id(), data["password"])


CSV_EXPORTS = {"letterboxd": export_letterboxd_csv, "imdb": export_imdb_csv}


@blp.route("/users/me/export/")
class AccountExport(MethodView):
    @blp.operation(
        "exportCurrentUser",
        200,
        AccountExportSchema,
        token="required",
        query=AccountExportArgs,
        errors=throttled(),
    )
    @blp.doc(responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
    def get(self, args: dict[str, Any]) -> Any:
        """Everything stored about the current user: JSON, or your library as CSV.

        `format=json` (default): one JSON document. `format=letterboxd`: Letterboxd's
        import CSV (a row per viewing, ratings out of 10, reviews). `format=imdb`: an
        IMDb-style ratings CSV. Both CSVs can be imported here again.
        """
        user_id = current_user_id()
        export_format = args["format"]
        if export_format in CSV_EXPORTS:
            disposition = f'attachment; filename="account-{user_id}-{export_format}.csv"'
            return Response(
                CSV_EXPORTS[export_format](user_id),
                mimetype="text/csv",
                headers={"Content-Disposition": disposition},
            )
        disposition = f'attachment; filename="account-{user_id}-export.json"'
        return export_account(user_id), {"Content-Disposition": disposition}


@blp.route("/profiles/")
class Profiles(MethodView):
    @blp.operation(
        "listProfiles",
        200,
        page_schema(ProfileSchema),
        token="required",
        query=ProfileListArgs,
        errors={404: "The page is past the last one", **throttled()},
    )
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Profiles: staff see every one, anyone else only their own."""
        return page_body(list_profiles(current_user_id(), args["page"], args["page_size"]))


PROFILE_ERRORS: dict[int, str | Problem] = {404: "No such profile, or not yours", **throttled()}


@blp.route("/profiles/<id:profile_id>/")
class Profile(MethodView):
    @blp.operation(
        "getProfile",
        200,
        ProfileSchema,
        token="required",
        errors=PROFILE_ERRORS,
    )
    def get(self, profile_id: int) -> UserProfile:
        """A profile: your own (or any, for staff)."""
        return get_profile(current_user_id(), profile_id)

    @blp.operation(
        "replaceProfile",
        200,
        ProfileSchema,
        token="required",
        body=ProfilePutSchema,
        errors=PROFILE_ERRORS,
    )
    def put(self, data: dict[str, Any], profile_id: int) -> UserProfile:
        """Replace a profile's fields (all required).

        Favourite genres must be known TMDb genre ids.
        """
        return update_profile(current_user_id(), profile_id, data)

    @blp.operation(
        "updateProfile",
        200,
        ProfileSchema,
        token="required",
        body=ProfilePatchSchema,
        errors=PROFILE_ERRORS,
    )
    def patch(self, data: dict[str, Any], profile_id: int) -> UserProfile:
        """Change some of a profile's fields.

        Favourite genres must be known TMDb genre ids.
        """
        return update_profile(current_user_id(), profile_id, data)
