"""Password hashing: argon2id (RFC 9106 low-memory profile, argon2-cffi's
defaults), salted per password. Hashing is slow on purpose, so it runs in a
worker thread and never blocks the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the user does not exist, so that an unknown user and
# a wrong password take the same time as well as getting the same answer.
_DUMMY_HASH = _hasher.hash("not a real password")

MIN_LENGTH = 8


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


def password_problems(password: str, username: str = "") -> list[str]:
    """Why a new password is refused (Django's basic validators), or []."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"This password is too short. It must contain at least {MIN_LENGTH} characters.")
    if password.isdigit():
        problems.append("This password is entirely numeric.")
    if username and password.lower() == username.lower():
        problems.append("The password is too similar to the username.")
    return problems
