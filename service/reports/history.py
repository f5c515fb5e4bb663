"""What every report write leaves in the audit trail, and the events for it.

Each write's SQL returns the history row it wrote (sql/reports.sql:
``record_report_history``); that row holds the report as it was after the
change (before it, for a delete). Patients (deleting their reports) and the
history resource (restores) use these helpers as the report actions do.
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import events
from ..context import Context
from ..db import Row, Tx
from ..events import Event
from .fields import serialize, shown

STREAM = "reports"
HISTORY_STREAM = "history"
HISTORY_COLUMNS = ("history_id", "history_date", "history_change_reason", "history_type", "history_user")
# Shown after a history row's columns (service/history/actions.py): who
# changed history_change_reason, when, and from what. Not a column of
# report_history (sql/history.sql joins it in), so a row just written has none.
REASON_LOG = "history_change_reason_log"
ACTION_OF_TYPE = {"+": events.CREATE, "~": events.UPDATE, "-": events.DELETE}


def report_of(history_row: Row) -> Row:
    """The report as it was recorded in one history row."""
    return {k: v for k, v in history_row.items() if k not in HISTORY_COLUMNS and k != REASON_LOG}


def emit_history_rows(
    tx: Tx, rows: Iterable[Row], ctx: Context, ward: int, moved_from: tuple[int, int] | None = None
) -> None:
    """Events of report changes (of patients in ``ward``): the report itself,
    then its new history row. ``moved_from``: the (patient, ward) a report
    was moved away from, when that ward's screens must drop it."""
    for row in rows:
        report = report_of(row)
        action = ACTION_OF_TYPE[row["history_type"]]
        if action == events.DELETE:
            tx.emit(Event.deleted(STREAM, report["id"], ward=ward, patient=report["patient"]))
        elif moved_from is not None:
            tx.emit(Event.moved(STREAM, action, serialize(report, ctx.settings.tz), ward, *moved_from))
        else:
            tx.emit(Event.of(STREAM, action, serialize(report, ctx.settings.tz), ward=ward))
        tx.emit(Event.of(HISTORY_STREAM, events.CREATE, {**shown(row), REASON_LOG: []}, ward=ward, pk_key="history_id"))
