"""Password hashing (Argon2id) and the password policy."""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 8
MAX_LENGTH = 128
# Above this, a password is too close to the user's own email or username.
MAX_SIMILARITY = 0.7

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; an empty hash (no usable password) never matches."""
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords, as shipped (and maintained) by zxcvbn."""
    return frozenset(FREQUENCY_LISTS["passwords"])


def _too_similar(password: str, attribute: str) -> bool:
    password = password.lower()
    attribute = attribute.lower()
    if not attribute:
        return False
    parts = {attribute, *re.split(r"[\W_]+", attribute)}
    for part in parts:
        if len(part) < 3:
            continue
        if part in password and len(part) >= len(password) * 0.5:
            return True
        if SequenceMatcher(a=password, b=part).quick_ratio() >= MAX_SIMILARITY and (
            SequenceMatcher(a=password, b=part).ratio() >= MAX_SIMILARITY
        ):
            return True
    return False


def password_problems(password: str, *, email: str = "", username: str = "") -> list[str]:
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
    if _too_similar(password, email.split("@")[0]) or _too_similar(password, email):
        problems.append("The password is too similar to the email address.")
    if _too_similar(password, username):
        problems.append("The password is too similar to the username.")
    return problems
