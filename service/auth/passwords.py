"""Password hashing and the rules a new password must pass.

Hashing is argon2id (RFC 9106 low-memory profile, argon2-cffi's defaults),
salted per password. Hashing is slow on purpose, so it runs in a worker
thread and never blocks the event loop.

``password_problems`` is Django's default ``AUTH_PASSWORD_VALIDATORS`` (the
``startproject`` template) with Django's English messages, in Django's order:
UserAttributeSimilarityValidator, MinimumLengthValidator,
CommonPasswordValidator, NumericPasswordValidator. The algorithms follow
``django/contrib/auth/password_validation.py`` of Django 5.2.

``common-passwords.txt.gz`` beside this file is Django 5.2's
``django/contrib/auth/common-passwords.txt.gz``, copied unchanged (sha256
3c1baed62596de36860824eb3f436d5932d37ca8b06e59df78f5a44ec175afe4). Django's
source and documentation say it is a list of 20,000 common passwords
("unhexed, lowercased and deduplicated", hence 19,640 lines) created by Royce
Williams, https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce,
and Django distributes it under its BSD 3-clause licence (Copyright (c) Django
Software Foundation and individual contributors), reproduced in
``common-passwords.LICENSE``.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import re
from difflib import SequenceMatcher
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the user does not exist, so that an unknown user and
# a wrong password take the same time as well as getting the same answer.
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


async def verify_async(stored_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(None, verify, stored_hash, password)


async def hash_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, hash_password, password)


# --- the rules for a new password (Django's default validators) --------------

MIN_LENGTH = 8
MAX_SIMILARITY = 0.7
COMMON_PASSWORDS_PATH = Path(__file__).resolve().parent / "common-passwords.txt.gz"

TOO_SIMILAR = "The password is too similar to the {verbose_name}."
TOO_SHORT = f"This password is too short. It must contain at least {MIN_LENGTH} characters."
TOO_COMMON = "This password is too common."
ENTIRELY_NUMERIC = "This password is entirely numeric."

# Django's AbstractUser fields compared, in its order, with their verbose names.
USER_ATTRIBUTES = (
    ("username", "username"),
    ("first_name", "first name"),
    ("last_name", "last name"),
    ("email", "email address"),
)


def password_problems(
    password: str, *, username: str = "", first_name: str = "", last_name: str = "", email: str = ""
) -> list[str]:
    """Why a new password is refused, in Django's words and order, or []."""
    values = {"username": username, "first_name": first_name, "last_name": last_name, "email": email}
    problems = []
    similar_to = _too_similar_to(password, [(verbose, values[name]) for name, verbose in USER_ATTRIBUTES])
    if similar_to is not None:
        problems.append(TOO_SIMILAR.format(verbose_name=similar_to))
    if len(password) < MIN_LENGTH:
        problems.append(TOO_SHORT)
    if password.lower().strip() in common_passwords():
        problems.append(TOO_COMMON)
    if password.isdigit():
        problems.append(ENTIRELY_NUMERIC)
    return problems


def _too_similar_to(password: str, attributes: list[tuple[str, str]]) -> str | None:
    """UserAttributeSimilarityValidator: the verbose name of the first
    attribute the password is too similar to (Django stops at the first)."""
    password = password.lower()
    for verbose_name, value in attributes:
        if not value:
            continue
        value_lower = value.lower()
        # The whole value and each part of it, so both "alice" and
        # "example" count for alice@example.com.
        for part in [*re.split(r"\W+", value_lower), value_lower]:
            if _exceeds_maximum_length_ratio(password, MAX_SIMILARITY, part):
                continue
            if SequenceMatcher(a=password, b=part).quick_ratio() >= MAX_SIMILARITY:
                return verbose_name
    return None


def _exceeds_maximum_length_ratio(password: str, max_similarity: float, value: str) -> bool:
    """Django's shortcut: a password ten times as long as the value can never
    be similar enough (quick_ratio is at most 2 / length ratio), so skip the
    costly comparison."""
    pwd_len = len(password)
    length_bound_similarity = max_similarity / 2 * pwd_len
    value_len = len(value)
    return pwd_len >= 10 * value_len and value_len < length_bound_similarity


@functools.cache
def common_passwords() -> frozenset[str]:
    """CommonPasswordValidator's list, read on first use (lowercase, one a line)."""
    with gzip.open(COMMON_PASSWORDS_PATH, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f)
