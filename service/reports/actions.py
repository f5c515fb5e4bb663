"""Report actions. Each write stores the change, its history row and its
events in one transaction (the SQL returns the history row it wrote)."""

from __future__ import annotations

from typing import Any

from ..apidocs import ResourceDocs
from ..context import Context
from ..db import Row, Tx
from ..errors import ValidationError, not_found_for
from ..lists import ListSpec
from ..notifications.actions import raise_for_report
from ..reminders import reschedule
from ..resources import (
    Filters,
    Obj,
    Resource,
    check_if_match,
    lookup_id,
    read_filters,
    ref_filter,
    scope,
    time_filter,
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


FILTERS = (
    ref_filter("patient", "Only those of this patient (id)."),
    ref_filter("ward", "Only those of this ward's patients (id)."),
    time_filter("since", "Only observations made at or after this time (ISO 8601)."),
    time_filter("until", "Only observations made at or before this time (ISO 8601)."),
)


def list_params(ctx: Context, filters: Filters) -> dict[str, Any]:
    return {**scope(ctx), **read_filters(FILTERS, filters, ctx.settings.tz)}


LIST = ListSpec.of("reports", key="time", params=list_params, serialize=lambda ctx, row: serialize(row, ctx))


async def retrieve(ctx: Context, pk: Any) -> Obj:
    row = await ctx.db.fetchone(Q.get_report, {"id": lookup_id(pk, MODEL), **scope(ctx)})
    if row is None:
        raise not_found_for(MODEL)
    return serialize(row, ctx)


async def write(
    ctx: Context, tx: Tx, sql: str, params: dict[str, Any], wards: dict[int, int], moved_from: int | None = None
) -> Row:
    """Run one report write and all that follows from it, in its transaction:
    events, the notifications its rules raise, the patient's next reminder.
    The caller holds the lock of every patient involved (``wards``: their
    wards, from lock_patients)."""
    history = await tx.fetchone(sql, params)
    if history is None:
        raise not_found_for(MODEL)
    report = report_of(history)
    ward = wards[report["patient"]]
    moved = moved_from is not None and moved_from != report["patient"]
    # A report moved to a patient of another ward: that ward's screens drop it.
    prior_ward = wards.get(moved_from) if moved and moved_from is not None else None
    left = (moved_from, prior_ward) if moved_from is not None and prior_ward not in (None, ward) else None
    emit_history_rows(tx, [history], ctx, ward, left)
    if history["history_type"] != "-":
        await raise_for_report(tx, report, ward)
    await reschedule(tx, report["patient"])
    if moved and moved_from is not None:
        await reschedule(tx, moved_from)
    return report


async def lock_patients(tx: Tx, *ids: int) -> dict[int, int]:
    """Take the write lock of these patients (in id order) until COMMIT, so
    that concurrent writes for one patient run one after the other and its
    reminder is always computed from its latest report; the ward of each
    that exists."""
    rows = await tx.fetchall(Q.lock_patients, {"ids": sorted(set(ids))})
    return {row["id"]: row["ward"] for row in rows}


def _sees_patient(ctx: Context, wards: dict[int, int], patient: int) -> bool:
    """The patient exists (``wards`` has the ward of every patient whose lock
    was taken) and the user may see it. Staff see every ward, so a missing
    patient must be caught here, not left to the foreign key (a 500)."""
    return patient in wards and ctx.require_user().sees(wards[patient])


def _unknown_patient(data: Any) -> ValidationError:
    return ValidationError({"patient": [does_not_exist(data.get("patient"))]})


async def locked_report(ctx: Context, tx: Tx, report_id: int, *patients: int) -> tuple[Row, dict[int, int]]:
    """The report, locked for writing, with its patient's lock and those of
    ``patients`` held (patients first, as every writer locks them); and the
    wards of those patients that exist. A report the user may not see is 404."""
    current = await tx.fetchone(Q.get_report, {"id": report_id, **scope(ctx)})
    if current is None:
        raise not_found_for(MODEL)
    while True:
        wards = await lock_patients(tx, current["patient"], *patients)
        locked = await tx.fetchone(Q.lock_report, {"id": report_id})
        if locked is None or not ctx.require_user().sees(wards.get(locked["patient"])):
            raise not_found_for(MODEL)
        if locked["patient"] == current["patient"]:
            return locked, wards
        current = locked  # moved to another patient meanwhile: lock that one too


async def create(ctx: Context, data: Any) -> Obj:
    actor = ctx.require_user()
    values = {**DEFAULTS, **validate(FIELDS, data, partial=False, tz=ctx.settings.tz)}
    check_consistency(values)
    async with ctx.db.transaction() as tx:
        wards = await lock_patients(tx, values["patient"])
        if not _sees_patient(ctx, wards, values["patient"]):  # missing, or not the user's to see
            raise _unknown_patient(data)
        report = await write(ctx, tx, Q.insert_report, {**values, "actor": actor.id}, wards)
    return serialize(report, ctx)


async def update(ctx: Context, pk: Any, data: Any, partial: bool) -> Obj:
    actor = ctx.require_user()
    report_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        if await tx.fetchone(Q.get_report, {"id": report_id, **scope(ctx)}) is None:
            raise not_found_for(MODEL)  # before validating, as DRF looks the object up first
        invalid: ValidationError | None = None
        try:
            clean = validate(FIELDS, data, partial=partial, tz=ctx.settings.tz)
        except ValidationError as exc:  # answered after the If-Match check (412 before 400)
            clean, invalid = {}, exc
        target = [clean["patient"]] if "patient" in clean else []
        current, wards = await locked_report(ctx, tx, report_id, *target)
        check_if_match(ctx, serialize(current, ctx))
        if invalid is not None:
            raise invalid
        if target and not _sees_patient(ctx, wards, target[0]):
            raise _unknown_patient(data)
        values = {**current, **clean}
        check_consistency(values)
        report = await write(ctx, tx, Q.update_report, {**values, "actor": actor.id}, wards, current["patient"])
    return serialize(report, ctx)


async def delete(ctx: Context, pk: Any) -> None:
    actor = ctx.require_user()
    report_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        current, wards = await locked_report(ctx, tx, report_id)
        check_if_match(ctx, serialize(current, ctx))
        await write(ctx, tx, Q.delete_report, {"id": report_id, "actor": actor.id}, wards)


RESOURCE = Resource(
    name=STREAM,
    model=MODEL,
    lookup="id",
    list=LIST,
    retrieve=retrieve,
    create=create,
    update=update,
    delete=delete,
    filters=FILTERS,
    docs=DOCS,
)
