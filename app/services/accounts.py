"""Accounts: registration and the user records behind authentication."""

from __future__ import annotations

from sqlalchemy import func, select

from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.models import User, UserProfile
from app.services.passwords import hash_password, password_problems


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(
        select(User).where(User.email == normalise_email(email), User.deleted_at.is_(None))
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

    Raises ValidationFailed for a weak password and Conflict naming a taken field. Does not
    commit.
    """
    email = normalise_email(email)
    if password is not None:
        problems = password_problems(password, email=email, username=username)
        if problems:
            raise ValidationFailed(
                "The password does not meet the password policy.",
                errors={"password": problems},
            )
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("A user with this email already exists.", errors={"email": ["taken"]})
    if (
        db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower()))
        is not None
    ):
        raise Conflict("A user with this username already exists.", errors={"username": ["taken"]})
    user = User(
        email=email,
        username=username,
        password_hash=hash_password(password) if password is not None else "",
        first_name=first_name,
        last_name=last_name,
        is_staff=is_staff,
        is_superuser=is_superuser,
    )
    user.profile = UserProfile()
    db.session.add(user)
    db.session.flush()
    return user
