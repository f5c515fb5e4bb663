"""Firing reminders and writing reports take their locks in one order: the
patient first, then the reminder. Forced interleaving: a write holds the
patient (as every report write does) while the worker fires that patient's
claimed reminder; the write then reschedules the reminder. In the other
order the two waited for each other (PostgreSQL's deadlock detector then
aborted one of them: a lost write or a late reminder)."""

from __future__ import annotations

import asyncio
import datetime as dt

import psycopg2

from service.db import open_database
from service.reminders.worker import Worker
from service.sqlfiles import Q

from ..helpers import create_patient, create_report, waiting_on_locks


async def test_firing_waits_for_a_write_holding_the_patient_and_neither_is_aborted(
    client, settings, alice, sql, database_url
) -> None:
    patient = await create_patient(client, alice)
    due = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat()
    await create_report(client, alice, patient["id"], time=due, monitoring_interval=1)
    worker = Worker(settings)
    worker.db = await open_database(settings, 1, 2, recycle=False)  # named "dengue-ward", as waiting_on_locks looks
    writer = psycopg2.connect(database_url)
    try:
        claimed = await worker.db.fetchall(
            Q.claim_due_reminders, {"worker": worker.worker_id, "batch": 10, "lease_seconds": 30}
        )
        assert [c["patient"] for c in claimed] == [patient["id"]]
        with writer.cursor() as cur:  # a report write for the patient: its lock first
            cur.execute("SELECT id FROM patients WHERE id = %s FOR NO KEY UPDATE", (patient["id"],))
        firing = asyncio.ensure_future(worker._fire(claimed))
        await waiting_on_locks(sql, 1)  # the worker waits for the patient, holding nothing yet

        def reschedule() -> None:  # ... then the write moves the reminder, and commits
            with writer.cursor() as cur:
                cur.execute(
                    "UPDATE reminders SET run_at = run_at + interval '4 hours', version = version + 1 "
                    "WHERE patient = %s",
                    (patient["id"],),
                )
            writer.commit()

        await asyncio.wait_for(asyncio.to_thread(reschedule), 10)
        assert await asyncio.wait_for(firing, 10) == 0  # moved meanwhile: not fired here
    finally:
        writer.close()
        await worker.db.close()
    assert sql("SELECT count(*) FROM notifications WHERE type = 'observation_due'") == [(0,)]
    assert sql("SELECT fired_at, locked_by IS NOT NULL FROM reminders WHERE patient = %s", (patient["id"],)) == [
        (None, True)  # still claimed until its lease runs out, then due again at its new time
    ]
