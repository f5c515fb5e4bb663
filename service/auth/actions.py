"""Login, logout, token authentication and the user's own details.

The HTTP routes in ``auth/http.py`` and the command line in ``__main__.py``
only translate to and from these functions.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import psycopg2.errors

from ..context import Context, User
from ..db import Database
from ..errors import AuthenticationFailed, ValidationError
from ..sqlfiles import Q
from ..validation import Field, Kind, validate
from . import passwords

LOGIN_FAILED = "Unable to log in with provided credentials."
TOKEN_RE = re.compile(r"[0-9a-f]{40}")
USERNAME_RE = re.compile(r"[\w.@+-]+")
USERNAME_MESSAGE = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."
USERNAME_TAKEN = "A user with that username already exists."

LOGIN_FIELDS = (
    Field("username", Kind.TEXT),
    Field("email", Kind.TEXT),
    Field("password", Kind.TEXT, required=True, allow_blank=False),
)
DETAIL_FIELDS = (
    Field(
        "username",
        Kind.TEXT,
        required=True,
        allow_blank=False,
        max_length=150,
        pattern=USERNAME_RE,
        pattern_message=USERNAME_MESSAGE,
    ),
    Field("first_name", Kind.TEXT, max_length=150),
    Field("last_name", Kind.TEXT, max_length=150),
)


def details(user: User) -> dict[str, Any]:
    """dj-rest-auth's UserDetailsSerializer: the key is ``pk``, not ``id``."""
    return {
        "pk": user.id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


async def user_for_token(db: Database, key: str) -> User:
    """The active owner of a token, or AuthenticationFailed with DRF's text."""
    row = await db.fetchone(Q.user_by_token, {"key": key}) if TOKEN_RE.fullmatch(key) else None
    if row is None:
        raise AuthenticationFailed("Invalid token.")
    user = User.from_row(row)
    if not user.is_active:
        raise AuthenticationFailed("User inactive or deleted.")
    return user


def token_from_header(header: str | None) -> str | None:
    """The key of an ``Authorization: Token <key>`` header (DRF's parsing).

    None when the header is absent or names another scheme.
    """
    if not header:
        return None
    parts = header.split()
    if not parts or parts[0].lower() != "token":
        return None
    if len(parts) == 1:
        raise AuthenticationFailed("Invalid token header. No credentials provided.")
    if len(parts) > 2:
        raise AuthenticationFailed("Invalid token header. Token string should not contain spaces.")
    return parts[1]


async def authenticate(db: Database, header: str | None) -> User | None:
    key = token_from_header(header)
    return None if key is None else await user_for_token(db, key)


async def login(db: Database, data: Any, tz: Any) -> dict[str, str]:
    clean = validate(LOGIN_FIELDS, data, partial=False, tz=tz)
    username, email = clean.get("username", ""), clean.get("email", "")
    row = None
    if username:
        row = await db.fetchone(Q.user_by_username, {"username": username})
    elif email:
        row = await db.fetchone(Q.user_by_email, {"email": email})
    stored = row["password"] if row else None
    ok = await passwords.verify_async(stored, clean["password"])
    if not ok or row is None or not row["is_active"]:
        raise ValidationError({"non_field_errors": [LOGIN_FAILED]})
    if passwords.needs_rehash(row["password"]):
        await db.execute(Q.set_password, {"id": row["id"], "password": await passwords.hash_async(clean["password"])})
    return {"key": await _token_for(db, row["id"])}


async def _token_for(db: Database, user_id: int) -> str:
    for _attempt in range(3):
        row = await db.fetchone(Q.login_token, {"user_id": user_id, "key": secrets.token_hex(20)})
        if row is not None:  # None only when a concurrent login created it first
            return row["key"]
    raise RuntimeError("could not create a token")


async def logout(db: Database, header: str | None) -> dict[str, str]:
    key = token_from_header(header)
    if key is not None:
        await user_for_token(db, key)
        await db.execute(Q.delete_token, {"key": key})
    return {"detail": "Successfully logged out."}


async def retrieve_details(ctx: Context) -> dict[str, Any]:
    return details(ctx.require_user())


async def update_details(ctx: Context, data: Any, partial: bool) -> dict[str, Any]:
    user = ctx.require_user()
    clean = validate(DETAIL_FIELDS, data, partial=partial, tz=ctx.settings.tz)
    merged = {**details(user), **clean, "id": user.id}
    row = await _write_user(ctx.db, Q.update_user_details, merged)
    return details(User.from_row(row))


async def _write_user(db: Database, sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run a user INSERT/UPDATE; the database's username rules become field errors."""
    try:
        row = await db.fetchone(sql, params)
    except psycopg2.errors.UniqueViolation:
        raise ValidationError({"username": [USERNAME_TAKEN]}) from None
    except psycopg2.errors.CheckViolation:
        # Python's \w takes a few Unicode digits (², ½) that the CHECK refuses.
        raise ValidationError({"username": [USERNAME_MESSAGE]}) from None
    assert row is not None
    return row


async def create_user(
    db: Database, username: str, password: str, email: str = "", staff: bool = False, superuser: bool = False
) -> User:
    errors: dict[str, list[str]] = {}
    if not USERNAME_RE.fullmatch(username) or len(username) > 150:
        errors["username"] = [USERNAME_MESSAGE]
    problems = passwords.password_problems(password, username=username, email=email)
    if problems:
        errors["password"] = problems
    if errors:
        raise ValidationError(errors)
    params = {
        "username": username,
        "password": await passwords.hash_async(password),
        "email": email,
        "is_staff": staff or superuser,
        "is_superuser": superuser,
    }
    return User.from_row(await _write_user(db, Q.insert_user, params))


async def change_password(db: Database, username: str, password: str) -> None:
    row = await db.fetchone(Q.user_by_username, {"username": username})
    if row is None:
        raise ValidationError({"username": [f'User "{username}" does not exist.']})
    problems = passwords.password_problems(
        password, username=username, first_name=row["first_name"], last_name=row["last_name"], email=row["email"]
    )
    if problems:
        raise ValidationError({"password": problems})
    await db.execute(Q.set_password, {"id": row["id"], "password": await passwords.hash_async(password)})
