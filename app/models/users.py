"""Accounts: users, their profiles and the JWT blocklist."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, SoftDeleteMixin, TimestampMixin, utcnow

if TYPE_CHECKING:
    import icu

    from app.models.library import Favorite, Rating, WatchHistory, WatchlistEntry
    from app.models.recommendations import Recommendation, RecommendationFeedback

BIO_MAX_LENGTH = 500


@cache
def _spoof_checker() -> icu.SpoofChecker:
    # Imported on the first username written, not with the app: ICU is 12 MiB of a web
    # worker's memory that only sign-ups and username changes use (docs/scaling.md).
    import icu

    return icu.SpoofChecker()


def username_skeleton(username: str) -> str:
    """The Unicode TR39 confusable skeleton (ICU's table) of the NFKC-normalised,
    case-folded username: usernames that look alike (a Cyrillic "a" in "alice") share it."""
    folded = unicodedata.normalize("NFKC", username).casefold()
    return str(_spoof_checker().getSkeleton(0, folded))


def _default_skeleton(context: Any) -> str:
    return username_skeleton(context.get_current_parameters()["username"])


def rows_of_the_user() -> Any:
    """A list of the user's rows in another table (its `user` relationship), which the
    database deletes with the user (ON DELETE CASCADE: no load before the delete)."""
    return relationship(back_populates="user", cascade="all, delete-orphan", passive_deletes=True)


class User(SoftDeleteMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased; the login name.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    # The username's confusable skeleton (Unicode TR39, case-folded): "alice" spelt with a
    # Cyrillic "a" has the skeleton of "alice", so the database refuses it beside "alice".
    # Set on insert from the username; whoever changes a username sets it too.
    username_skeleton: Mapped[str] = mapped_column(Text, unique=True, default=_default_skeleton)
    first_name: Mapped[str] = mapped_column(String(150), default="", server_default="")
    last_name: Mapped[str] = mapped_column(String(150), default="", server_default="")
    # Empty for accounts that cannot log in (imported MovieLens users).
    password_hash: Mapped[str] = mapped_column(String(255), default="", server_default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    date_joined: Mapped[datetime] = mapped_column(default=utcnow)
    last_login: Mapped[datetime | None] = mapped_column(default=None)
    # Bumped to revoke every token issued before (password change); carried in tokens as "ver".
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    profile: Mapped[UserProfile] = relationship(
        back_populates="user", cascade="all, delete-orphan", uselist=False
    )
    favorites: Mapped[list[Favorite]] = rows_of_the_user()
    ratings: Mapped[list[Rating]] = rows_of_the_user()
    watchlist: Mapped[list[WatchlistEntry]] = rows_of_the_user()
    history: Mapped[list[WatchHistory]] = rows_of_the_user()
    recommendations: Mapped[list[Recommendation]] = rows_of_the_user()
    feedback: Mapped[list[RecommendationFeedback]] = rows_of_the_user()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username}>"


# Usernames are unique whatever their case ("Bob" and "bob" are one name), in the database
# itself, so two simultaneous registrations cannot both win.
Index("uq_users_username_lower", func.lower(User.username), unique=True)


class UserProfile(TimestampMixin, Base):
    __tablename__ = "user_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    bio: Mapped[str] = mapped_column(String(BIO_MAX_LENGTH), default="", server_default="")
    avatar_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # TMDb genre ids.
    favorite_genres: Mapped[list[Any]] = mapped_column(JSON, default=list)
    preferred_language: Mapped[str] = mapped_column(String(10), default="en", server_default="en")
    mature_content: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set when something that changes the user's tastes happens; cleared by a regeneration.
    recommendations_stale: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true()
    )
    recommendations_generated_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship(back_populates="profile")


class TokenBlocklist(Base):
    """Revoked JWTs, checked on every protected request."""

    __tablename__ = "token_blocklist"

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    token_type: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Why it was revoked: logout, rotation, password_change, account_deleted.
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
