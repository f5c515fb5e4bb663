"""The audit trail of reports: read, annotate, restore; never rewrite.

PATCH/PUT may change only ``history_change_reason`` (other keys are ignored),
and only the row's author (``history_user``) or staff may; every change is
logged by the database (``history_change_reason_log``, migration 0006).
DELETE is for superusers; restore brings a report back to one version.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .. import events
from ..apidocs import DATETIME, ID, USER_ID, ActionDoc, ReadOnly, Reply, ResourceDocs, enum, nullable
from ..context import Context, User
from ..db import Row, Tx
from ..errors import Conflict, PermissionDenied, not_found_for
from ..events import Event
from ..lists import ListSpec
from ..reports import actions as reports
from ..reports.actions import lock_patients, serialize, write
from ..reports.fields import COLUMNS, shown
from ..reports.history import HISTORY_COLUMNS, HISTORY_STREAM, REASON_LOG
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
from ..validation import Field, Kind, validate

MODEL = "HistoricalReport"
REASON = "history_change_reason"
FIELDS = (Field(REASON, Kind.TEXT, nullable=True, max_length=100),)
HISTORY = (
    ReadOnly("history_id", ID),
    ReadOnly("history_date", DATETIME, "When the change was recorded."),
    *FIELDS,
    ReadOnly("history_type", enum("+", "~", "-"), "+ created, ~ changed, - deleted."),
    ReadOnly("history_user", USER_ID, "Who made the change."),
)
assert {p.name for p in HISTORY} == set(HISTORY_COLUMNS), "history columns changed: describe them here"
REASON_LOG_ENTRY = {
    "type": "object",
    "properties": {
        "changed_by": {**USER_ID, "description": "Who changed the reason (null: changed outside the service)."},
        "changed_at": DATETIME,
        "previous": nullable({"type": "string", "maxLength": 100, "description": "The reason before this change."}),
    },
    "required": ["changed_by", "changed_at", "previous"],
    "additionalProperties": False,
    "description": "One change of `history_change_reason`.",
}
LOG = ReadOnly(
    REASON_LOG,
    {"type": "array", "items": REASON_LOG_ENTRY},
    "Every change of `history_change_reason`, oldest first (`[]` while it has never changed). Written by the "
    "database, never changed or removed (only with the row itself).",
)


def history_out(row: Row) -> Obj:
    """A history row from sql/history.sql: its log's times (JSON text from
    PostgreSQL) become UTC datetimes, so they are written like every other
    time (``Z``, microseconds only when non-zero)."""
    log = [
        {
            "changed_by": entry["changed_by"],
            "changed_at": dt.datetime.fromisoformat(entry["changed_at"]).astimezone(dt.UTC),
            "previous": entry["previous"],
        }
        for entry in row[REASON_LOG]
    ]
    return {**shown(row), REASON_LOG: log}


def may_change_reason(user: User, row: Row) -> bool:
    """The row's author and staff may annotate it; nobody else."""
    return user.is_staff or user.is_superuser or row["history_user"] == user.id


async def check_row_version(ctx: Context, tx: Tx, key: dict[str, int]) -> None:
    """If-Match: 412 when the (locked) row changed since the client read it."""
    if ctx.if_match is not None:
        row = await tx.fetchone(Q.get_history, {**key, "wards": None})
        assert row is not None  # locked by the caller
        check_if_match(ctx, history_out(row))


FILTERS = (
    ref_filter("report", "Only the history of this report (id)."),
    ref_filter("patient", "Only those of this patient (id)."),
    time_filter("since", "Only changes recorded at or after this time (ISO 8601)."),
    time_filter("until", "Only changes recorded at or before this time (ISO 8601)."),
)


def list_params(ctx: Context, filters: Filters) -> dict[str, Any]:
    return {**scope(ctx), **read_filters(FILTERS, filters, ctx.settings.tz)}


LIST = ListSpec.of(
    "history", key="history_date", params=list_params, serialize=lambda ctx, row: history_out(row), id="history_id"
)


async def retrieve(ctx: Context, pk: Any) -> Obj:
    row = await ctx.db.fetchone(Q.get_history, {"history_id": lookup_id(pk, MODEL), **scope(ctx)})
    if row is None:
        raise not_found_for(MODEL)
    return history_out(row)


async def visible_row(ctx: Context, tx: Tx, key: dict[str, int]) -> tuple[Row, int | None]:
    """A history row the user may see, locked for the change, and the ward of
    its patient (the event's audience); 404 otherwise."""
    current = await tx.fetchone(Q.lock_history_reason, key)
    seen = await tx.fetchone(Q.get_history, {**key, **scope(ctx)}) if current is not None else None
    if current is None or seen is None:
        raise not_found_for(MODEL)
    ward = await tx.fetchone(Q.patient_ward, {"id": seen["patient"]})
    return current, (ward["ward"] if ward else None)


async def update(ctx: Context, pk: Any, data: Any, partial: bool) -> Obj:
    """Change the reason; the same value again changes and logs nothing."""
    user = ctx.require_user()
    history_id = lookup_id(pk, MODEL)
    key = {"history_id": history_id}
    async with ctx.db.transaction() as tx:
        # DRF's order: the object is looked up, then its permission checked,
        # then the data validated.
        current, ward = await visible_row(ctx, tx, key)
        if not may_change_reason(user, current):
            raise PermissionDenied()
        await check_row_version(ctx, tx, key)
        clean = validate(FIELDS, data, partial=True, tz=ctx.settings.tz)
        changed = REASON in clean and clean[REASON] != current[REASON]
        if changed:
            await tx.execute(Q.set_history_reason, {**key, REASON: clean[REASON], "actor": user.id})
        row = await tx.fetchone(Q.get_history, {**key, "wards": None})
        assert row is not None  # locked above
        obj = history_out(row)
        if changed:
            tx.emit(Event.of(HISTORY_STREAM, events.UPDATE, obj, ward=ward, pk_key="history_id"))
    return obj


async def delete(ctx: Context, pk: Any) -> None:
    if not ctx.require_user().is_superuser:
        raise PermissionDenied()
    history_id = lookup_id(pk, MODEL)
    key = {"history_id": history_id}
    async with ctx.db.transaction() as tx:
        _, ward = await visible_row(ctx, tx, key)
        await check_row_version(ctx, tx, key)
        await tx.execute(Q.delete_history, key)
        tx.emit(Event.deleted(HISTORY_STREAM, history_id, ward=ward))


async def restore(ctx: Context, pk: Any, data: Any = None) -> tuple[int, Obj]:
    """Bring the report back to this version: 200, or 201 if it is re-created."""
    actor = ctx.require_user()
    history_id = lookup_id(pk, MODEL)
    params = {"history_id": history_id, "actor": actor.id, "reason": f"Restored from history {history_id}"}
    async with ctx.db.transaction() as tx:
        version = await tx.fetchone(Q.get_history, {"history_id": history_id, **scope(ctx)})
        if version is None:
            raise not_found_for(MODEL)
        # The locks of the version's patient and of the report's patient now
        # (a restore may move the report back): concurrent restores of one
        # report then run one after the other, and the first re-creates it.
        current = await tx.fetchone(Q.get_report, {"id": version["id"], "wards": None})
        while True:
            patients = [version["patient"]] + ([current["patient"]] if current else [])
            wards = await lock_patients(tx, *patients)
            locked = await tx.fetchone(Q.lock_report, {"id": version["id"]})
            if (locked and locked["patient"]) == (current and current["patient"]):
                break
            current = locked
        if version["patient"] not in wards:
            raise Conflict("The patient of this report no longer exists; it cannot be restored.")
        if not all(actor.sees(wards.get(p)) for p in patients):
            raise not_found_for(MODEL)  # the report is now with a patient the user may not see
        if locked is None:
            report = await write(ctx, tx, Q.restore_report_insert, params, wards)
        else:
            report = await write(ctx, tx, Q.restore_report_update, params, wards, moved_from=locked["patient"])
    return (201 if locked is None else 200), serialize(report, ctx)


DOCS = ResourceDocs(
    "The audit trail of reports (django-simple-history's layout), newest first. "
    "Only `history_change_reason` can be edited, by the row's author or staff, and every change "
    "is kept in `history_change_reason_log`.",
    # a history row: its own columns, then the report as it was, then the reason's log
    properties=(*HISTORY, *COLUMNS, LOG),
    fields=FIELDS,
    put_partial=True,
    update_description="Changes only `history_change_reason`; every other key is ignored. PUT is partial too. "
    "Only the row's author (`history_user`) and staff (`is_staff` or `is_superuser`) may: anyone else gets 403, "
    "whatever the body. Each change is appended to `history_change_reason_log` (who, when, the value before); "
    "a body without `history_change_reason`, or with the value it already has, changes and logs nothing.",
    restricted={"delete": "superusers only", "update": "the row's author and staff"},
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
    list=LIST,
    retrieve=retrieve,
    update=update,
    delete=delete,
    detail_actions={"restore": restore},
    filters=FILTERS,
    docs=DOCS,
)
