"""Idempotent writes: ``Idempotency-Key`` (HTTP) or ``"idempotency_key"``
(socket payloads).

The first request with a key runs; its reply (status and body) is stored
in the same transaction as the change it made. A retry with the same key
and the same request within ``RETENTION_SECONDS`` gets the stored reply
and runs nothing; the same key with another request is 422. So a client
that saw a 503 or a dropped connection after an ambiguous commit can retry
and nothing is written twice. A retry racing its first attempt waits for
it (the key's row is claimed first, under a unique index). Failed requests
store nothing: their transaction rolled back, so a retry runs again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from . import jsonutil
from .context import Context
from .errors import ApiError, ValidationError
from .sqlfiles import Q
from .validation import FormData

RETENTION_SECONDS = 24 * 3600
KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as a header carries it
KEY_MESSAGE = "An idempotency key is 1 to 255 visible ASCII characters."


class KeyReused(ApiError):
    status = 422
    default_detail = "This idempotency key was already used for another request."


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any
    replayed: bool = False  # the stored reply of an earlier request with the key


def check_key(key: Any, field: str = "idempotency_key") -> str:
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise ValidationError({field: [KEY_MESSAGE]})
    return key


def fingerprint(*parts: Any) -> bytes:
    """What makes two requests "the same": their parts, keys sorted. A form's
    repeated keys (``wards=1&wards=2``) add a part of their own, so forms
    without them keep the hash they always had."""
    plain: list[Any] = []
    for p in parts:
        plain.append(dict(p) if isinstance(p, Mapping) else p)
        if isinstance(p, FormData) and any(len(values) > 1 for values in p.lists.values()):
            plain.append({"repeated form keys": {k: v for k, v in p.lists.items() if len(v) > 1}})
    try:
        text = orjson.dumps(plain, default=str, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        # What orjson refuses but a body may hold: an integer beyond 64 bits,
        # a lone surrogate (JSON's "\ud800"), nesting deeper than 254 levels.
        # The standard library writes those (the body parsed, so it nests
        # within its limits); its text cannot equal orjson's text of another
        # request, since both are exact JSON of their data.
        text = json.dumps(plain, default=str, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(text).digest()


async def run_once(ctx: Context, key: str, request: bytes, call: Callable[[], Awaitable[tuple[int, Any]]]) -> Reply:
    """Run ``call`` unless this user's key has a stored reply; store its reply."""
    user = ctx.require_user()
    ids = {"user_id": user.id, "key": key}
    async with ctx.db.transaction(shared=True) as tx:
        claim = {**ids, "request_hash": request, "retention_seconds": RETENTION_SECONDS}
        if await tx.fetchone(Q.claim_idempotency_key, claim) is None:
            stored = await tx.fetchone(Q.stored_reply, ids)
            assert stored is not None and stored["status"] is not None  # committed by the first attempt
            if bytes(stored["request_hash"]) != request:
                raise KeyReused()
            return Reply(stored["status"], orjson.loads(stored["body"]), replayed=True)
        status, data = await call()
        await tx.later(Q.store_reply, {**ids, "status": status, "body": jsonutil.dumps(data).decode()})
    return Reply(status, data)
