"""Patient actions: list, retrieve, create, update/patch, delete."""

from __future__ import annotations

from typing import Any

from .. import events
from ..apidocs import DATETIME, ID, ReadOnly, ResourceDocs
from ..context import Context
from ..errors import ValidationError, not_found_for
from ..events import Event
from ..reminders import reschedule
from ..reports.history import emit_history_rows
from ..resources import Filters, Listing, Obj, Page, Resource, check_if_match, lookup_id, run_listing
from ..sqlfiles import Q
from ..validation import Field, Kind, clinical_datetime, validate

STREAM = "patients"
MODEL = "Patient"

FIELDS = (
    Field("first_name", Kind.TEXT, required=True, allow_blank=False, max_length=240),
    Field("last_name", Kind.TEXT, required=True, allow_blank=False, max_length=240),
    clinical_datetime("admission_date", required=True),
    clinical_datetime("dismissal_date", nullable=True),
)
DEFAULTS: dict[str, Any] = {"dismissal_date": None}
DOCS = ResourceDocs(
    "Patients of the ward. Deleting a patient deletes their reports (each leaves a history row).",
    properties=(ReadOnly("id", ID), *FIELDS, ReadOnly("created_at", DATETIME), ReadOnly("updated_at", DATETIME)),
    fields=FIELDS,
)
DISMISSAL_BEFORE_ADMISSION = "The dismissal date must not be before the admission date."


def serialize(row: dict[str, Any]) -> Obj:
    return row  # the queries select exactly the wire fields, in order


def check_dates(values: dict[str, Any]) -> None:
    dismissal = values.get("dismissal_date")
    if dismissal is not None and dismissal < values["admission_date"]:
        raise ValidationError({"dismissal_date": [DISMISSAL_BEFORE_ADMISSION]})


async def list_patients(ctx: Context, filters: Filters, page: Page | None) -> Listing:
    ctx.require_user()
    return await run_listing(ctx, Q.list_patients, Q.count_patients, {}, page, serialize)


async def retrieve(ctx: Context, pk: Any) -> Obj:
    ctx.require_user()
    row = await ctx.db.fetchone(Q.get_patient, {"id": lookup_id(pk, MODEL)})
    if row is None:
        raise not_found_for(MODEL)
    return serialize(row)


async def create(ctx: Context, data: Any) -> Obj:
    ctx.require_user()
    values = {**DEFAULTS, **validate(FIELDS, data, partial=False, tz=ctx.settings.tz)}
    check_dates(values)
    async with ctx.db.transaction() as tx:
        row = await tx.fetchone(Q.insert_patient, values)
        assert row is not None
        tx.emit(Event.of(STREAM, events.CREATE, row))
    return serialize(row)


async def update(ctx: Context, pk: Any, data: Any, partial: bool) -> Obj:
    ctx.require_user()
    patient_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        current = await tx.fetchone(Q.lock_patient, {"id": patient_id})
        if current is None:  # before validating, as DRF looks the object up first
            raise not_found_for(MODEL)
        check_if_match(ctx, serialize(current))
        values = {**current, **validate(FIELDS, data, partial=partial, tz=ctx.settings.tz)}
        check_dates(values)
        row = await tx.fetchone(Q.update_patient, values)
        assert row is not None
        tx.emit(Event.of(STREAM, events.UPDATE, row))
        await reschedule(tx, patient_id)  # a dismissed patient gets no reminder
    return serialize(row)


async def delete(ctx: Context, pk: Any) -> None:
    """Delete a patient and their reports; each report leaves a history row."""
    actor = ctx.require_user()
    patient_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        current = await tx.fetchone(Q.lock_patient, {"id": patient_id})
        if current is None:
            raise not_found_for(MODEL)
        check_if_match(ctx, serialize(current))
        history = await tx.fetchall(Q.delete_patient_reports, {"id": patient_id, "actor": actor.id})
        emit_history_rows(tx, history, ctx)
        await tx.execute(Q.delete_patient, {"id": patient_id})
        tx.emit(Event.deleted(STREAM, patient_id))


RESOURCE = Resource(
    name=STREAM,
    model=MODEL,
    lookup="id",
    list=list_patients,
    retrieve=retrieve,
    create=create,
    update=update,
    delete=delete,
    docs=DOCS,
)
