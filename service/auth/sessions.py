"""Per-device sessions: one key per login, stored only as its SHA-256.

A key is what dj-rest-auth calls a token (40 hex characters, sent as
``Authorization: Token <key>`` or ``/ws/?token=<key>``). A session ends on
logout, when its owner ends it from another device, on a password change,
when its user is deactivated, after ``TOKEN_IDLE_SECONDS`` without use and
after ``TOKEN_MAX_AGE_SECONDS`` in any case. Ending sessions commits an
internal event (events.SESSIONS_ENDED) in the same transaction, so every
process closes the sockets of those sessions (4401) in event order.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..context import Context, User
from ..db import Database, Tx
from ..errors import AuthenticationFailed, NotFound
from ..events import Event
from ..resources import lookup_id
from ..sqlfiles import Q

KEY_RE = re.compile(r"[0-9a-f]{40}")
USER_AGENT_MAX = 256
CLIENT_MAX = 64


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode("ascii")).digest()


def limits(settings: Settings) -> dict[str, int]:
    return {"idle_seconds": settings.token_idle_seconds, "max_age_seconds": settings.token_max_age_seconds}


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a key belongs to, and for how long it may still hold."""

    user: User
    session_id: int
    idle_left: float
    age_left: float


async def identify(db: Database, settings: Settings, key: str) -> Identity:
    """The active user of a live session key, or AuthenticationFailed with DRF's text."""
    row = None
    if KEY_RE.fullmatch(key):
        row = await db.fetchone(Q.session_user, {"key_hash": key_hash(key), **limits(settings)})
    if row is None:
        raise AuthenticationFailed("Invalid token.")
    user = User.from_row(row)
    if not user.is_active:
        raise AuthenticationFailed("User inactive or deleted.")
    return Identity(user, row["session_id"], row["idle_left"], row["age_left"])


async def start(db: Database, user_id: int, user_agent: str, client: str) -> str:
    """A new session for a user who has just proved who they are; its key."""
    key = secrets.token_hex(20)
    params = {
        "key_hash": key_hash(key),
        "user_id": user_id,
        "user_agent": user_agent[:USER_AGENT_MAX],
        "client": client[:CLIENT_MAX],
    }
    await db.fetchone(Q.create_session, params)
    return key


def emit_ended(tx: Tx, user_id: int, rows: list[dict[str, Any]]) -> int:
    """Tell every process that these sessions ended (their sockets close)."""
    ids = [row["id"] for row in rows]
    if ids:
        tx.emit(Event.sessions_ended(user_id, ids))
    return len(ids)


async def end_all(tx: Tx, user_id: int, keep: int | None = None) -> int:
    """End every session of a user (but ``keep``); how many ended."""
    rows = await tx.fetchall(Q.end_other_sessions, {"user_id": user_id, "keep": keep})
    return emit_ended(tx, user_id, rows)


def serialize(row: dict[str, Any], current: int | None) -> dict[str, Any]:
    return {**row, "current": row["id"] == current}


async def list_mine(ctx: Context) -> list[dict[str, Any]]:
    user = ctx.require_user()
    rows = await ctx.db.fetchall(Q.list_sessions, {"user_id": user.id, **limits(ctx.settings)})
    return [serialize(row, ctx.session_id) for row in rows]


async def end_mine(ctx: Context, pk: Any) -> None:
    """End one of the caller's sessions (the current one too: that is a logout)."""
    user = ctx.require_user()
    session_id = lookup_id(pk, "Session")
    async with ctx.db.transaction() as tx:
        rows = await tx.fetchall(Q.end_session, {"id": session_id, "user_id": user.id})
        if not rows:
            raise NotFound()
        emit_ended(tx, user.id, rows)


async def end_others(ctx: Context) -> dict[str, Any]:
    user = ctx.require_user()
    async with ctx.db.transaction() as tx:
        ended = await end_all(tx, user.id, keep=ctx.session_id)
    return {"detail": "Every other session has ended.", "ended": ended}
