"""Observation-due reminders: scheduled with every report, fired by the worker."""

from __future__ import annotations

from ..db import Tx
from ..sqlfiles import Q

# The PostgreSQL NOTIFY channel that wakes the workers when a reminder moves.
CHANNEL = "dengue_reminders"


async def reschedule(tx: Tx, patient_id: int) -> None:
    """Move the patient's reminder to their latest report's due time (sent
    with the transaction's COMMIT: nothing in the transaction reads it)."""
    await tx.later(Q.schedule_reminder, {"patient": patient_id, "channel": CHANNEL})
