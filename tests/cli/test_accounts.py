"""`flask prune-tokens` and `flask create-superuser`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import Result
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import TokenBlocklist, User
from app.services.passwords import verify_password
from tests.factories import make_user

PASSWORD = "orchid-meridian-cascade-5"


def superuser_count(app: Flask) -> int:
    with app.app_context():
        return (
            db.session.scalar(
                select(func.count()).select_from(User).where(User.is_superuser.is_(True))
            )
            or 0
        )


def create_superuser(runner, *args: str, input: str | None = None) -> Result:  # type: ignore[no-untyped-def]  # noqa: A002
    return runner.invoke(args=["create-superuser", *args], input=input)


def create_superuser_prompted(runner, input: str) -> Result:  # type: ignore[no-untyped-def]  # noqa: A002
    """create-superuser without --password, answering its password prompts with `input`."""
    return create_superuser(
        runner, "--email", "admin@example.com", "--username", "admin", input=input
    )


def test_prune_tokens_reports_how_many_rows_it_deleted(app: Flask, runner) -> None:  # type: ignore[no-untyped-def]
    user = make_user(app)
    now = datetime.now(UTC)
    with app.app_context():
        db.session.add_all(
            [
                TokenBlocklist(
                    jti="a",
                    token_type="access",
                    user_id=user.id,
                    expires_at=now - timedelta(hours=1),
                ),
                TokenBlocklist(
                    jti="b",
                    token_type="refresh",
                    user_id=user.id,
                    expires_at=now - timedelta(days=1),
                ),
                TokenBlocklist(
                    jti="c",
                    token_type="refresh",
                    user_id=user.id,
                    expires_at=now + timedelta(days=1),
                ),
            ]
        )
        db.session.commit()
    result = runner.invoke(args=["prune-tokens"])
    assert result.exit_code == 0, result.output
    assert "Removed 2 expired blocklist row(s)." in result.output
    with app.app_context():
        assert db.session.scalars(select(TokenBlocklist.jti)).all() == ["c"]


def test_create_superuser_with_options_makes_an_active_staff_superuser(
    app: Flask,
    runner,  # type: ignore[no-untyped-def]
) -> None:
    result = create_superuser(
        runner, "--email", "Root@Example.com", "--username", "root", "--password", PASSWORD
    )
    assert result.exit_code == 0, result.output
    assert "Superuser root <root@example.com> created" in result.output
    assert PASSWORD not in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "root"))
        assert user is not None
        assert user.is_active and user.is_staff and user.is_superuser
        assert user.email == "root@example.com"
        assert verify_password(user.password_hash, PASSWORD)
        assert user.profile is not None


def test_create_superuser_prompts_for_the_password_twice(app: Flask, runner) -> None:  # type: ignore[no-untyped-def]
    result = create_superuser_prompted(runner, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output
    assert superuser_count(app) == 1


def test_create_superuser_refuses_mismatched_confirmation(app: Flask, runner) -> None:  # type: ignore[no-untyped-def]
    result = create_superuser_prompted(runner, input=f"{PASSWORD}\nother-one-entirely\n")
    assert result.exit_code != 0
    assert superuser_count(app) == 0


def test_create_superuser_refuses_a_weak_password_with_the_reasons(app: Flask, runner) -> None:  # type: ignore[no-untyped-def]
    result = create_superuser(
        runner, "--email", "admin@example.com", "--username", "admin", "--password", "password"
    )
    assert result.exit_code == 1
    assert "This password is too common." in result.output
    assert superuser_count(app) == 0


def test_create_superuser_refuses_an_existing_email(app: Flask, runner) -> None:  # type: ignore[no-untyped-def]
    make_user(app, email="admin@example.com")
    result = create_superuser(
        runner, "--email", "ADMIN@example.com", "--username", "admin2", "--password", PASSWORD
    )
    assert result.exit_code == 1
    assert "A user with this email already exists." in result.output
    assert superuser_count(app) == 0
