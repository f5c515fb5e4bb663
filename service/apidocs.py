"""What a resource says about itself in the API document (``/openapi.json``).

Each resource module writes its ``ResourceDocs`` beside its fields and passes
it as ``Resource(docs=...)``; its list filters carry their own descriptions
(``resources.Filter``). ``service/openapi/`` reads them and derives the rest
(paths, methods, request bodies, validation errors) from the resource itself,
so nothing here repeats what the code already says.

A property of an object is either one of the resource's ``validation.Field``s
(its schema comes from the field: type, bounds, lengths, choices) or a
``ReadOnly``: what the server computes or the database fills, written out with
one of the schemas below.

This module imports nothing of the OpenAPI package: the resources depend on it,
not the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .validation import Field

Schema = Mapping[str, Any]  # a JSON schema (OpenAPI 3.0 dialect)

# How the wire writes a datetime (jsonutil): UTC with Z (or an offset),
# microseconds only when they are not zero.
DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?(Z|[+-]\d{2}:\d{2})$"

ID: Schema = {"type": "integer", "format": "int64", "minimum": 1}  # the object's own id
REF: Schema = {"type": "integer", "format": "int64"}  # the id of another object
USER_ID: Schema = {"type": "integer", "format": "int64", "nullable": True}  # a user, null once deleted
DATETIME: Schema = {"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN}
DATETIME_IN: Schema = {"type": "string", "format": "date-time"}  # as a client may send it (ISO 8601)
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
NON_EMPTY_TEXT: Schema = {"type": "string", "minLength": 1}


def enum(*values: str) -> Schema:
    """A string that is one of these values."""
    return {"type": "string", "enum": list(values)}


def nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


@dataclass(frozen=True)
class ReadOnly:
    """A property the server computes or the database fills; never read from a body."""

    name: str
    schema: Schema
    description: str = ""


Property = Field | ReadOnly


@dataclass(frozen=True)
class Reply:
    """One reply of a detail action: its status, what it means, and the
    component schema of its body (a resource's ``model``, or ``Error``)."""

    status: int
    description: str
    schema: str = "Error"


@dataclass(frozen=True)
class ActionDoc:
    """A detail action (``POST /api/<resource>/<pk>/<action>/``)."""

    summary: str
    description: str
    # Its own replies. 401, 404 and 503 are added, and 403 when the action is
    # in ResourceDocs.restricted.
    replies: tuple[Reply, ...]
    # The fields of its request body, for an action that reads one (in
    # Resource.body_actions); 413 and 415 are then added.
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True)
class ResourceDocs:
    """The texts and read-only properties of one resource in the API document.

    The object's component schema is named after ``Resource.model``; the
    operations come from the resource's actions, the list parameters from its
    ``filters``.
    """

    description: str  # of the resource's tag: its section in Swagger UI
    properties: tuple[Property, ...]  # one object as returned, in the order of its keys
    fields: tuple[Field, ...] = ()  # the writable fields: request bodies and their field errors
    put_partial: bool = False  # PUT ignores missing fields, as PATCH does
    update_description: str = ""  # of PUT and PATCH
    # Operations ("list", "create", "retrieve", "update", "delete" or a detail
    # action's name) only some may call -> who (e.g. "superusers only"):
    # 403 for anyone else, and "(who)" after the operation's summary.
    restricted: dict[str, str] = field(default_factory=dict)
    # Replies of the standard operations beyond the usual ones, e.g. the 409
    # of deleting a ward that has patients: operation -> replies.
    replies: dict[str, tuple[Reply, ...]] = field(default_factory=dict)
    actions: dict[str, ActionDoc] = field(default_factory=dict)  # one for each detail action
