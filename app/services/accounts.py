"""Accounts: registration, login, password changes, the current user, profiles and
account deletion."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.errors import AuthenticationFailed, Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import User, UserProfile, utcnow
from app.models.users import username_skeleton
from app.services.catalogue import genre_ids_by_tmdb_id
from app.services.pagination import Page, paginate
from app.services.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    spend_verification_time,
    verify_password,
)
from app.services.recommendation.staleness import mark_recommendations_stale
from app.services.tokens import issue_tokens
from app.services.unit_of_work import unit_of_work

USERNAME_MIN_LENGTH = 3
USERNAME_MAX_LENGTH = 150
# Letters, digits and @ . + - _ (as the original API allowed). Patterns are applied with
# fullmatch ("$" alone would accept a trailing newline) and also published in the OpenAPI.
USERNAME_PATTERN = re.compile(r"^[\w.@+-]+$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_MAX_LENGTH = 254

# Fields of a profile a user may change, and those that change what we recommend.
PROFILE_FIELDS = ("bio", "avatar_url", "favorite_genres", "preferred_language", "mature_content")
TASTE_FIELDS = ("favorite_genres", "mature_content")
# Fields of the user a user may change about themselves.
ACCOUNT_FIELDS = ("username", "first_name", "last_name")

WRONG_CREDENTIALS = "No active account was found with these credentials."
USERNAME_TAKEN = "A user with this username already exists."

# Security events, by user id: never an email, a password or a token.
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignedIn:
    """A user and the token pair just issued to them."""

    user: User
    tokens: dict[str, str]


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(
        select(User).where(User.email == normalise_email(email), User.deleted_at.is_(None))
    )


def normalise_username(username: str) -> str:
    """NFKC: compatibility forms (fullwidth letters, ligatures) become plain letters."""
    return unicodedata.normalize("NFKC", username)


def username_problems(username: str) -> list[str]:
    problems = []
    if not USERNAME_MIN_LENGTH <= len(username) <= USERNAME_MAX_LENGTH:
        problems.append(
            f"The username must have {USERNAME_MIN_LENGTH} to {USERNAME_MAX_LENGTH} characters."
        )
    if not USERNAME_PATTERN.fullmatch(username):
        problems.append("The username may contain only letters, digits and @ . + - _")
    return problems


def username_taken(username: str, *, except_user_id: int | None = None) -> bool:
    """True when another user has this username or one that looks like it."""
    statement = select(User.id).where(User.username_skeleton == username_skeleton(username))
    if except_user_id is not None:
        statement = statement.where(User.id != except_user_id)
    return db.session.scalar(statement.limit(1)) is not None


def _email_taken(email: str) -> bool:
    return db.session.scalar(select(User.id).where(User.email == email)) is not None


def _raise_if_taken(email: str, username: str) -> None:
    if _email_taken(email):
        raise Conflict(
            "A user with this email already exists.",
            code="email_taken",
            errors={"email": ["A user with this email already exists."]},
        )
    ensure_username_available(username)


def ensure_username_available(username: str, *, except_user_id: int | None = None) -> None:
    """Conflict (username_taken) when another account holds `username`, in any case."""
    if username_taken(username, except_user_id=except_user_id):
        raise Conflict(USERNAME_TAKEN, code="username_taken", errors={"username": [USERNAME_TAKEN]})


def check_username(username: str, *, user_id: int | None = None) -> None:
    """The username rules: its format (ValidationFailed, invalid_username) and no other
    account holding it (Conflict, username_taken). `user_id`: the account it is for."""
    if problems := username_problems(username):
        raise ValidationFailed(
            " ".join(problems), code="invalid_username", errors={"username": problems}
        )
    ensure_username_available(username, except_user_id=user_id)


def check_not_locking_out(actor_id: int, user: User) -> None:
    """Staff never deactivate their own account nor withdraw their own staff status."""
    if user.id == actor_id and not (user.is_active and user.is_staff):
        raise ValidationFailed(
            "You cannot deactivate your own account or withdraw your own staff status.",
            code="self_lockout",
        )


def password_policy_problems(password: str, user: User) -> list[str]:
    """What `password` breaks of the password policy, for this user (empty: none)."""
    return password_problems(
        password,
        email=user.email,
        username=user.username,
        first_name=user.first_name,
        last_name=user.last_name,
    )


def create_user(
    *,
    email: str,
    username: str,
    password: str | None,
    first_name: str = "",
    last_name: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    """A new user with an empty profile. `password=None` makes an account that cannot log in.

    Raises ValidationFailed for an invalid email or username or a weak password, and
    Conflict naming a taken field. Does not commit.
    """
    email = normalise_email(email)
    username = normalise_username(username)
    errors: dict[str, list[str]] = {}
    if len(email) > EMAIL_MAX_LENGTH or not EMAIL_PATTERN.fullmatch(email):
        errors["email"] = ["Not a valid email address."]
    if problems := username_problems(username):
        errors["username"] = problems
    if password is not None:
        problems = password_problems(
            password,
            email=email,
            username=username,
            first_name=first_name,
            last_name=last_name,
        )
        if problems:
            errors["password"] = problems
    if errors:
        detail = (
            "The password does not meet the password policy."
            if set(errors) == {"password"}
            else "The request is not valid: see errors for each field."
        )
        raise ValidationFailed(detail, errors=errors)
    _raise_if_taken(email, username)
    user = User(
        email=email,
        username=username,
        username_skeleton=username_skeleton(username),
        password_hash=hash_password(password) if password is not None else "",
        first_name=first_name,
        last_name=last_name,
        is_staff=is_staff,
        is_superuser=is_superuser,
    )
    user.profile = UserProfile()
    try:
        with db.session.begin_nested():
            db.session.add(user)
    except IntegrityError:
        # Someone registered the same email or username between our check and insert.
        _raise_if_taken(email, username)
        raise
    return user


def create_superuser(*, email: str, username: str, password: str) -> User:
    """An active staff and superuser account (`flask create-superuser`), under the email,
    username and password rules of registration. Commits."""
    with unit_of_work():
        return create_user(
            email=email, username=username, password=password, is_staff=True, is_superuser=True
        )


class Registration(TypedDict):
    """What registering an account takes; the names may be left out (empty)."""

    email: str
    username: str
    password: str
    first_name: NotRequired[str]
    last_name: NotRequired[str]


def register_user(**registration: Unpack[Registration]) -> SignedIn:
    """Create an account that can log in at once, and sign it in."""
    user = create_user(**registration)
    db.session.flush()
    tokens = issue_tokens(user)
    db.session.commit()
    logger.info("user %s registered", user.id)
    return SignedIn(user=user, tokens=tokens)


def log_in(email: str, password: str) -> SignedIn:
    """Check the credentials, record the login and issue a token pair.

    Unknown email, wrong password, inactive account and accounts without a password all
    fail with the same AuthenticationFailed, in about the same time.
    """
    user = find_user_by_email(email)
    if user is None:
        spend_verification_time(password)
        logger.info("login refused: no account with this email")
        raise AuthenticationFailed(WRONG_CREDENTIALS, code="invalid_credentials")
    if not verify_password(user.password_hash, password) or not user.is_active:
        logger.info("login refused for user %s: wrong password or inactive", user.id)
        raise AuthenticationFailed(WRONG_CREDENTIALS, code="invalid_credentials")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login = utcnow()
    tokens = issue_tokens(user)
    db.session.commit()
    logger.info("user %s logged in", user.id)
    return SignedIn(user=user, tokens=tokens)


def get_account(user_id: int) -> User:
    """The account of `user_id` (the caller's, once their token was checked); NotFound
    when there is none."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.", code="user_not_found")
    return user


def account_confirmed_by_password(user_id: int, password: str, field: str, name: str) -> User:
    """The user, once `password` (sent in `field`, called `name` in the message) proves to be
    theirs; a wrong one is a 400 (wrong_password) naming `field`."""
    user = get_account(user_id)
    if not verify_password(user.password_hash, password):
        message = f"The {name} is incorrect."
        raise ValidationFailed(message, code="wrong_password", errors={field: [message]})
    return user


def change_password(user_id: int, old_password: str, new_password: str) -> dict[str, str]:
    """Set a new password, revoke every token issued so far and return a fresh pair."""
    user = account_confirmed_by_password(user_id, old_password, "old_password", "old password")
    problems = password_policy_problems(new_password, user)
    if verify_password(user.password_hash, new_password):
        problems.append("The new password must differ from the old one.")
    if problems:
        raise ValidationFailed(
            "The password does not meet the password policy.",
            errors={"new_password": problems},
        )
    user.password_hash = hash_password(new_password)
    # Every token carries the version it was issued under: older ones are now refused.
    user.token_version += 1
    tokens = issue_tokens(user)
    db.session.commit()
    logger.info("user %s changed their password; earlier tokens revoked", user.id)
    return tokens


def set_password(user_id: int, new_password: str) -> User:
    """Give a user a new password under the password policy (staff setting it for them)
    and revoke their tokens: the token version goes up. Commits."""
    user = get_account(user_id)
    problems = password_policy_problems(new_password, user)
    if problems:
        raise ValidationFailed(
            "The password does not meet the password policy.",
            code="weak_password",
            errors={"password": problems},
        )
    user.password_hash = hash_password(new_password)
    user.token_version += 1
    db.session.commit()
    logger.info("user %s was given a new password; earlier tokens revoked", user.id)
    return user


def update_account(user_id: int, changes: Mapping[str, Any]) -> User:
    """Apply the safe fields of `changes` (names, username, nested profile) to the user."""
    user = get_account(user_id)
    username = changes.get("username")
    if username is not None:
        username = normalise_username(username)
    if username is not None and username != user.username:
        check_username(username, user_id=user.id)
        user.username = username
        user.username_skeleton = username_skeleton(username)
    for field in ("first_name", "last_name"):
        if field in changes:
            setattr(user, field, changes[field])
    if "profile" in changes:
        apply_profile_changes(user.profile, changes["profile"])
    db.session.commit()
    return user


def delete_account(user_id: int, password: str) -> None:
    """Delete the account and everything stored about it, in one transaction.

    The database cascades the delete to every row that belongs to the user (profile,
    library, recommendations, feedback, blocklist); the user's tokens then name no one.
    """
    user = account_confirmed_by_password(user_id, password, "password", "password")
    user_id = user.id
    db.session.expunge_all()
    db.session.execute(delete(User).where(User.id == user_id))
    db.session.commit()
    logger.info("user %s deleted their account", user_id)


# Profiles


def _visible_profiles(viewer_id: int) -> Select[tuple[UserProfile]]:
    """Staff (and superusers) see every profile; anyone else only their own."""
    viewer = get_account(viewer_id)
    statement = (
        select(UserProfile)
        .join(UserProfile.user)
        .where(User.deleted_at.is_(None))
        .options(selectinload(UserProfile.user))
        .order_by(UserProfile.id)
    )
    if not (viewer.is_staff or viewer.is_superuser):
        statement = statement.where(UserProfile.user_id == viewer.id)
    return statement


def list_profiles(viewer_id: int, page: int, page_size: int) -> Page[UserProfile]:
    """The profiles the viewer may see, one page at a time."""
    return paginate(_visible_profiles(viewer_id), page, page_size)


def get_profile(viewer_id: int, profile_id: int) -> UserProfile:
    """A profile the viewer may see; NotFound for any other (its existence is not revealed)."""
    profile = db.session.scalar(_visible_profiles(viewer_id).where(UserProfile.id == profile_id))
    if profile is None:
        raise NotFound(f"Profile {profile_id} does not exist.", code="profile_not_found")
    return profile


def update_profile(viewer_id: int, profile_id: int, changes: Mapping[str, Any]) -> UserProfile:
    """Change a profile its owner (or staff) may write."""
    profile = get_profile(viewer_id, profile_id)
    apply_profile_changes(profile, changes)
    db.session.commit()
    return profile


def apply_profile_changes(profile: UserProfile, changes: Mapping[str, Any]) -> None:
    """Set the given profile fields; favourite genres must be known TMDb genre ids.

    Changing what shapes recommendations (favourite genres, mature content) marks the
    user's recommendations stale. Does not commit.
    """
    if "favorite_genres" in changes:
        genre_ids = list(dict.fromkeys(changes["favorite_genres"]))  # unique, order kept
        known = genre_ids_by_tmdb_id(genre_ids)
        unknown = [genre_id for genre_id in genre_ids if genre_id not in known]
        if unknown:
            listed = ", ".join(str(genre_id) for genre_id in unknown)
            raise ValidationFailed(
                f"Unknown genre ids: {listed}.",
                code="unknown_genres",
                errors={"favorite_genres": [f"These TMDb genre ids do not exist: {listed}."]},
            )
        changes = {**changes, "favorite_genres": genre_ids}
    tastes_changed = False
    for field in PROFILE_FIELDS:
        if field in changes and getattr(profile, field) != changes[field]:
            setattr(profile, field, changes[field])
            tastes_changed = tastes_changed or field in TASTE_FIELDS
    if tastes_changed:
        db.session.flush()
        mark_recommendations_stale(profile.user_id)
