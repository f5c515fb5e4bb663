"""Notification actions (list, retrieve, acknowledge) and what a saved
report raises: the rule findings, stored in the report's own transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import events
from ..apidocs import (
    BOOLEAN,
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
from ..errors import ValidationError, not_found_for
from ..events import Event
from ..resources import Filter, Filters, Listing, Obj, Page, Resource, id_filter, lookup_id, run_listing
from ..sqlfiles import Q
from ..validation import Field, FieldError, Kind, clean_value
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
        ReadOnly("acknowledged_by", USER_ID, "Who acknowledged it first."),
    ),
    actions={
        "acknowledge": ActionDoc(
            "Acknowledge a notification",
            "Records who saw it and when; a second acknowledgement keeps the first one's. No request body.",
            (Reply(200, "The notification.", MODEL),),
        )
    },
)


def _acknowledged_filter(filters: Filters, tz: Any) -> bool | None:
    raw = filters.get("acknowledged")
    if raw is None or raw == "":
        return None
    try:
        return clean_value(Field("acknowledged", Kind.BOOL), raw, tz)
    except FieldError as exc:
        raise ValidationError({"acknowledged": exc.messages}) from None


async def list_notifications(ctx: Context, filters: Filters, page: Page | None) -> Listing:
    ctx.require_user()
    params = {"patient": id_filter(filters, "patient"), "acknowledged": _acknowledged_filter(filters, ctx.settings.tz)}
    return await run_listing(ctx, Q.list_notifications, Q.count_notifications, params, page, dict)


async def retrieve(ctx: Context, pk: Any) -> Obj:
    ctx.require_user()
    row = await ctx.db.fetchone(Q.get_notification, {"id": lookup_id(pk, MODEL)})
    if row is None:
        raise not_found_for(MODEL)
    return row


async def acknowledge(ctx: Context, pk: Any) -> tuple[int, Obj]:
    """Record who saw it and when (once); every screen then clears it."""
    actor = ctx.require_user()
    notification_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        row = await tx.fetchone(Q.acknowledge_notification, {"id": notification_id, "actor": actor.id})
        if row is not None:
            tx.emit(Event.of(STREAM, events.UPDATE, row))
        else:
            row = await tx.fetchone(Q.get_notification, {"id": notification_id})
            if row is None:
                raise not_found_for(MODEL)
    return 200, row


async def store(tx: Tx, raised: Iterable[tuple[str, str, int, int | None, str]]) -> list[Row]:
    """Insert notifications (type, severity, patient, report, message); emit each new one."""
    raised = list(raised)
    if not raised:
        return []
    types, severities, patients, reports, messages = (list(column) for column in zip(*raised, strict=True))
    rows = await tx.fetchall(
        Q.insert_notifications,
        {"types": types, "severities": severities, "patients": patients, "reports": reports, "messages": messages},
    )
    for row in rows:
        tx.emit(Event.of(STREAM, events.NOTIFICATION, row))
    return rows


async def raise_for_report(tx: Tx, report: Row) -> list[Row]:
    """Run every rule on a saved report and store what fires."""
    context = await tx.fetchone(
        Q.rule_context, {"patient": report["patient"], "id": report["id"], "time": report["time"]}
    )
    earlier = rules.Earlier(**context) if context else rules.Earlier()
    findings = rules.evaluate(report, earlier)
    return await store(tx, ((f.kind, f.severity, report["patient"], report["id"], f.message) for f in findings))


RESOURCE = Resource(
    name=STREAM,
    model=MODEL,
    lookup="id",
    list=list_notifications,
    retrieve=retrieve,
    detail_actions={"acknowledge": acknowledge},
    filters=(
        Filter("patient", "Only those of this patient (id).", REF),
        Filter("acknowledged", "`false`: only open notifications; `true`: only acknowledged ones.", BOOLEAN),
    ),
    docs=DOCS,
)
