"""Input and output schemas of the auth blueprint.

Input schemas list only what a client may set (unknown fields, such as is_staff, are
refused with 400); output schemas are dump-only and never carry a password hash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from marshmallow import validate

from app.blueprints.pagination import PageArgs
from app.blueprints.schemas import TIMESTAMP_EXAMPLE, HalfStepRating, MovieIdentitySchema
from app.models.users import BIO_MAX_LENGTH
from app.services.accounts import (
    EMAIL_MAX_LENGTH,
    USERNAME_MAX_LENGTH,
    USERNAME_MIN_LENGTH,
    USERNAME_PATTERN,
)
from app.services.passwords import MAX_LENGTH as PASSWORD_MAX_LENGTH

NAME_MAX_LENGTH = 150
AVATAR_URL_MAX_LENGTH = 500
FAVORITE_GENRES_MAX = 50
# ISO 639-1 language, optionally with an ISO 3166-1 region: "en", "pt-BR".
LANGUAGE_PATTERN = r"^[a-z]{2}(-[A-Z]{2})?$"

EXAMPLE_PASSWORD = "blue-lantern-orbit-42"
EXAMPLE_ACCESS = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsInR5cGUiOiJhY2Nlc3MifQ.sig"
EXAMPLE_REFRESH = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsInR5cGUiOiJyZWZyZXNoIn0.sig"

_http_url = validate.URL(schemes={"http", "https"}, require_tld=True)


class FullMatch(validate.Regexp):
    """The whole value must match (`$` alone lets a trailing newline through); the
    pattern is still published in the OpenAPI document."""

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


def validate_avatar_url(value: str) -> None:
    """Empty (no avatar) or an absolute http(s) URL."""
    if value:
        _http_url(value)


def password_field(description: str, example: str = EXAMPLE_PASSWORD) -> ma.fields.String:
    return ma.fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=PASSWORD_MAX_LENGTH),
        metadata={"description": description, "example": example},
    )


def username_field(*, required: bool) -> ma.fields.String:
    return ma.fields.String(
        required=required,
        validate=[
            validate.Length(min=USERNAME_MIN_LENGTH, max=USERNAME_MAX_LENGTH),
            FullMatch(USERNAME_PATTERN, error="Use only letters, digits and @ . + - _ characters."),
        ],
        metadata={
            "description": "3 to 150 letters, digits and @ . + - _ (unique, case-insensitive)",
            "example": "moviebuff",
        },
    )


def name_field(example: str) -> ma.fields.String:
    return ma.fields.String(
        validate=validate.Length(max=NAME_MAX_LENGTH), metadata={"example": example}
    )


def passwords_confirmed(field: str, confirm_field: str) -> Callable[..., None]:
    """A schema validator: `confirm_field` must repeat the password in `field`."""

    @ma.validates_schema
    def passwords_match(schema: ma.Schema, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get(field) != data.get(confirm_field):
            raise ma.ValidationError("The two passwords do not match.", confirm_field)

    return passwords_match


# Tokens


class TokenPairSchema(ma.Schema):
    access = ma.fields.String(
        dump_only=True,
        metadata={"description": "Access token (Bearer), 60 minutes", "example": EXAMPLE_ACCESS},
    )
    refresh = ma.fields.String(
        dump_only=True,
        metadata={
            "description": "Refresh token for POST token/refresh/, 7 days",
            "example": EXAMPLE_REFRESH,
        },
    )


class RefreshTokenSchema(ma.Schema):
    refresh = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=4096),
        metadata={"description": "A refresh token", "example": EXAMPLE_REFRESH},
    )


class TokenVerifySchema(ma.Schema):
    token = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=4096),
        metadata={"description": "An access or refresh token", "example": EXAMPLE_ACCESS},
    )


class TokenInfoSchema(ma.Schema):
    valid = ma.fields.Boolean(dump_only=True, metadata={"example": True})
    token_type = ma.fields.String(dump_only=True, metadata={"example": "access"})
    user_id = ma.fields.Integer(dump_only=True, metadata={"example": 42})
    expires_at = ma.fields.AwareDateTime(dump_only=True)


class MessageSchema(ma.Schema):
    message = ma.fields.String(dump_only=True, metadata={"example": "Logged out."})


# Profiles


class ProfileOwnerSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True, metadata={"example": 42})
    username = ma.fields.String(dump_only=True, metadata={"example": "moviebuff"})


class ProfileSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True, metadata={"example": 7})
    user = ma.fields.Nested(ProfileOwnerSchema, dump_only=True)
    bio = ma.fields.String(dump_only=True, metadata={"example": "Mostly science fiction."})
    avatar_url = ma.fields.String(
        dump_only=True, metadata={"example": "https://example.com/me.png"}
    )
    favorite_genres = ma.fields.List(
        ma.fields.Integer(),
        dump_only=True,
        metadata={"description": "TMDb genre ids", "example": [878, 18]},
    )
    preferred_language = ma.fields.String(dump_only=True, metadata={"example": "en"})
    mature_content = ma.fields.Boolean(dump_only=True, metadata={"example": False})
    created_at = ma.fields.AwareDateTime(dump_only=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True)


class ProfilePatchSchema(ma.Schema):
    """The fields of a profile its owner may change; any subset."""

    bio = ma.fields.String(
        validate=validate.Length(max=BIO_MAX_LENGTH),
        metadata={"description": "At most 500 characters", "example": "Mostly science fiction."},
    )
    avatar_url = ma.fields.String(
        validate=[validate.Length(max=AVATAR_URL_MAX_LENGTH), validate_avatar_url],
        metadata={
            "description": "An http(s) URL, or empty for none",
            "example": "https://example.com/me.png",
        },
    )
    favorite_genres = ma.fields.List(
        ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1)),
        validate=validate.Length(max=FAVORITE_GENRES_MAX),
        metadata={
            "description": "TMDb genre ids; each must be a known genre (GET /movies/genres/)",
            "example": [878, 18],
        },
    )
    preferred_language = ma.fields.String(
        validate=FullMatch(LANGUAGE_PATTERN, error="Use a language code such as en or pt-BR."),
        metadata={"example": "en"},
    )
    mature_content = ma.fields.Boolean(metadata={"example": False})


class ProfilePutSchema(ProfilePatchSchema):
    """A whole profile: every field is required."""

    def on_bind_field(self, field_name: str, field_obj: ma.fields.Field) -> None:
        field_obj.required = True


class ProfileListArgs(PageArgs):
    pass


# The current user


class MeSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True, metadata={"example": 42})
    username = ma.fields.String(dump_only=True, metadata={"example": "moviebuff"})
    email = ma.fields.String(dump_only=True, metadata={"example": "ada@example.com"})
    first_name = ma.fields.String(dump_only=True, metadata={"example": "Ada"})
    last_name = ma.fields.String(dump_only=True, metadata={"example": "Lovelace"})
    full_name = ma.fields.String(dump_only=True, metadata={"example": "Ada Lovelace"})
    date_joined = ma.fields.AwareDateTime(dump_only=True, metadata={"example": TIMESTAMP_EXAMPLE})
    last_login = ma.fields.AwareDateTime(
        dump_only=True, allow_none=True, metadata={"example": TIMESTAMP_EXAMPLE}
    )
    profile = ma.fields.Nested(ProfileSchema, dump_only=True)


class MePatchSchema(ma.Schema):
    """What a user may change about themselves. Anything else (is_staff, email...) is a 400."""

    username = username_field(required=False)
    first_name = name_field("Ada")
    last_name = name_field("Lovelace")
    profile = ma.fields.Nested(ProfilePatchSchema)


class RegisterSchema(ma.Schema):
    email = ma.fields.Email(
        required=True,
        validate=validate.Length(max=EMAIL_MAX_LENGTH),
        metadata={"description": "Stored lower-cased; unique", "example": "ada@example.com"},
    )
    username = username_field(required=True)
    password = password_field(
        "At least 8 characters, not entirely numeric, not a common password, "
        "not close to the email, username or names"
    )
    password_confirm = password_field("The same password again")
    first_name = name_field("Ada")
    last_name = name_field("Lovelace")

    passwords_match = passwords_confirmed("password", "password_confirm")


class LoginSchema(ma.Schema):
    email = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=EMAIL_MAX_LENGTH),
        metadata={"example": "ada@example.com"},
    )
    password = password_field("The account's password")


class SignedInSchema(ma.Schema):
    message = ma.fields.String(dump_only=True, metadata={"example": "Login successful."})
    user = ma.fields.Nested(MeSchema, dump_only=True)
    tokens = ma.fields.Nested(TokenPairSchema, dump_only=True)


class PasswordChangeSchema(ma.Schema):
    old_password = password_field("The current password")
    new_password = password_field("The new password (same policy as registration)")
    new_password_confirm = password_field("The new password again")

    passwords_match = passwords_confirmed("new_password", "new_password_confirm")


class PasswordChangedSchema(ma.Schema):
    message = ma.fields.String(dump_only=True, metadata={"example": "Password changed."})
    tokens = ma.fields.Nested(TokenPairSchema, dump_only=True)


class AccountDeleteSchema(ma.Schema):
    password = password_field("The account's password, to confirm")


# Export


class ExportedMovieSchema(MovieIdentitySchema):
    """A movie in the export, named by its ids and title."""


class ExportedUserSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True, metadata={"example": 42})
    username = ma.fields.String(dump_only=True, metadata={"example": "moviebuff"})
    email = ma.fields.String(dump_only=True, metadata={"example": "ada@example.com"})
    first_name = ma.fields.String(dump_only=True)
    last_name = ma.fields.String(dump_only=True)
    is_active = ma.fields.Boolean(dump_only=True)
    is_staff = ma.fields.Boolean(dump_only=True)
    is_superuser = ma.fields.Boolean(dump_only=True)
    email_verified = ma.fields.Boolean(dump_only=True)
    date_joined = ma.fields.AwareDateTime(dump_only=True)
    last_login = ma.fields.AwareDateTime(dump_only=True, allow_none=True)


class ExportedProfileSchema(ProfileSchema):
    recommendations_stale = ma.fields.Boolean(dump_only=True)
    recommendations_generated_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)

    class Meta:
        exclude = ("user",)


class ExportedItemSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    movie = ma.fields.Nested(ExportedMovieSchema, dump_only=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)


class ExportedRatingSchema(ExportedItemSchema):
    rating = HalfStepRating(dump_only=True)
    review = ma.fields.String(dump_only=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True)


class ExportedHistorySchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    movie = ma.fields.Nested(ExportedMovieSchema, dump_only=True)
    watched_at = ma.fields.AwareDateTime(dump_only=True)


class ExportedRecommendationSchema(ExportedItemSchema):
    recommendation_type = ma.fields.String(dump_only=True, metadata={"example": "hybrid"})
    confidence_score = ma.fields.Float(dump_only=True, metadata={"example": 0.82})
    rank = ma.fields.Integer(dump_only=True)
    explanation = ma.fields.String(dump_only=True)
    is_clicked = ma.fields.Boolean(dump_only=True)
    is_rated = ma.fields.Boolean(dump_only=True)


class ExportedFeedbackSchema(ExportedItemSchema):
    recommendation_id = ma.fields.Integer(dump_only=True, allow_none=True)
    feedback_type = ma.fields.String(dump_only=True, metadata={"example": "like"})
    comment = ma.fields.String(dump_only=True)


class AccountExportArgs(ma.Schema):
    format = ma.fields.String(
        load_default="json",
        validate=ma.validate.OneOf(("json", "letterboxd", "imdb")),
        metadata={
            "description": "json (everything), letterboxd (Letterboxd's import CSV) or imdb "
            "(an IMDb-style ratings CSV)"
        },
    )


class ExportedOutcomeSchema(ma.Schema):
    kind = ma.fields.String(dump_only=True, metadata={"example": "click"})
    rating = ma.fields.Float(dump_only=True, allow_none=True, metadata={"example": None})
    occurred_at = ma.fields.AwareDateTime(dump_only=True)


class ExportedImpressionSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    movie = ma.fields.Nested(ExportedMovieSchema, dump_only=True)
    rank = ma.fields.Integer(dump_only=True, metadata={"description": "The position shown at"})
    recommendation_type = ma.fields.String(dump_only=True, metadata={"example": "hybrid"})
    model_version = ma.fields.String(dump_only=True, metadata={"example": "hybrid-ease@v3"})
    cold_start = ma.fields.Boolean(dump_only=True)
    shown_at = ma.fields.AwareDateTime(dump_only=True)
    outcomes = ma.fields.List(
        ma.fields.Nested(ExportedOutcomeSchema),
        dump_only=True,
        metadata={"description": "What you did next, attributed to this impression"},
    )


class AccountExportSchema(ma.Schema):
    exported_at = ma.fields.AwareDateTime(dump_only=True)
    user = ma.fields.Nested(ExportedUserSchema, dump_only=True)
    profile = ma.fields.Nested(ExportedProfileSchema, dump_only=True)
    favorites = ma.fields.List(ma.fields.Nested(ExportedItemSchema), dump_only=True)
    ratings = ma.fields.List(ma.fields.Nested(ExportedRatingSchema), dump_only=True)
    watchlist = ma.fields.List(ma.fields.Nested(ExportedItemSchema), dump_only=True)
    history = ma.fields.List(ma.fields.Nested(ExportedHistorySchema), dump_only=True)
    recommendations = ma.fields.List(ma.fields.Nested(ExportedRecommendationSchema), dump_only=True)
    feedback = ma.fields.List(ma.fields.Nested(ExportedFeedbackSchema), dump_only=True)
    impressions = ma.fields.List(
        ma.fields.Nested(ExportedImpressionSchema),
        dump_only=True,
        metadata={
            "description": "The recommendations you were shown, oldest first, over the "
            "retention period (RECOMMENDATION_IMPRESSION_RETENTION_DAYS, 90 days by default)"
        },
    )
