"""What every resource's actions share, and the table of resources.

A resource is a set of plain async action functions. The HTTP routes
(``service/http/routes.py``) and the WebSocket streams
(``service/realtime/ws.py``) both look actions up here, so the two paths run
the very same validation, permission checks, SQL, history and events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import jsonutil
from .apidocs import BOOLEAN, DATETIME_IN, REF, ResourceDocs, Schema
from .context import Context
from .errors import NotFound, PreconditionFailed, ValidationError, not_found_for
from .lists import ListSpec
from .validation import Field, FieldError, Kind, clean_value, in_bigint, parse_pk

Obj = dict[str, Any]
Filters = Mapping[str, Any]


RetrieveAction = Callable[[Context, Any], Awaitable[Obj]]
CreateAction = Callable[[Context, Any], Awaitable[Obj]]
UpdateAction = Callable[[Context, Any, Any, bool], Awaitable[Obj]]
DeleteAction = Callable[[Context, Any], Awaitable[None]]
# Extra actions on one object (restore, acknowledge, set_password):
# (ctx, pk, body or None) -> (status, obj)
DetailAction = Callable[[Context, Any, Any], Awaitable[tuple[int, Obj]]]


# Reads one list filter from the request's filters: (filters, name, time zone)
# -> its value for the queries, None when not given; ValidationError if bad.
FilterReader = Callable[[Mapping[str, Any], str, Any], Any]


@dataclass(frozen=True)
class Filter:
    """A query parameter of the list (``?name=``); the socket's ``list`` takes
    it at the top level of the payload. Declared once: the API document shows
    it and the list reads it with ``read`` (see ``read_filters``)."""

    name: str
    description: str  # for the API document
    schema: Schema  # its value's JSON schema (apidocs.REF, apidocs.BOOLEAN, ...)
    read: FilterReader


def read_filters(declared: tuple[Filter, ...], filters: Mapping[str, Any], tz: Any) -> dict[str, Any]:
    """The values of a list's declared filters, in their order (the first bad one answers 400)."""
    return {f.name: f.read(filters, f.name, tz) for f in declared}


def ref_filter(name: str, description: str) -> Filter:
    return Filter(name, description, REF, lambda filters, n, tz: read_id(filters, n))


def bool_filter(name: str, description: str) -> Filter:
    return Filter(name, description, BOOLEAN, read_bool)


def time_filter(name: str, description: str) -> Filter:
    return Filter(name, description, DATETIME_IN, read_time)


@dataclass(frozen=True)
class Resource:
    name: str  # URL segment and stream name
    model: str  # for "No <model> matches the given query."; its schema's name in the API document
    lookup: str  # the lookup key in URLs and the "pk" of frames
    list: ListSpec
    retrieve: RetrieveAction
    create: CreateAction | None = None
    update: UpdateAction | None = None
    delete: DeleteAction | None = None
    # Allowed on the socket only if also allowed over HTTP, and vice versa.
    detail_actions: dict[str, DetailAction] = field(default_factory=dict)
    # Those of the detail actions that read a body (the others ignore it).
    body_actions: frozenset[str] = frozenset()
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


def read_id(filters: Filters, name: str) -> int | None:
    """An optional ``?name=<id>`` list filter (django-filter's messages)."""
    raw = filters.get(name)
    if raw is None or raw == "":
        return None
    pk = parse_pk(raw)
    if pk is None or not in_bigint(pk):
        raise ValidationError({name: ["Select a valid choice. That choice is not one of the available choices."]})
    return pk


def read_bool(filters: Filters, name: str, tz: Any) -> bool | None:
    """An optional ``?name=true|false`` list filter."""
    raw = filters.get(name)
    if raw is None or raw == "":
        return None
    try:
        return clean_value(Field(name, Kind.BOOL), raw, tz)
    except FieldError as exc:
        raise ValidationError({name: exc.messages}) from None


def read_time(filters: Filters, name: str, tz: Any) -> dt.datetime | None:
    """An optional ``?since=`` / ``?until=`` moment (ISO 8601, as fields take it)."""
    raw = filters.get(name)
    if raw is None or raw == "":
        return None
    try:
        return clean_value(Field(name, Kind.DATETIME), raw, tz)
    except FieldError as exc:
        raise ValidationError({name: exc.messages}) from None


SEARCH_MAX = 100


def read_search(filters: Filters, name: str = "search", tz: Any = None) -> str | None:
    """``?search=``: a case-insensitive substring, as an ILIKE pattern."""
    raw = filters.get(name)
    if raw is None or not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    if len(text) > SEARCH_MAX:
        raise ValidationError({name: [f"Ensure this field has no more than {SEARCH_MAX} characters."]})
    if "\x00" in text:
        raise ValidationError({name: ["Null characters are not allowed."]})
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def scope(ctx: Context) -> dict[str, Any]:
    """The caller's need-to-know: ``wards`` for the queries (NULL: every ward)."""
    return {"wards": ctx.require_user().scope()}
