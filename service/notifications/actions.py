"""Notification actions (list, retrieve, acknowledge) and what a saved
report raises: the rule findings, stored in the report's own transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import events
from ..apidocs import (
    DATETIME,
    ID,
    NON_EMPTY_TEXT,
    REF,
    USER_ID,
    ActionDoc,
    ReadOnly,
    Reply,
    ResourceDocs,
    enum,
    nullable,
)
from ..context import Context
from ..db import Row, Tx
from ..errors import not_found_for
from ..events import Event
from ..lists import ListSpec
from ..resources import (
    Filters,
    Obj,
    Resource,
    bool_filter,
    lookup_id,
    read_filters,
    ref_filter,
    scope,
)
from ..sqlfiles import Q
from . import rules

STREAM = "notifications"
MODEL = "Notification"
DOCS = ResourceDocs(
    "What the clinical rules and the observation reminders raised, newest first.",
    properties=(
        ReadOnly("id", ID),
        ReadOnly(
            "type",
            NON_EMPTY_TEXT,
            "The rule that fired: "
            + ", ".join(f"`{r.__name__}`" for r in rules.RULES)
            + f"; reminders are `{rules.OBSERVATION_DUE}`.",
        ),
        ReadOnly("severity", enum(rules.INFO, rules.WARNING, rules.CRITICAL)),
        ReadOnly("patient", REF),
        ReadOnly("report", nullable(REF)),
        ReadOnly("message", NON_EMPTY_TEXT, "What a nurse should know."),
        ReadOnly("created_at", DATETIME),
        ReadOnly("acknowledged_at", nullable(DATETIME), "Null until acknowledged."),
        ReadOnly("acknowledged_by", USER_ID, "Who acknowledged it first (null: the system, or nobody yet)."),
        ReadOnly(
            "acknowledged_reason",
            nullable({"type": "string"}),
            'Why the system closed it (`"patient dismissed"`); null when a person acknowledged it.',
        ),
    ),
    actions={
        "acknowledge": ActionDoc(
            "Acknowledge a notification",
            "Records who saw it and when; a second acknowledgement keeps the first one's. No request body.",
            (Reply(200, "The notification.", MODEL),),
        )
    },
)


FILTERS = (
    ref_filter("patient", "Only those of this patient (id)."),
    ref_filter("ward", "Only those of this ward's patients (id)."),
    bool_filter("acknowledged", "`false`: only open notifications; `true`: only acknowledged ones."),
    bool_filter("admitted", "`true`: only those of patients not dismissed; `false`: of dismissed ones."),
)


def list_params(ctx: Context, filters: Filters) -> dict[str, Any]:
    return {**scope(ctx), **read_filters(FILTERS, filters, ctx.settings.tz)}


LIST = ListSpec.of("notifications", key="created_at", params=list_params, serialize=lambda ctx, row: row)


async def retrieve(ctx: Context, pk: Any) -> Obj:
    row = await ctx.db.fetchone(Q.get_notification, {"id": lookup_id(pk, MODEL), **scope(ctx)})
    if row is None:
        raise not_found_for(MODEL)
    return row


async def acknowledge(ctx: Context, pk: Any, data: Any = None) -> tuple[int, Obj]:
    """Record who saw it and when (once); every screen then clears it."""
    actor = ctx.require_user()
    notification_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        params = {"id": notification_id, "actor": actor.id, **scope(ctx)}
        row = await tx.fetchone(Q.acknowledge_notification, params)
        if row is not None:
            ward = await tx.fetchone(Q.patient_ward, {"id": row["patient"]})
            tx.emit(Event.of(STREAM, events.UPDATE, row, ward=ward["ward"] if ward else None))
        else:
            row = await tx.fetchone(Q.get_notification, {"id": notification_id, **scope(ctx)})
            if row is None:
                raise not_found_for(MODEL)
    return 200, row


async def store(tx: Tx, raised: Iterable[tuple[str, str, int, int | None, str]], wards: dict[int, int]) -> list[Row]:
    """Insert notifications (type, severity, patient, report, message); emit
    each new one to its patient's ward (``wards``: patient -> ward)."""
    raised = list(raised)
    if not raised:
        return []
    types, severities, patients, reports, messages = (list(column) for column in zip(*raised, strict=True))
    rows = await tx.fetchall(
        Q.insert_notifications,
        {"types": types, "severities": severities, "patients": patients, "reports": reports, "messages": messages},
    )
    for row in rows:
        tx.emit(Event.of(STREAM, events.NOTIFICATION, row, ward=wards.get(row["patient"])))
    return rows


async def raise_for_report(tx: Tx, report: Row, ward: int) -> list[Row]:
    """Run every rule on a saved report and store what fires."""
    context = await tx.fetchone(
        Q.rule_context, {"patient": report["patient"], "id": report["id"], "time": report["time"]}
    )
    earlier = rules.Earlier(**context) if context else rules.Earlier()
    findings = rules.evaluate(report, earlier)
    raised = ((f.kind, f.severity, report["patient"], report["id"], f.message) for f in findings)
    return await store(tx, raised, {report["patient"]: ward})


RESOURCE = Resource(
    name=STREAM,
    model=MODEL,
    lookup="id",
    list=LIST,
    retrieve=retrieve,
    detail_actions={"acknowledge": acknowledge},
    filters=FILTERS,
    docs=DOCS,
)
