"""Password hashing (Argon2id) and the password policy."""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import cache

from argon2 import DEFAULT_MEMORY_COST, DEFAULT_PARALLELISM, DEFAULT_TIME_COST, PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context

MIN_LENGTH = 8
MAX_LENGTH = 128
# At or above this, a password is too close to one of the user's own attributes.
MAX_SIMILARITY = 0.7
# Attribute parts shorter than this ("jo", "com") say nothing about a password.
MIN_ATTRIBUTE_PART = 3
# zxcvbn's estimate, 0 (guessed at once) to 4: 3 is "safely unguessable" (about 10^8
# guesses and more), what an offline attack on a slow hash cannot afford per account.
MIN_STRENGTH_SCORE = 3
# zxcvbn refuses longer inputs; the first 72 characters of a password say enough.
STRENGTH_ESTIMATE_LENGTH = 72


@cache
def _hasher_with(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
    )


def _hasher() -> PasswordHasher:
    """Argon2id with the configured cost (argon2-cffi's defaults outside an app)."""
    if not has_app_context():
        return _hasher_with(DEFAULT_TIME_COST, DEFAULT_MEMORY_COST, DEFAULT_PARALLELISM)
    config = current_app.config
    return _hasher_with(
        config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_KIB"], config["ARGON2_PARALLELISM"]
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; an empty hash (no usable password) never matches."""
    if not password_hash:
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _decoy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("decoy password that matches nothing")


def spend_verification_time(password: str) -> None:
    """Cost what a real verification costs, so an unknown email takes as long to refuse
    as a wrong password (response times must not tell which emails have accounts)."""
    verify_password(_decoy_hash(_hasher()), password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


# zxcvbn is imported where a password is checked, not with the app: its dictionaries are
# 12 MiB of every web worker's memory, and only sign-ups and password changes use them
# (docs/scaling.md, "Memory of a web worker").


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords, as shipped (and maintained) by zxcvbn."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def too_similar(password: str, attribute: str) -> bool:
    """True when `password` is close to `attribute` or to one of its parts (split on
    anything but letters and digits: "jane.doe@example.com" gives jane, doe, example...)."""
    password = password.lower()
    attribute = attribute.lower().strip()
    if not attribute:
        return False
    parts = {attribute, *re.split(r"[\W_]+", attribute)}
    for part in parts:
        if len(part) < MIN_ATTRIBUTE_PART:
            continue
        # Containing the attribute is only "similar" when it is most of the password.
        if part in password and len(part) >= len(password) / 2:
            return True
        matcher = SequenceMatcher(a=password, b=part)
        if matcher.quick_ratio() >= MAX_SIMILARITY and matcher.ratio() >= MAX_SIMILARITY:
            return True
    return False


def password_problems(
    password: str,
    *,
    email: str = "",
    username: str = "",
    first_name: str = "",
    last_name: str = "",
) -> list[str]:
    """Every rule `password` breaks, one message each (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(
            f"This password is too short. It must contain at least {MIN_LENGTH} characters."
        )
    if len(password) > MAX_LENGTH:
        problems.append(
            f"This password is too long. It must contain at most {MAX_LENGTH} characters."
        )
    if password.isdigit():
        problems.append("This password is entirely numeric.")
    if password.lower() in common_passwords():
        problems.append("This password is too common.")
    similar_to = [
        label
        for label, value in (
            ("email address", email),
            ("username", username),
            ("first name", first_name),
            ("last name", last_name),
        )
        if too_similar(password, value)
    ]
    problems.extend(f"This password is too similar to the {label}." for label in similar_to)
    weakness = strength_problem(password, [email, username, first_name, last_name])
    if weakness:
        problems.append(weakness)
    return problems


def strength_problem(password: str, user_inputs: list[str]) -> str | None:
    """Why zxcvbn estimates `password` easy to guess (knowing the user's own details),
    or None when its score is at least MIN_STRENGTH_SCORE."""
    from zxcvbn import zxcvbn

    words = [part for value in user_inputs for part in re.split(r"[\W_]+", value.lower()) if part]
    estimate = zxcvbn(password[:STRENGTH_ESTIMATE_LENGTH], user_inputs=[*user_inputs, *words])
    if estimate["score"] >= MIN_STRENGTH_SCORE:
        return None
    feedback = estimate["feedback"]
    reasons = " ".join(filter(None, [feedback["warning"], *feedback["suggestions"]]))
    return (
        f"This password is too easy to guess (strength {estimate['score']} of 4, at least "
        f"{MIN_STRENGTH_SCORE} needed). {reasons}".strip()
    )
