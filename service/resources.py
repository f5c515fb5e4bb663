"""What every resource's actions share, and the table of resources.

A resource is a set of plain async action functions. The HTTP routes
(``service/http/routes.py``) and the WebSocket streams
(``service/realtime/ws.py``) both look actions up here, so the two paths run
the very same validation, permission checks, SQL, history and events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import jsonutil
from .apidocs import ResourceDocs, Schema
from .context import Context
from .errors import NotFound, PreconditionFailed, ValidationError, not_found_for
from .validation import BIGINT_MAX, in_bigint, parse_pk

Obj = dict[str, Any]
Filters = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    """LimitOffsetPagination's window; lists are whole without one."""

    limit: int
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Listing:
    items: list[Obj]
    count: int | None = None  # total across pages, when paginated


ListAction = Callable[[Context, Filters, "Page | None"], Awaitable[Listing]]
RetrieveAction = Callable[[Context, Any], Awaitable[Obj]]
CreateAction = Callable[[Context, Any], Awaitable[Obj]]
UpdateAction = Callable[[Context, Any, Any, bool], Awaitable[Obj]]
DeleteAction = Callable[[Context, Any], Awaitable[None]]
# Extra actions on one object (restore, acknowledge): (ctx, pk) -> (status, obj)
DetailAction = Callable[[Context, Any], Awaitable[tuple[int, Obj]]]


@dataclass(frozen=True)
class Filter:
    """A query parameter of the list (``?name=``); the socket's ``list`` takes
    it at the top level of the payload. The list action reads and validates it."""

    name: str
    description: str  # for the API document
    schema: Schema  # its value's JSON schema (apidocs.REF, apidocs.BOOLEAN, ...)


@dataclass(frozen=True)
class Resource:
    name: str  # URL segment and stream name
    model: str  # for "No <model> matches the given query."; its schema's name in the API document
    lookup: str  # the lookup key in URLs and the "pk" of frames
    list: ListAction
    retrieve: RetrieveAction
    create: CreateAction | None = None
    update: UpdateAction | None = None
    delete: DeleteAction | None = None
    # Allowed on the socket only if also allowed over HTTP, and vice versa.
    detail_actions: dict[str, DetailAction] = field(default_factory=dict)
    filters: tuple[Filter, ...] = ()
    # Its texts and read-only properties in the API document (service/openapi/).
    docs: ResourceDocs = field(kw_only=True)


def etag(obj: Obj) -> str:
    """The entity tag of an object as the wire shows it: any change to any
    of its fields changes the tag (a strong validator, quoted)."""
    return '"' + hashlib.sha256(jsonutil.dumps(obj)).hexdigest()[:32] + '"'


def parse_if_match(raw: str | None) -> tuple[str, ...] | None:
    """An If-Match header (or a socket's ``if_match``): ``*`` or entity tags,
    quoted or not, weak (``W/``) or not; None when absent or empty."""
    if raw is None or not raw.strip():
        return None
    tags = []
    for part in raw.split(","):
        tag = part.strip().removeprefix("W/")
        if tag:
            tags.append(tag if tag == "*" or tag.startswith('"') else f'"{tag}"')
    return tuple(tags) or None


def check_if_match(ctx: Context, current: Obj) -> None:
    """412 when the client edits a version it no longer has (If-Match)."""
    if ctx.if_match is None:
        return
    if "*" not in ctx.if_match and etag(current) not in ctx.if_match:
        raise PreconditionFailed()


def lookup_id(raw: Any, model: str) -> int:
    """The integer id of a URL segment or frame ``pk``; NotFound otherwise."""
    pk = parse_pk(raw)
    if pk is None:
        raise NotFound("Not found.")
    if not in_bigint(pk):
        raise not_found_for(model)
    return pk


def id_filter(filters: Filters, name: str) -> int | None:
    """An optional ``?name=<id>`` list filter (django-filter's messages)."""
    raw = filters.get(name)
    if raw is None or raw == "":
        return None
    pk = parse_pk(raw)
    if pk is None or not in_bigint(pk):
        raise ValidationError({name: ["Select a valid choice. That choice is not one of the available choices."]})
    return pk


def window(page: Page | None) -> dict[str, int | None]:
    """LIMIT/OFFSET parameters of a list query (NULL limit = all rows).

    Capped at a bigint, the most PostgreSQL takes; no table holds more rows.
    """
    if page is None:
        return {"limit": None, "offset": 0}
    return {"limit": min(page.limit, BIGINT_MAX), "offset": min(page.offset, BIGINT_MAX)}


async def run_listing(
    ctx: Context,
    list_sql: str,
    count_sql: str,
    params: dict[str, Any],
    page: Page | None,
    serialize: Callable[[dict[str, Any]], Obj],
) -> Listing:
    rows = await ctx.db.fetchall(list_sql, {**params, **window(page)})
    count = None
    if page is not None:
        row = await ctx.db.fetchone(count_sql, params)
        count = row["count"] if row else 0
    return Listing([serialize(r) for r in rows], count)
