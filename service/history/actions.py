"""The audit trail of reports: read, annotate, restore; never rewrite.

PATCH/PUT may change only ``history_change_reason`` (other keys are ignored);
DELETE is for superusers; restore brings a report back to one version.
"""

from __future__ import annotations

from typing import Any

import psycopg2.errors

from .. import events
from ..apidocs import DATETIME, ID, REF, USER_ID, ActionDoc, ReadOnly, Reply, ResourceDocs, enum
from ..context import Context
from ..errors import Conflict, PermissionDenied, not_found_for
from ..events import Event
from ..reports import actions as reports
from ..reports.actions import serialize, write
from ..reports.fields import COLUMNS
from ..reports.history import HISTORY_COLUMNS, HISTORY_STREAM
from ..resources import Filter, Filters, Listing, Obj, Page, Resource, id_filter, lookup_id, run_listing
from ..sqlfiles import Q
from ..validation import Field, Kind, validate

MODEL = "HistoricalReport"
FIELDS = (Field("history_change_reason", Kind.TEXT, nullable=True, max_length=100),)
HISTORY = (
    ReadOnly("history_id", ID),
    ReadOnly("history_date", DATETIME, "When the change was recorded."),
    *FIELDS,
    ReadOnly("history_type", enum("+", "~", "-"), "+ created, ~ changed, - deleted."),
    ReadOnly("history_user", USER_ID, "Who made the change."),
)
assert {p.name for p in HISTORY} == set(HISTORY_COLUMNS), "history columns changed: describe them here"


async def list_history(ctx: Context, filters: Filters, page: Page | None) -> Listing:
    ctx.require_user()
    params = {"report": id_filter(filters, "report"), "patient": id_filter(filters, "patient")}
    return await run_listing(ctx, Q.list_history, Q.count_history, params, page, dict)


async def retrieve(ctx: Context, pk: Any) -> Obj:
    ctx.require_user()
    row = await ctx.db.fetchone(Q.get_history, {"history_id": lookup_id(pk, MODEL)})
    if row is None:
        raise not_found_for(MODEL)
    return row


async def update(ctx: Context, pk: Any, data: Any, partial: bool) -> Obj:
    ctx.require_user()
    history_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        row = await tx.fetchone(Q.get_history, {"history_id": history_id})
        if row is None:  # before validating, as DRF looks the object up first
            raise not_found_for(MODEL)
        clean = validate(FIELDS, data, partial=True, tz=ctx.settings.tz)
        if "history_change_reason" in clean:
            row = await tx.fetchone(Q.set_history_reason, {"history_id": history_id, **clean})
            assert row is not None
            tx.emit(Event.of(HISTORY_STREAM, events.UPDATE, row, pk_key="history_id"))
    return row


async def delete(ctx: Context, pk: Any) -> None:
    if not ctx.require_user().is_superuser:
        raise PermissionDenied()
    history_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        if await tx.fetchone(Q.delete_history, {"history_id": history_id}) is None:
            raise not_found_for(MODEL)
        tx.emit(Event.deleted(HISTORY_STREAM, history_id))


async def restore(ctx: Context, pk: Any) -> tuple[int, Obj]:
    """Bring the report back to this version: 200, or 201 if it is re-created."""
    actor = ctx.require_user()
    history_id = lookup_id(pk, MODEL)
    params = {"history_id": history_id, "actor": actor.id, "reason": f"Restored from history {history_id}"}
    try:
        async with ctx.db.transaction() as tx:
            version = await tx.fetchone(Q.get_history, {"history_id": history_id})
            if version is None:
                raise not_found_for(MODEL)
            exists = await tx.execute(Q.lock_report, {"id": version["id"]})
            status = 200 if exists else 201
            sql = Q.restore_report_update if status == 200 else Q.restore_report_insert
            report = await write(ctx, tx, sql, params)
    except psycopg2.errors.ForeignKeyViolation:
        raise Conflict("The patient of this report no longer exists; it cannot be restored.") from None
    return status, serialize(report, ctx)


DOCS = ResourceDocs(
    "The audit trail of reports (django-simple-history's layout), newest first. "
    "Only `history_change_reason` can be edited.",
    properties=(*HISTORY, *COLUMNS),  # a history row: its own columns, then the report as it was
    fields=FIELDS,
    put_partial=True,
    update_description="Changes only `history_change_reason`; every other key is ignored. PUT is partial too.",
    superusers_only=("delete",),
    actions={
        "restore": ActionDoc(
            "Restore a report to this version",
            "Brings the report back to the values of this history row, with its old id, and records a new "
            "history row by the acting user (`~`, or `+` when the report is re-created). No request body.",
            (
                Reply(200, "The report existed and was changed back.", reports.MODEL),
                Reply(201, "The report had been deleted and was re-created.", reports.MODEL),
                Reply(409, "The report's patient no longer exists, so the report cannot be re-created."),
            ),
        )
    },
)

RESOURCE = Resource(
    name=HISTORY_STREAM,
    model=MODEL,
    lookup="history_id",
    list=list_history,
    retrieve=retrieve,
    update=update,
    delete=delete,
    detail_actions={"restore": restore},
    filters=(
        Filter("report", "Only the history of this report (id).", REF),
        Filter("patient", "Only those of this patient (id).", REF),
    ),
    docs=DOCS,
)
