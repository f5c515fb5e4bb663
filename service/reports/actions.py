"""Report actions. Each write stores the change, its history row and its
events in one transaction (the SQL returns the history row it wrote)."""

from __future__ import annotations

from typing import Any

from ..apidocs import REF, ResourceDocs
from ..context import Context
from ..db import Row, Tx
from ..errors import ValidationError, not_found_for
from ..notifications.actions import raise_for_report
from ..reminders import reschedule
from ..resources import (
    Filter,
    Filters,
    Listing,
    Obj,
    Page,
    Resource,
    check_if_match,
    id_filter,
    lookup_id,
    run_listing,
)
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
    events, the notifications its rules raise, the patient's next reminder.
    The caller holds the lock of every patient involved (lock_patients)."""
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


async def lock_patients(tx: Tx, *ids: int) -> set[int]:
    """Take the write lock of these patients (in id order) until COMMIT, so
    that concurrent writes for one patient run one after the other and its
    reminder is always computed from its latest report; the ids that exist."""
    rows = await tx.fetchall(Q.lock_patients, {"ids": sorted(set(ids))})
    return {row["id"] for row in rows}


def _unknown_patient(data: Any) -> ValidationError:
    return ValidationError({"patient": [does_not_exist(data.get("patient"))]})


async def locked_report(tx: Tx, report_id: int, *patients: int) -> tuple[Row, set[int]]:
    """The report, locked for writing, with its patient's lock and those of
    ``patients`` held (patients first, as every writer locks them); and which
    of those patients exist."""
    current = await tx.fetchone(Q.get_report, {"id": report_id})
    if current is None:
        raise not_found_for(MODEL)
    while True:
        existing = await lock_patients(tx, current["patient"], *patients)
        locked = await tx.fetchone(Q.lock_report, {"id": report_id})
        if locked is None:
            raise not_found_for(MODEL)
        if locked["patient"] == current["patient"]:
            return locked, existing
        current = locked  # moved to another patient meanwhile: lock that one too


async def create(ctx: Context, data: Any) -> Obj:
    actor = ctx.require_user()
    values = {**DEFAULTS, **validate(FIELDS, data, partial=False, tz=ctx.settings.tz)}
    check_consistency(values)
    async with ctx.db.transaction() as tx:
        if not await lock_patients(tx, values["patient"]):
            raise _unknown_patient(data)
        report = await write(ctx, tx, Q.insert_report, {**values, "actor": actor.id})
    return serialize(report, ctx)


async def update(ctx: Context, pk: Any, data: Any, partial: bool) -> Obj:
    actor = ctx.require_user()
    report_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        if await tx.fetchone(Q.get_report, {"id": report_id}) is None:
            raise not_found_for(MODEL)  # before validating, as DRF looks the object up first
        invalid: ValidationError | None = None
        try:
            clean = validate(FIELDS, data, partial=partial, tz=ctx.settings.tz)
        except ValidationError as exc:  # answered after the If-Match check (412 before 400)
            clean, invalid = {}, exc
        target = [clean["patient"]] if "patient" in clean else []
        current, existing = await locked_report(tx, report_id, *target)
        check_if_match(ctx, serialize(current, ctx))
        if invalid is not None:
            raise invalid
        if target and target[0] not in existing:
            raise _unknown_patient(data)
        values = {**current, **clean}
        check_consistency(values)
        report = await write(ctx, tx, Q.update_report, {**values, "actor": actor.id}, current["patient"])
    return serialize(report, ctx)


async def delete(ctx: Context, pk: Any) -> None:
    actor = ctx.require_user()
    report_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        current, _ = await locked_report(tx, report_id)
        check_if_match(ctx, serialize(current, ctx))
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
