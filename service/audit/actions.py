"""The audit log: every change to users, wards and ward membership, who
made it, what it was before and after, and when. Staff read it at
``/api/audit/``; nobody can change it (the table refuses UPDATE and DELETE)."""

from __future__ import annotations

from typing import Any

from .. import jsonutil
from ..apidocs import DATETIME, ID, REF, USER_ID, ReadOnly, ResourceDocs, enum, nullable
from ..context import Context
from ..db import Tx
from ..errors import PermissionDenied, not_found_for
from ..lists import ListSpec
from ..resources import (
    Filters,
    Obj,
    Resource,
    lookup_id,
    read_filters,
    ref_filter,
)
from ..sqlfiles import Q

STREAM = "audit"
MODEL = "AuditEntry"
STAFF_ONLY = "staff only"


def require_staff(ctx: Context) -> None:
    """Managing users and wards, and reading the audit log, is for staff."""
    if not ctx.require_user().sees_all:
        raise PermissionDenied()


async def record(
    tx: Tx,
    actor: int | None,
    action: str,
    target_type: str,
    target_id: int,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one entry, in the change's own transaction (``actor`` None:
    the command line)."""
    await tx.later(
        Q.insert_audit,
        {
            "actor": actor,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "before": None if before is None else jsonutil.dumps(before).decode(),
            "after": None if after is None else jsonutil.dumps(after).decode(),
        },
    )


FILTERS = (ref_filter("user", "Entries by this user, or about them (id)."),)


def list_params(ctx: Context, filters: Filters) -> dict[str, Any]:
    require_staff(ctx)
    return read_filters(FILTERS, filters, ctx.settings.tz)


def serialize(ctx: Context, row: dict[str, Any]) -> Obj:
    return row


async def retrieve(ctx: Context, pk: Any) -> Obj:
    require_staff(ctx)
    row = await ctx.db.fetchone(Q.get_audit, {"id": lookup_id(pk, MODEL)})
    if row is None:
        raise not_found_for(MODEL)
    return row


LIST = ListSpec.of("audit", key="at", params=list_params, serialize=serialize)
CHANGE = nullable({"type": "object", "description": "The fields as they were (or became); passwords never."})
DOCS = ResourceDocs(
    "Every change to users, wards and ward membership, newest first: who, what, before, after, when. "
    "Append-only; staff only.",
    properties=(
        ReadOnly("id", ID),
        ReadOnly("at", DATETIME),
        ReadOnly("actor", USER_ID, "Who made the change (null: the command line)."),
        ReadOnly("action", {"type": "string", "description": "e.g. `user.create`, `user.update`, `ward.delete`."}),
        ReadOnly("target_type", enum("user", "ward")),
        ReadOnly("target_id", REF),
        ReadOnly("before", CHANGE),
        ReadOnly("after", CHANGE),
    ),
    restricted={"list": STAFF_ONLY, "retrieve": STAFF_ONLY},
)
RESOURCE = Resource(
    name=STREAM,
    model=MODEL,
    lookup="id",
    list=LIST,
    retrieve=retrieve,
    filters=FILTERS,
    docs=DOCS,
)
