"""The password policy (one message per broken rule) and Argon2id hashing."""

from __future__ import annotations

import hashlib

import pytest
from flask import Flask

from app.services.passwords import (
    common_passwords,
    hash_password,
    needs_rehash,
    password_problems,
    too_similar,
    verify_password,
)

TOO_SHORT = "This password is too short. It must contain at least 8 characters."
TOO_LONG = "This password is too long. It must contain at most 128 characters."
NUMERIC = "This password is entirely numeric."
COMMON = "This password is too common."


def test_a_good_password_breaks_no_rule() -> None:
    assert (
        password_problems("violet-harbour-cinema-71", email="ann@example.com", username="ann") == []
    )


def test_short_password_is_refused_and_eight_characters_are_enough() -> None:
    assert TOO_SHORT in password_problems("x7#kQ2p")
    assert TOO_SHORT not in password_problems("x7#kQ2pz")


def test_overlong_password_is_refused() -> None:
    overlong = hashlib.sha512(b"seed").hexdigest() + "b"
    assert len(overlong) == 129
    assert password_problems(overlong) == [TOO_LONG]


def test_entirely_numeric_password_is_refused() -> None:
    assert NUMERIC in password_problems("90314278516")
    assert NUMERIC not in password_problems("9031427851a")


@pytest.mark.parametrize("password", ["password", "PASSWORD", "iloveyou", "trustno1", "superman"])
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    assert COMMON in password_problems(password)


def test_common_password_list_has_tens_of_thousands_of_entries() -> None:
    assert len(common_passwords()) >= 10_000


@pytest.mark.parametrize(
    ("password", "attributes", "message"),
    [
        ("johnsmith1", {"email": "john.smith@example.com"}, "email address"),
        ("moviebuff99", {"username": "moviebuff"}, "username"),
        ("ffubeivom", {"username": "moviebuff"}, None),
        ("Theodora!!", {"first_name": "Theodora"}, "first name"),
        ("Wollstonecraft", {"last_name": "Wollstonecraft"}, "last name"),
    ],
)
def test_password_close_to_the_users_own_details_is_refused(
    password: str, attributes: dict[str, str], message: str | None
) -> None:
    problems = password_problems(password, **attributes)
    similar = [problem for problem in problems if "too similar" in problem]
    if message is None:
        assert similar == []
    else:
        assert similar == [f"This password is too similar to the {message}."]


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("aaaaaaaa", "Repeats like"),
        ("        ", "Repeats like"),
        ("abcdefgh", "Sequences like"),
        ("letmein!", "similar to a commonly used password"),
        ("Summer2024!", "similar to a commonly used password"),
    ],
)
def test_easily_guessed_passwords_are_refused_saying_why(password: str, why: str) -> None:
    weak = [p for p in password_problems(password) if p.startswith("This password is too easy")]
    assert len(weak) == 1
    assert "at least 3 needed" in weak[0] and why in weak[0]


def test_strength_is_estimated_knowing_the_users_own_details() -> None:
    password = "Kowalczyk1984!"
    assert password_problems(password) == []
    problems = password_problems(password, last_name="Kowalczyk")
    assert any(problem.startswith("This password is too easy") for problem in problems)


@pytest.mark.parametrize(
    "password",
    ["watch-more-films-2024", "correct-horse-battery-staple", "violet-harbour-cinema-71"],
)
def test_passphrases_pass_the_strength_floor(password: str) -> None:
    assert password_problems(password, email="demo@example.com", username="demo") == []


def test_long_password_merely_containing_the_username_is_accepted() -> None:
    assert not too_similar("ann-watches-noir-films-at-night", "ann")
    assert not too_similar("kestrel-orbit-4-lanterns", "")


def test_each_broken_rule_has_its_own_message() -> None:
    problems = password_problems("1234", username="1234")
    assert TOO_SHORT in problems and NUMERIC in problems and COMMON in problems
    assert "This password is too similar to the username." in problems
    assert len(problems) == len(set(problems))


def test_hashes_are_argon2id_salted_and_verify_only_the_right_password(app: Flask) -> None:
    with app.app_context():
        first = hash_password("violet-harbour-cinema-71")
        second = hash_password("violet-harbour-cinema-71")
        assert first.startswith("$argon2id$")
        assert first != second
        assert verify_password(first, "violet-harbour-cinema-71")
        assert not verify_password(first, "violet-harbour-cinema-72")
        assert not verify_password("", "")
        assert not verify_password("not a hash", "anything")


def test_hashes_made_with_other_parameters_need_rehashing(app: Flask) -> None:
    with app.app_context():
        current = hash_password("violet-harbour-cinema-71")
        assert not needs_rehash(current)
    # Outside the app: argon2-cffi's production defaults, stronger than the test config.
    assert needs_rehash(current)
