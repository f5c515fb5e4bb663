"""The reminder worker: ``python -m service worker`` (any number may run).

It sleeps until the next reminder is due (by the database's clock), woken
early by NOTIFY when a report schedules a nearer one. It claims due rows with
``FOR UPDATE SKIP LOCKED`` and a lease, then fires them in one transaction
that stores the ``observation_due`` notification and marks the reminder
fired, and only if it still holds the lease: a reminder fires exactly once,
even with several workers, and a worker that dies mid-task has its claim
taken over by another when the lease runs out. Reminders are rows, so a
restart of anything loses none.

It never dies of a database outage: whatever a step raises (the driver's
errors, a closed socket, a timeout, anything but a request to stop), it
drops its connections, retries with back-off up to
``WORKER_RETRY_MAX_SECONDS`` for as long as it takes, logging the first
failure and then once a minute, and fires what fell due meanwhile as soon as
the database answers again. It beats (a row in ``worker_heartbeats``) at
least every ``WORKER_HEARTBEAT_SECONDS``; ``python -m service worker
--check`` reads the beats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

import aiopg
import psycopg2

from .. import idempotency
from ..auth import sessions
from ..config import Settings
from ..db import Database, open_database
from ..errors import DatabaseUnavailable
from ..notifications import rules
from ..notifications.actions import store
from ..realtime.publisher import Publisher
from ..sqlfiles import Q
from ..tasks import cancel_all
from ..zones import local_text
from . import CHANNEL

log = logging.getLogger("service.worker")
BATCH = 100
PRUNE_EVERY_SECONDS = 600.0
FIRST_RETRY_SECONDS = 0.5
OUTAGE_LOG_EVERY_SECONDS = 60.0
# Rows of workers that died without deleting their heartbeat.
HEARTBEAT_RETENTION_SECONDS = 24 * 3600
# On SIGTERM the step under way may finish (a batch of reminders); past this
# it is cancelled (an unreachable database must not hold up the stop).
STOP_GRACE_SECONDS = 10.0
# The longest `worker --check` waits for the database.
CHECK_TIMEOUT_SECONDS = 10.0


def describe(exc: BaseException) -> str:
    """An exception on one line: its type and the first line of its text;
    for the service's DatabaseUnavailable, the driver's error under it."""
    if isinstance(exc, DatabaseUnavailable) and exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def is_outage(exc: BaseException) -> bool:
    """Whether the exception (or one it was raised from) is the database or
    the network failing, as opposed to a bug."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, psycopg2.Error | OSError | TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Outage:
    """Back-off and its log lines while the database cannot be used."""

    def __init__(self, retry_max_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_max = retry_max_seconds
        self.clock = clock
        self.since: float | None = None
        self.logged_at = 0.0
        self.failures = 0
        self.delay = 0.0

    def failed(self, exc: BaseException) -> float:
        """Note a failure and log it (the first, then once a minute);
        return how long to wait before the next attempt."""
        now = self.clock()
        self.failures += 1
        if self.since is None:
            self.since = self.logged_at = now
            self.delay = min(FIRST_RETRY_SECONDS, self.retry_max)
            log.error(
                "database unavailable (%s); retrying with back-off up to %.1fs",
                describe(exc),
                self.retry_max,
                exc_info=None if is_outage(exc) else exc,  # a bug: its traceback
            )
            return self.delay
        self.delay = min(self.delay * 2, self.retry_max)
        if now - self.logged_at >= OUTAGE_LOG_EVERY_SECONDS:
            self.logged_at = now
            log.warning(
                "database still unavailable for %.0fs (%d attempts; %s)", now - self.since, self.failures, describe(exc)
            )
        return self.delay

    def recovered(self) -> None:
        if self.since is not None:
            log.info(
                "database available again after %.0fs (%d failed attempts): firing what fell due",
                self.clock() - self.since,
                self.failures,
            )
        self.since = None
        self.failures = 0


class Worker:
    def __init__(self, settings: Settings, worker_id: str | None = None) -> None:
        self.settings = settings
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = asyncio.Event()
        self.db: Database | None = None
        self.publisher: Publisher | None = None
        self.fired = 0
        self._beat_at: float | None = None
        self._pruned_at: float | None = None

    async def run(self) -> None:
        settings = self.settings
        self.publisher = Publisher(settings.redis_url, settings.redis_channel)
        self.publisher.start()
        log.info(
            "reminder worker %s started: PostgreSQL %s, Redis %s, lease %.0fs",
            self.worker_id,
            settings.redacted_database_url(),
            settings.redacted_redis_url(),
            settings.reminder_lease_seconds,
        )
        serve = asyncio.create_task(self._serve(), name="reminder-worker")
        stop = asyncio.create_task(self.stopping.wait(), name="reminder-worker-stop")
        try:
            await asyncio.wait({serve, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not serve.done():  # asked to stop: the step under way may finish
                await asyncio.wait({serve}, timeout=STOP_GRACE_SECONDS)
            if serve.done():
                serve.result()
        finally:
            await cancel_all([serve, stop])
            await self._end_heartbeat()
            await self._close_pool()
            await self.publisher.close()
            log.info("reminder worker %s stopped (%d reminder(s) fired)", self.worker_id, self.fired)

    async def _serve(self) -> None:
        """Connect, run the loop; on any failure drop the connections, wait,
        and connect again, for as long as it takes."""
        outage = Outage(self.settings.worker_retry_max_seconds)
        while not self.stopping.is_set():
            listener: Any = None
            try:
                if self.db is None:
                    # The settings' acquire and statement timeouts; its two
                    # connections are busy every loop, so none is recycled.
                    self.db = await open_database(self.settings, 1, 2, name="dengue-ward-worker", recycle=False)
                    self.db.after_commit = self.publisher.submit if self.publisher else None
                listener = await aiopg.connect(self.settings.database_url, application_name="dengue-ward-worker")
                async with listener.cursor() as cur:
                    await cur.execute(f"LISTEN {CHANNEL}")
                outage.recovered()
                # beats once it has fired what was due (_loop): a worker that
                # reaches the database but fails to fire does not look healthy
                await self._loop(listener)
            except Exception as exc:  # anything: the worker must outlive it
                delay = outage.failed(exc)
                # After a restart every pooled connection is dead: start afresh.
                await self._close_pool()
                await self._sleep(delay, None)
            finally:
                if listener is not None:
                    with contextlib.suppress(Exception):
                        await listener.close()

    async def _close_pool(self) -> None:
        db, self.db = self.db, None
        if db is None:
            return
        db.pool.terminate()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await db.pool.wait_closed()

    async def _loop(self, listener: Any) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            await self.fire_due()
            if self._pruned_at is None or loop.time() - self._pruned_at > PRUNE_EVERY_SECONDS:
                await self.prune()
                self._pruned_at = loop.time()
            await self.beat()
            assert self.db is not None
            row = await self.db.fetchone(Q.next_reminder_wait)
            heartbeat = self.settings.worker_heartbeat_seconds
            wait = row["seconds"] if row and row["seconds"] is not None else heartbeat
            await self._sleep(min(max(wait, 0.0), heartbeat), listener)

    async def _sleep(self, seconds: float, listener: Any) -> None:
        """Until the time is up, a NOTIFY arrives, or we are asked to stop.
        Raises what the listening connection failed with, if it did."""
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self.stopping.wait())}
        notified: asyncio.Future[Any] | None = None
        if listener is not None:
            notified = asyncio.ensure_future(listener.notifies.get())
            waits.add(notified)
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        if notified is not None and notified.done() and not notified.cancelled():
            failure = notified.exception()
            if failure is not None:  # the connection is gone
                raise failure
            while not listener.notifies.empty():  # one wake-up for a burst of NOTIFYs
                listener.notifies.get_nowait()

    async def beat(self) -> None:
        """This worker's heartbeat row: it is alive and reaches the database."""
        assert self.db is not None
        await self.db.execute(Q.worker_heartbeat, {"worker": self.worker_id, "fired": self.fired})
        self._beat_at = asyncio.get_running_loop().time()

    async def _beat_if_due(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._beat_at is None or now - self._beat_at >= self.settings.worker_heartbeat_seconds:
            await self.beat()

    async def _end_heartbeat(self) -> None:
        """A worker that stops leaves no heartbeat behind (best effort: a
        database that is away has the row pruned later)."""
        if self.db is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(3):
                await self.db.execute(Q.end_worker_heartbeat, {"worker": self.worker_id})

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
            await self._beat_if_due()  # a long backlog after an outage
        return fired

    async def _fire(self, claimed: list[dict[str, Any]]) -> int:
        assert self.db is not None
        tz = self.settings.tz
        async with self.db.transaction() as tx:
            # The patients first, in id order, as every write does: firing
            # locks the reminder rows and its notifications read their
            # patient's ward FOR SHARE, while a report write holds its patient
            # and then reschedules the reminder; the other order deadlocked.
            await tx.fetchall(Q.lock_patients, {"ids": sorted({c["patient"] for c in claimed})})
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
        self.fired += len(rows)
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
        await self.db.execute(Q.prune_worker_heartbeats, {"retention_seconds": HEARTBEAT_RETENTION_SECONDS})

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
    async def main() -> None:
        worker = Worker(settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stopping.set)
        await worker.run()

    # The default loop, not uvloop: aiopg on uvloop can fail with "unable to
    # perform operation on <UVPoll closed=True>" after a database outage
    # (aiopg#909).
    asyncio.run(main())
    return 0


async def check(settings: Settings, any_host: bool = False) -> tuple[bool, str]:
    """``worker --check``: whether a reminder worker (of this host, or of any
    host) beat within WORKER_STALE_SECONDS, and the database answers."""
    host = socket.gethostname()
    prefix, where = ("", "any host") if any_host else (f"{host}:", f"host {host}")
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            db = await open_database(settings, 1, 1, name="dengue-ward-worker-check", recycle=False)
            try:
                row = await db.fetchone(Q.latest_worker_heartbeat, {"prefix": prefix})
            finally:
                await db.close()
    except Exception as exc:  # the check reports, it never fails itself
        return False, f"database unavailable: {describe(exc)}"
    if row is None:
        return False, f"no reminder worker on {where} is running (no heartbeat)"
    age, stale = row["age_seconds"], settings.worker_stale_seconds
    if age > stale:
        return False, (
            f"no reminder worker on {where} beat in the last {stale:.0f}s (the latest, {row['worker']}, {age:.0f}s ago)"
        )
    return True, f"ok: reminder worker {row['worker']} beat {age:.0f}s ago, {row['fired']} reminder(s) fired"


def run_check(settings: Settings, any_host: bool = False) -> int:
    ok, reason = asyncio.run(check(settings, any_host))
    print(reason)
    return 0 if ok else 1
