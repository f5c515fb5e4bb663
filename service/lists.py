"""Lists that cost what a page costs, at any depth of years of data.

Every list is ordered by (a key column, the id) descending, and its named
queries take the same parameters: its filters (NULL when not given: planned
per call, see db.py), a keyset to continue after (``after_key``,
``after_id``), a LIMIT and an OFFSET. From that one shape come:

- cursor pages (``?cursor=``): DRF CursorPagination's ``{"next", "previous",
  "results"}``, O(page) at any depth and stable under concurrent inserts;
- limit/offset pages (``?limit=``, at most LIST_MAX_PAGE_SIZE rows):
  LimitOffsetPagination, with a count bounded at LIST_COUNT_BOUND (beyond
  it the reply says the count is not exact);
- whole lists, read as keyset chunks of ``CHUNK`` rows, each its own short
  query, so nobody holds a connection or a snapshot while a client reads.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from . import jsonutil
from .context import Context
from .db import Row
from .errors import NotFound
from .sqlfiles import Q, Query
from .validation import BIGINT_MAX

Obj = dict[str, Any]
Filters = Mapping[str, Any]

# Rows per query of a whole list. Each chunk is serialised in one go, which
# holds the event loop: 1,000 reports took 21-41 ms, 250 take 5-10 ms, and
# 100,000 reports stream in the same time either way (README, Performance).
CHUNK = 250
DEFAULT_PAGE_SIZE = 100
INVALID_CURSOR = "Invalid cursor"  # DRF's text


class InvalidCursor(NotFound):
    """DRF's 404 for a cursor it did not make; the socket says the same."""

    default_detail = INVALID_CURSOR

    def ws_errors(self) -> list[Any]:
        return [self.detail]


@dataclass(frozen=True)
class ListSpec:
    """How one resource lists: its queries, its order and its filters."""

    forward: Query  # newest first, after an optional keyset, LIMIT/OFFSET
    back: Query  # oldest first from before a keyset (a cursor's "previous")
    count: Query  # bounded count with the same filters
    key: str  # the column it is ordered by (then by id), as the rows name it
    id: str  # the row's id column
    # The query parameters of its filters (validated; the caller's wards among them).
    params: Callable[[Context, Filters], dict[str, Any]]
    serialize: Callable[[Context, Row], Obj]

    @classmethod
    def of(
        cls,
        name: str,
        key: str,
        params: Callable[[Context, Filters], dict[str, Any]],
        serialize: Callable[[Context, Row], Obj],
        id: str = "id",
    ) -> ListSpec:
        """The list whose named queries are ``list_<name>``,
        ``list_<name>_back`` and ``count_<name>`` (sql/)."""
        return cls(
            forward=getattr(Q, f"list_{name}"),
            back=getattr(Q, f"list_{name}_back"),
            count=getattr(Q, f"count_{name}"),
            key=key,
            id=id,
            params=params,
            serialize=serialize,
        )


@dataclass(frozen=True)
class Cursor:
    """A position in a list: the key and id of a row, and the direction."""

    key: Any
    id: int
    back: bool = False

    def encode(self) -> str:
        raw = orjson.dumps([self.key, self.id, 1 if self.back else 0])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            key, pk, back = orjson.loads(raw)
        except (binascii.Error, ValueError, TypeError):
            raise InvalidCursor() from None
        # Every list is ordered by a timestamp (the queries cast the key to
        # timestamptz): any other key would fail in PostgreSQL, a 500.
        moment = _instant(key) if isinstance(key, str) and len(key) <= 64 else None
        if moment is None or not isinstance(pk, int) or isinstance(pk, bool) or not 0 <= pk <= BIGINT_MAX:
            raise InvalidCursor()
        return cls(moment, pk, back == 1)


def _instant(text: str) -> str | None:
    """A cursor's key as PostgreSQL reads it: an aware moment, written in
    UTC (Python also reads ISO week dates and offsets PostgreSQL refuses)."""
    try:
        moment = dt.datetime.fromisoformat(text)
        return None if moment.tzinfo is None else moment.astimezone(dt.UTC).isoformat()
    except (ValueError, OverflowError):
        return None


def _wire_key(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


@dataclass(frozen=True)
class CursorPage:
    results: list[Obj]
    next: Cursor | None
    previous: Cursor | None


def page_size(raw: Any, maximum: int) -> int:
    """``page_size`` (or a ``limit``): the default when absent or not a
    positive integer, and at most ``maximum`` (LIST_MAX_PAGE_SIZE)."""
    try:
        size = int(raw)
    except (TypeError, ValueError, OverflowError):
        return DEFAULT_PAGE_SIZE
    return min(size, maximum) if size > 0 else DEFAULT_PAGE_SIZE


def _keyset(after: Cursor | None) -> dict[str, Any]:
    return {"after_key": after.key if after else None, "after_id": after.id if after else None}


async def rows(
    ctx: Context, spec: ListSpec, params: dict[str, Any], limit: int, offset: int = 0, after: Cursor | None = None
) -> list[Row]:
    query = {**params, **_keyset(after), "limit": limit, "offset": offset}
    return await ctx.db.fetchall(spec.forward, query)


async def cursor_page(ctx: Context, spec: ListSpec, filters: Filters, token: str, size: int) -> CursorPage:
    params = spec.params(ctx, filters)
    cursor = Cursor.decode(token) if token else None
    if cursor is not None and cursor.back:
        found = await ctx.db.fetchall(
            spec.back, {**params, "before_key": cursor.key, "before_id": cursor.id, "limit": size + 1}
        )
        more_before = len(found) > size
        found = list(reversed(found[:size]))
        if not found:
            return CursorPage([], Cursor(cursor.key, cursor.id + 1), None)  # the page that starts at it
        first, last = found[0], found[-1]
        previous = Cursor(_wire_key(first[spec.key]), first[spec.id], back=True) if more_before else None
        return CursorPage(
            [spec.serialize(ctx, r) for r in found], Cursor(_wire_key(last[spec.key]), last[spec.id]), previous
        )
    found = await rows(ctx, spec, params, size + 1, after=cursor)
    more_after = len(found) > size
    found = found[:size]
    nxt = None
    if more_after:
        last = found[-1]
        nxt = Cursor(_wire_key(last[spec.key]), last[spec.id])
    previous = None
    if cursor is not None:
        head = found[0] if found else None
        previous = (
            Cursor(_wire_key(head[spec.key]), head[spec.id], back=True)
            if head
            else Cursor(cursor.key, cursor.id - 1, back=True)  # past the end: the page that ends at it
        )
    return CursorPage([spec.serialize(ctx, r) for r in found], nxt, previous)


async def offset_page(
    ctx: Context, spec: ListSpec, filters: Filters, limit: int, offset: int
) -> tuple[list[Obj], int, bool]:
    """A limit/offset page, its count (exact up to LIST_COUNT_BOUND) and
    whether the count is exact."""
    params = spec.params(ctx, filters)
    bound = ctx.settings.list_count_bound
    limit, offset = min(limit, ctx.settings.list_max_page_size), min(offset, BIGINT_MAX)
    found = await rows(ctx, spec, params, limit, offset)
    counted = await ctx.db.fetchone(spec.count, {**params, "bound": bound + 1})
    count = counted["count"] if counted else 0
    exact = count <= bound
    return [spec.serialize(ctx, r) for r in found], min(count, bound), exact


async def chunks(ctx: Context, spec: ListSpec, filters: Filters, chunk: int = CHUNK) -> AsyncIterator[list[Obj]]:
    """The whole list as chunks, each read by its own query after the last
    row of the one before (the filters are checked before the first)."""
    params = spec.params(ctx, filters)
    after: Cursor | None = None
    while True:
        found = await rows(ctx, spec, params, chunk, after=after)
        if found:
            yield [spec.serialize(ctx, r) for r in found]
        if len(found) < chunk:
            return
        last = found[-1]
        after = Cursor(_wire_key(last[spec.key]), last[spec.id])


async def capped(ctx: Context, spec: ListSpec, filters: Filters, cap: int, budget: int) -> tuple[list[Obj], bool]:
    """At most ``cap`` rows, newest first, and at most ``budget`` bytes of
    them as JSON; and whether there were more."""
    found = await rows(ctx, spec, spec.params(ctx, filters), cap + 1)
    items: list[Obj] = []
    size = 2  # []
    for row in found[:cap]:
        item = spec.serialize(ctx, row)
        size += len(jsonutil.dumps(item)) + 1
        if size > budget:
            return items, True
        items.append(item)
    return items, len(found) > cap
