"""Patient actions: list, retrieve, create, update/patch, delete."""

from __future__ import annotations

from typing import Any

from .. import events
from ..apidocs import DATETIME, ID, ReadOnly, ResourceDocs
from ..context import Context
from ..db import Tx
from ..errors import ValidationError, not_found_for
from ..events import Event
from ..lists import ListSpec
from ..reminders import reschedule
from ..reports.history import emit_history_rows
from ..resources import (
    SEARCH_MAX,
    Filter,
    Filters,
    Obj,
    Resource,
    bool_filter,
    check_if_match,
    lookup_id,
    read_filters,
    read_search,
    ref_filter,
    scope,
)
from ..sqlfiles import Q
from ..validation import REQUIRED, Field, Kind, clinical_datetime, does_not_exist, validate

STREAM = "patients"
NOTIFICATIONS = "notifications"
MODEL = "Patient"

FIELDS = (
    Field("first_name", Kind.TEXT, required=True, allow_blank=False, max_length=240),
    Field("last_name", Kind.TEXT, required=True, allow_blank=False, max_length=240),
    clinical_datetime("admission_date", required=True),
    clinical_datetime("dismissal_date", nullable=True),
    # Optional while exactly one ward exists (the patient goes there), as the
    # old front end knows nothing of wards; otherwise required.
    Field("ward", Kind.FK),
)
DEFAULTS: dict[str, Any] = {"dismissal_date": None}
DOCS = ResourceDocs(
    "Patients, each in one ward. Users who are not staff see only the patients of their wards. "
    "Deleting a patient deletes their reports (each leaves a history row); dismissing one closes "
    "their open notifications and removes their reminder.",
    properties=(ReadOnly("id", ID), *FIELDS, ReadOnly("created_at", DATETIME), ReadOnly("updated_at", DATETIME)),
    fields=FIELDS,
)
DISMISSAL_BEFORE_ADMISSION = "The dismissal date must not be before the admission date."


def serialize(ctx: Context, row: dict[str, Any]) -> Obj:
    return row  # the queries select exactly the wire fields, in order


def check_dates(values: dict[str, Any]) -> None:
    dismissal = values.get("dismissal_date")
    if dismissal is not None and dismissal < values["admission_date"]:
        raise ValidationError({"dismissal_date": [DISMISSAL_BEFORE_ADMISSION]})


FILTERS = (
    ref_filter("ward", "Only the patients of this ward (id)."),
    bool_filter("admitted", "`true`: not dismissed; `false`: dismissed."),
    Filter(
        "search",
        "Patients whose name contains this text (any case).",
        {"type": "string", "maxLength": SEARCH_MAX},
        read_search,
    ),
)


def list_params(ctx: Context, filters: Filters) -> dict[str, Any]:
    return {**scope(ctx), **read_filters(FILTERS, filters, ctx.settings.tz)}


LIST = ListSpec.of("patients", key="admission_date", params=list_params, serialize=serialize)


async def retrieve(ctx: Context, pk: Any) -> Obj:
    row = await ctx.db.fetchone(Q.get_patient, {"id": lookup_id(pk, MODEL), **scope(ctx)})
    if row is None:
        raise not_found_for(MODEL)
    return serialize(ctx, row)


async def ward_for(ctx: Context, tx: Tx, values: dict[str, Any], data: Any) -> int:
    """The ward a patient is written into: one the user may see (400 under
    ``ward`` otherwise, as for a ward that does not exist); when none is
    given, the only ward there is."""
    ward = values.get("ward")
    if ward is None:
        only = await tx.fetchone(Q.only_ward)
        if only is None:
            raise ValidationError({"ward": [REQUIRED]})
        ward = only["id"]
    user = ctx.require_user()
    if not user.sees(ward) or await tx.fetchone(Q.get_ward, {"id": ward}) is None:
        raise ValidationError({"ward": [does_not_exist(data.get("ward") if isinstance(data, dict) else ward)]})
    return int(ward)


async def create(ctx: Context, data: Any) -> Obj:
    ctx.require_user()
    values = {**DEFAULTS, **validate(FIELDS, data, partial=False, tz=ctx.settings.tz)}
    check_dates(values)
    async with ctx.db.transaction() as tx:
        values["ward"] = await ward_for(ctx, tx, values, data)
        row = await tx.fetchone(Q.insert_patient, values)
        assert row is not None
        tx.emit(Event.of(STREAM, events.CREATE, row, ward=row["ward"]))
    return serialize(ctx, row)


async def update(ctx: Context, pk: Any, data: Any, partial: bool) -> Obj:
    user = ctx.require_user()
    patient_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        current = await tx.fetchone(Q.lock_patient, {"id": patient_id})
        if current is None or not user.sees(current["ward"]):  # before validating, as DRF looks it up first
            raise not_found_for(MODEL)
        check_if_match(ctx, serialize(ctx, current))
        clean = validate(FIELDS, data, partial=partial, tz=ctx.settings.tz)
        values = {**current, **clean}
        check_dates(values)
        if "ward" in clean or not partial:
            values["ward"] = await ward_for(ctx, tx, {"ward": clean.get("ward", current["ward"])}, data)
        row = await tx.fetchone(Q.update_patient, values)
        assert row is not None
        event = Event.of(STREAM, events.UPDATE, row, ward=row["ward"])
        if row["ward"] != current["ward"]:
            event.prior_ward = current["ward"]  # screens of the ward it left drop it
        tx.emit(event)
        if current["dismissal_date"] is None and row["dismissal_date"] is not None:
            await close_notifications(tx, patient_id, row["ward"])
        await reschedule(tx, patient_id)  # a dismissed patient gets no reminder
    return serialize(ctx, row)


async def close_notifications(tx: Tx, patient_id: int, ward: int) -> None:
    """A dismissed patient's open notifications are closed, by the system."""
    for closed in await tx.fetchall(Q.close_notifications_of_dismissed, {"patient": patient_id}):
        tx.emit(Event.of(NOTIFICATIONS, events.UPDATE, closed, ward=ward))


async def delete(ctx: Context, pk: Any) -> None:
    """Delete a patient and their reports; each report leaves a history row."""
    actor = ctx.require_user()
    patient_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        current = await tx.fetchone(Q.lock_patient, {"id": patient_id})
        if current is None or not actor.sees(current["ward"]):
            raise not_found_for(MODEL)
        check_if_match(ctx, serialize(ctx, current))
        history = await tx.fetchall(Q.delete_patient_reports, {"id": patient_id, "actor": actor.id})
        emit_history_rows(tx, history, ctx, current["ward"])
        await tx.execute(Q.delete_patient, {"id": patient_id})
        tx.emit(Event.deleted(STREAM, patient_id, ward=current["ward"]))


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
