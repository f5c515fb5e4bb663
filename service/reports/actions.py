"""Report actions. Each write stores the change, its history row and its
events in one transaction (the SQL returns the history row it wrote)."""

from __future__ import annotations

from typing import Any

import psycopg2.errors

from ..apidocs import REF, ResourceDocs
from ..context import Context
from ..db import Row, Tx
from ..errors import ValidationError, not_found_for
from ..notifications.actions import raise_for_report
from ..reminders import reschedule
from ..resources import Filter, Filters, Listing, Obj, Page, Resource, id_filter, lookup_id, run_listing
from ..sqlfiles import Q
from ..validation import does_not_exist, validate
from . import fields
from .fields import COLUMNS, DEFAULTS, DERIVED, FIELDS, check_consistency
from .history import STREAM, emit_history_rows, report_of

MODEL = "Report"
DOCS = ResourceDocs(
    "Observation rounds of a patient. Every change writes a history row and runs the clinical "
    "rules, which may raise notifications.",
    properties=(*COLUMNS, *DERIVED),
    fields=FIELDS,
)


def serialize(row: Row, ctx: Context) -> Obj:
    return fields.serialize(row, ctx.settings.tz)


async def list_reports(ctx: Context, filters: Filters, page: Page | None) -> Listing:
    ctx.require_user()
    params = {"patient": id_filter(filters, "patient")}
    return await run_listing(ctx, Q.list_reports, Q.count_reports, params, page, lambda r: serialize(r, ctx))


async def retrieve(ctx: Context, pk: Any) -> Obj:
    ctx.require_user()
    row = await ctx.db.fetchone(Q.get_report, {"id": lookup_id(pk, MODEL)})
    if row is None:
        raise not_found_for(MODEL)
    return serialize(row, ctx)


async def write(ctx: Context, tx: Tx, sql: str, params: dict[str, Any], moved_from: int | None = None) -> Row:
    """Run one report write and all that follows from it, in its transaction:
    events, the notifications its rules raise, the patient's next reminder."""
    history = await tx.fetchone(sql, params)
    if history is None:
        raise not_found_for(MODEL)
    emit_history_rows(tx, [history], ctx)
    report = report_of(history)
    if history["history_type"] != "-":
        await raise_for_report(tx, report)
    await reschedule(tx, report["patient"])
    if moved_from is not None and moved_from != report["patient"]:
        await reschedule(tx, moved_from)
    return report


def _unknown_patient(exc: psycopg2.errors.ForeignKeyViolation, data: Any) -> ValidationError:
    return ValidationError({"patient": [does_not_exist(data.get("patient"))]})


async def create(ctx: Context, data: Any) -> Obj:
    actor = ctx.require_user()
    values = {**DEFAULTS, **validate(FIELDS, data, partial=False, tz=ctx.settings.tz)}
    check_consistency(values)
    try:
        async with ctx.db.transaction() as tx:
            report = await write(ctx, tx, Q.insert_report, {**values, "actor": actor.id})
    except psycopg2.errors.ForeignKeyViolation as exc:
        raise _unknown_patient(exc, data) from None
    return serialize(report, ctx)


async def update(ctx: Context, pk: Any, data: Any, partial: bool) -> Obj:
    actor = ctx.require_user()
    report_id = lookup_id(pk, MODEL)
    try:
        async with ctx.db.transaction() as tx:
            current = await tx.fetchone(Q.lock_report, {"id": report_id})
            if current is None:  # before validating, as DRF looks the object up first
                raise not_found_for(MODEL)
            values = {**current, **validate(FIELDS, data, partial=partial, tz=ctx.settings.tz)}
            check_consistency(values)
            report = await write(ctx, tx, Q.update_report, {**values, "actor": actor.id}, current["patient"])
    except psycopg2.errors.ForeignKeyViolation as exc:
        raise _unknown_patient(exc, data) from None
    return serialize(report, ctx)


async def delete(ctx: Context, pk: Any) -> None:
    actor = ctx.require_user()
    report_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        await write(ctx, tx, Q.delete_report, {"id": report_id, "actor": actor.id})


RESOURCE = Resource(
    name=STREAM,
    model=MODEL,
    lookup="id",
    list=list_reports,
    retrieve=retrieve,
    create=create,
    update=update,
    delete=delete,
    filters=(Filter("patient", "Only those of this patient (id).", REF),),
    docs=DOCS,
)
