"""Login, logout, password changes, the user's own details, and the user
management the command line offers.

The HTTP routes in ``auth/http.py`` and the command line in ``__main__.py``
only translate to and from these functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import psycopg2.errors

from ..audit import actions as audit
from ..config import Settings
from ..context import Context, User
from ..db import Database, Tx
from ..errors import AuthenticationFailed, Busy, ValidationError
from ..events import Event
from ..sqlfiles import Q
from ..validation import Field, Kind, validate
from . import passwords, sessions
from .passwords import Hasher, HashingBusy
from .throttle import LoginThrottle

LOGIN_FAILED = "Unable to log in with provided credentials."
USERNAME_RE = re.compile(r"[\w.@+-]+")
USERNAME_MESSAGE = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."
USERNAME_TAKEN = "A user with that username already exists."
OLD_PASSWORD_WRONG = "Your old password was entered incorrectly. Please enter it again."
PASSWORDS_DIFFER = "The two password fields didn’t match."  # Django's text, with its apostrophe

LOGIN_FIELDS = (
    Field("username", Kind.TEXT),
    Field("email", Kind.TEXT),
    Field("password", Kind.TEXT, required=True, allow_blank=False),
)
# A username as Django's: 150 characters of letters, digits and @/./+/-/_.
USERNAME = Field(
    "username",
    Kind.TEXT,
    required=True,
    allow_blank=False,
    max_length=150,
    pattern=USERNAME_RE,
    pattern_message=USERNAME_MESSAGE,
)
DETAIL_FIELDS = (
    USERNAME,
    Field("first_name", Kind.TEXT, max_length=150),
    Field("last_name", Kind.TEXT, max_length=150),
)
# dj-rest-auth's PasswordChangeSerializer with OLD_PASSWORD_FIELD_ENABLED
# (DRF's CharFields: surrounding spaces are trimmed, as at login).
PASSWORD_CHANGE_FIELDS = (
    Field("old_password", Kind.TEXT, required=True, allow_blank=False, max_length=128),
    Field("new_password1", Kind.TEXT, required=True, allow_blank=False, max_length=128),
    Field("new_password2", Kind.TEXT, required=True, allow_blank=False, max_length=128),
)


@dataclass(frozen=True)
class LoginGuard:
    """What stands between the world and the password hashes: throttling
    of failed attempts and a bounded pool for the (64 MiB) hashing."""

    throttle: LoginThrottle
    hasher: Hasher

    async def close(self) -> None:
        await self.throttle.close()
        self.hasher.close()


def details(user: User) -> dict[str, Any]:
    """dj-rest-auth's UserDetailsSerializer (the key is ``pk``, not ``id``),
    with what a screen needs to know of its user's access, read-only."""
    return {
        "pk": user.id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "wards": sorted(user.wards),
    }


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


async def authenticate(db: Database, settings: Settings, header: str | None) -> sessions.Identity | None:
    key = token_from_header(header)
    return None if key is None else await sessions.identify(db, settings, key)


async def _verify(guard: LoginGuard, stored: str | None, password: str) -> bool:
    try:
        return await guard.hasher.verify(stored, password)
    except HashingBusy:
        raise Busy() from None


async def _hash(guard: LoginGuard | None, password: str) -> str:
    if guard is None:  # the command line: one hash, nothing to bound
        return await passwords.hash_async(password)
    try:
        return await guard.hasher.hash(password)
    except HashingBusy:
        raise Busy() from None


async def login(
    db: Database, settings: Settings, guard: LoginGuard, data: Any, client: str, user_agent: str
) -> dict[str, str]:
    """A new session for each successful login (each device has its own key)."""
    clean = validate(LOGIN_FIELDS, data, partial=False, tz=settings.tz)
    username, email = clean.get("username", ""), clean.get("email", "")
    who = username or email.lower()
    await guard.throttle.check(who, client)
    row = None
    if username:
        row = await db.fetchone(Q.user_by_username, {"username": username})
    elif email:
        row = await db.fetchone(Q.user_by_email, {"email": email})
    stored = row["password"] if row else None
    ok = await _verify(guard, stored, clean["password"])
    if not ok or row is None or not row["is_active"]:
        await guard.throttle.failed(who, client)
        raise ValidationError({"non_field_errors": [LOGIN_FAILED]})
    await guard.throttle.succeeded(who, client)
    if passwords.needs_rehash(row["password"]):
        await db.execute(Q.set_password, {"id": row["id"], "password": await _hash(guard, clean["password"])})
    return {"key": await sessions.start(db, row["id"], user_agent, client)}


async def logout(db: Database, settings: Settings, header: str | None) -> dict[str, str]:
    """End the caller's session only (other devices stay logged in)."""
    identity = await authenticate(db, settings, header)
    if identity is not None:
        async with db.transaction() as tx:
            rows = await tx.fetchall(Q.end_session, {"id": identity.session_id, "user_id": identity.user.id})
            sessions.emit_ended(tx, identity.user.id, rows)
    return {"detail": "Successfully logged out."}


async def retrieve_details(ctx: Context) -> dict[str, Any]:
    return details(ctx.require_user())


async def update_details(ctx: Context, data: Any, partial: bool) -> dict[str, Any]:
    user = ctx.require_user()
    clean = validate(DETAIL_FIELDS, data, partial=partial, tz=ctx.settings.tz)
    merged = {**details(user), **clean, "id": user.id}
    async with ctx.db.transaction() as tx:
        row = await _write_user(tx, Q.update_user_details, merged)
        before = details(user)
        changed = [k for k in ("username", "first_name", "last_name") if before[k] != row[k]]
        if changed:  # audited as staff's edits are
            old, new = {k: before[k] for k in changed}, {k: row[k] for k in changed}
            await audit.record(tx, user.id, "user.update", "user", user.id, old, new)
    return details(User.from_row(row))


async def password_change(ctx: Context, guard: LoginGuard, data: Any) -> dict[str, str]:
    """dj-rest-auth's password change; every other session of the user ends."""
    user = ctx.require_user()
    clean = validate(PASSWORD_CHANGE_FIELDS, data, partial=False, tz=ctx.settings.tz)
    row = await ctx.db.fetchone(Q.user_password, {"id": user.id})
    if row is None or not await _verify(guard, row["password"], clean["old_password"]):
        raise ValidationError({"old_password": [OLD_PASSWORD_WRONG]})
    if clean["new_password1"] != clean["new_password2"]:
        raise ValidationError({"new_password2": [PASSWORDS_DIFFER]})
    problems = passwords.password_problems(clean["new_password2"], **_attributes(user))
    if problems:
        raise ValidationError({"new_password2": problems})
    hashed = await _hash(guard, clean["new_password2"])
    async with ctx.db.transaction() as tx:
        await tx.execute(Q.set_password, {"id": user.id, "password": hashed})
        ended = await sessions.end_all(tx, user.id, keep=ctx.session_id)
        await audit.record(tx, user.id, "user.set_password", "user", user.id, after={"sessions_ended": ended})
    return {"detail": "New password has been saved."}


def _attributes(user: User) -> dict[str, str]:
    """What a new password must not resemble (Django's similarity validator)."""
    return {"username": user.username, "first_name": user.first_name, "last_name": user.last_name, "email": user.email}


async def _write_user(db: Database | Tx, sql: str, params: dict[str, Any]) -> dict[str, Any]:
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


async def ward_ids(db: Database, names: list[str]) -> list[int]:
    """The ids of wards named on the command line; none named: the only
    ward, while there is exactly one (as for a patient without a ward)."""
    if not names:
        only = await db.fetchone(Q.only_ward)
        return [only["id"]] if only else []
    ids = []
    for name in names:
        row = await db.fetchone(Q.ward_by_name, {"name": name})
        if row is None:
            raise ValidationError({"ward": [f'No ward named "{name}".']})
        ids.append(row["id"])
    return ids


async def create_user(
    db: Database,
    username: str,
    password: str,
    email: str = "",
    staff: bool = False,
    superuser: bool = False,
    wards: list[str] | None = None,
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
        "password": await _hash(None, password),
        "email": email,
        "is_staff": staff or superuser,
        "is_superuser": superuser,
    }
    ids = await ward_ids(db, wards or [])
    async with db.transaction() as tx:
        user = User.from_row(await _write_user(tx, Q.insert_user, params))
        await tx.execute(Q.set_user_wards, {"user_id": user.id, "wards": ids})
        after = {"username": username, "email": email, "is_staff": staff or superuser, "is_superuser": superuser}
        await audit.record(tx, None, "user.create", "user", user.id, after={**after, "wards": ids})
    return replace(user, wards=frozenset(ids))


async def _user_named(db: Database, username: str) -> User:
    row = await db.fetchone(Q.user_by_username, {"username": username})
    if row is None:
        raise ValidationError({"username": [f'User "{username}" does not exist.']})
    return User.from_row(row)


async def change_password(db: Database, username: str, password: str) -> None:
    """The command line's password reset: every session of the user ends."""
    user = await _user_named(db, username)
    problems = passwords.password_problems(password, **_attributes(user))
    if problems:
        raise ValidationError({"password": problems})
    hashed = await _hash(None, password)
    async with db.transaction() as tx:
        await tx.execute(Q.set_password, {"id": user.id, "password": hashed})
        ended = await sessions.end_all(tx, user.id)
        await audit.record(tx, None, "user.set_password", "user", user.id, after={"sessions_ended": ended})


async def set_active(db: Database, username: str, active: bool) -> int:
    """Activate or deactivate a user; deactivation ends every session at
    once (and closes the sockets). Returns how many sessions ended."""
    user = await _user_named(db, username)
    async with db.transaction() as tx:
        if not active and user.is_superuser and user.is_active:
            others = [r["id"] for r in await tx.fetchall(Q.active_superusers) if r["id"] != user.id]
            if not others:
                raise ValidationError({"username": ["The last active superuser must stay an active superuser."]})
        row = await tx.fetchone(Q.set_user_active, {"username": username, "is_active": active})
        assert row is not None
        tx.emit(Event.user_changed(row))
        await audit.record(tx, None, "user.update", "user", row["id"], {"is_active": not active}, {"is_active": active})
        return 0 if active else await sessions.end_all(tx, row["id"])
