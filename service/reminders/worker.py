"""The reminder worker: ``python -m service worker`` (any number may run).

It sleeps until the next reminder is due (by the database's clock), woken
early by NOTIFY when a report schedules a nearer one. It claims due rows with
``FOR UPDATE SKIP LOCKED`` and a lease, then fires them in one transaction
that stores the ``observation_due`` notification and marks the reminder
fired, and only if it still holds the lease: a reminder fires exactly once,
even with several workers, and a worker that dies mid-task has its claim
taken over by another when the lease runs out. Reminders are rows, so a
restart of anything loses none.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from typing import Any

import aiopg
import psycopg2

from .. import idempotency
from ..auth import sessions
from ..config import Settings
from ..db import Database, create_pool
from ..notifications import rules
from ..notifications.actions import store
from ..realtime.publisher import Publisher
from ..sqlfiles import Q
from ..zones import local_text
from . import CHANNEL

log = logging.getLogger("service.worker")
BATCH = 100
MAX_IDLE_SECONDS = 60.0
PRUNE_EVERY_SECONDS = 600.0


class Worker:
    def __init__(self, settings: Settings, worker_id: str | None = None) -> None:
        self.settings = settings
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = asyncio.Event()
        self.db: Database | None = None

    async def run(self) -> None:
        settings = self.settings
        publisher = Publisher(settings.redis_url, settings.redis_channel)
        publisher.start()
        pool = await create_pool(settings.database_url, 1, 2, name="dengue-ward-worker")
        self.db = Database(pool, after_commit=publisher.submit)
        log.info(
            "reminder worker %s started: PostgreSQL %s, Redis %s, lease %.0fs",
            self.worker_id,
            settings.redacted_database_url(),
            settings.redacted_redis_url(),
            settings.reminder_lease_seconds,
        )
        try:
            await self._serve()
        finally:
            pool.close()
            await pool.wait_closed()
            await publisher.close()
            log.info("reminder worker %s stopped", self.worker_id)

    async def _serve(self) -> None:
        delay = 0.5
        while not self.stopping.is_set():
            try:
                async with await aiopg.connect(self.settings.database_url) as listener:
                    async with listener.cursor() as cur:
                        await cur.execute(f"LISTEN {CHANNEL}")
                    delay = 0.5
                    await self._loop(listener)
            except (psycopg2.Error, OSError) as exc:
                log.error("database unavailable (%s); retrying in %.1fs", exc, delay)
                await self._sleep(delay, None)
                delay = min(delay * 2, 10.0)

    async def _loop(self, listener: Any) -> None:
        last_prune = 0.0
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            await self.fire_due()
            if loop.time() - last_prune > PRUNE_EVERY_SECONDS:
                await self.prune()
                last_prune = loop.time()
            assert self.db is not None
            row = await self.db.fetchone(Q.next_reminder_wait)
            wait = row["seconds"] if row and row["seconds"] is not None else MAX_IDLE_SECONDS
            await self._sleep(min(max(wait, 0.0), MAX_IDLE_SECONDS), listener)

    async def _sleep(self, seconds: float, listener: Any) -> None:
        """Until the time is up, a NOTIFY arrives, or we are asked to stop."""
        waits = [asyncio.ensure_future(self.stopping.wait())]
        if listener is not None:
            waits.append(asyncio.ensure_future(listener.notifies.get()))
        done, pending = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if listener is not None:
            while not listener.notifies.empty():  # one wake-up for a burst of NOTIFYs
                listener.notifies.get_nowait()

    async def fire_due(self) -> int:
        """Claim and fire due reminders until none is left; return how many fired."""
        assert self.db is not None
        fired = 0
        while not self.stopping.is_set():
            claimed = await self.db.fetchall(
                Q.claim_due_reminders,
                {
                    "worker": self.worker_id,
                    "batch": BATCH,
                    "lease_seconds": self.settings.reminder_lease_seconds,
                },
            )
            if not claimed:
                break
            if self.settings.reminder_test_hold_claim_seconds:
                await asyncio.sleep(self.settings.reminder_test_hold_claim_seconds)
            fired += await self._fire(claimed)
        return fired

    async def _fire(self, claimed: list[dict[str, Any]]) -> int:
        assert self.db is not None
        tz = self.settings.tz
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                Q.fire_reminders,
                {
                    "ids": [c["id"] for c in claimed],
                    "versions": [c["version"] for c in claimed],
                    "worker": self.worker_id,
                },
            )
            due = [
                (
                    rules.OBSERVATION_DUE,
                    rules.WARNING,
                    r["patient"],
                    r["report"],
                    rules.observation_due_message(
                        r["first_name"],
                        r["last_name"],
                        r["monitoring_interval"],
                        local_text(r["run_at"], tz),
                    ),
                )
                for r in rows
            ]
            await store(tx, due, {r["patient"]: r["ward"] for r in rows})
        for row in rows:
            lateness = (row["fired_at"] - row["run_at"]).total_seconds()
            log.info(
                "reminder fired: patient %s, due %s, %.3fs late",
                row["patient"],
                row["run_at"].isoformat(),
                lateness,
                extra={"patient": row["patient"], "lateness_seconds": lateness},
            )
        if len(rows) < len(claimed):
            log.info("%d claimed reminder(s) moved or taken over meanwhile; not fired here", len(claimed) - len(rows))
        return len(rows)

    async def prune(self) -> None:
        assert self.db is not None
        row = await self.db.fetchone(Q.prune_events, {"retention_seconds": self.settings.event_retention_seconds})
        if row is not None:
            log.info(
                "pruned events up to id %s (older than %ss)",
                row["pruned_through"],
                self.settings.event_retention_seconds,
            )
        await self.prune_sessions()
        await self.db.execute(Q.prune_idempotency_keys, {"retention_seconds": idempotency.RETENTION_SECONDS})

    async def prune_sessions(self) -> int:
        """Delete sessions past their idle or absolute limit; their sockets
        (if a server has not closed them already) close on the event."""
        assert self.db is not None
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(Q.prune_sessions, sessions.limits(self.settings))
            by_user: dict[int, list[dict[str, Any]]] = {}
            for row in rows:
                by_user.setdefault(row["user_id"], []).append(row)
            for user_id, ended in by_user.items():
                sessions.emit_ended(tx, user_id, ended)
        if rows:
            log.info("pruned %d expired session(s)", len(rows))
        return len(rows)


def run_worker(settings: Settings) -> int:
    import uvloop

    async def main() -> None:
        worker = Worker(settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stopping.set)
        await worker.run()

    uvloop.run(main())
    return 0
