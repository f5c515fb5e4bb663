"""``python -m service worker --check`` against heartbeats of known ages."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import subprocess
import sys
from typing import Any

from ..servers import service_env

HOST = socket.gethostname()


def check(settings: Any, *extra: str) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "service", "worker", "--check", *extra],
        env=service_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.count("\n") == 1, result  # one line, whatever the answer
    return result.returncode, result.stdout.strip()


def beat(sql: Any, worker: str, seconds_ago: int) -> None:
    sql(
        "INSERT INTO worker_heartbeats (worker, beat_at, fired) VALUES (%s, now() - make_interval(secs => %s), 7)",
        (worker, seconds_ago),
    )


def test_check_needs_a_recent_heartbeat_of_this_host(settings, sql) -> None:
    assert check(settings) == (1, f"no reminder worker on host {HOST} is running (no heartbeat)")
    beat(sql, f"{HOST}:1", 120)
    code, reason = check(settings)
    assert code == 1
    assert re.fullmatch(
        rf"no reminder worker on host {HOST} beat in the last 60s \(the latest, {HOST}:1, 12\ds ago\)", reason
    )
    beat(sql, f"not-{HOST}:5", 3)
    assert check(settings)[0] == 1  # another host's worker does not make this one healthy
    code, reason = check(settings, "--any-host")
    assert code == 0 and re.fullmatch(rf"ok: reminder worker not-{HOST}:5 beat \d+s ago, 7 reminder\(s\) fired", reason)
    beat(sql, f"{HOST}:2", 0)
    code, reason = check(settings)
    assert code == 0 and reason.startswith(f"ok: reminder worker {HOST}:2 beat "), reason


def test_check_fails_when_the_database_is_unreachable(settings) -> None:
    code, reason = check(settings.with_(database_url="postgresql://postgres@127.0.0.1:1/dengue"))
    assert code == 1 and reason.startswith("database unavailable: OperationalError"), reason


async def test_a_worker_that_reaches_the_database_but_cannot_fire_does_not_beat(settings, sql, caplog) -> None:
    """A heartbeat says reminders are being fired, not only that the database
    answers: a worker whose every attempt to fire fails (here its table is
    gone) writes none, so `worker --check` fails."""
    from service.reminders.worker import Worker

    caplog.set_level(logging.ERROR, logger="service.worker")
    sql("ALTER TABLE reminders RENAME TO reminders_away")
    worker = Worker(settings.with_(worker_retry_max_seconds=0.2))
    serving = asyncio.ensure_future(worker._serve())
    try:
        async with asyncio.timeout(15):
            while not any("retrying with back-off" in r.getMessage() for r in caplog.records):
                await asyncio.sleep(0.05)
        assert sql("SELECT count(*) FROM worker_heartbeats") == [(0,)]
        assert check(settings)[0] == 1
    finally:
        worker.stopping.set()
        await asyncio.wait_for(serving, 15)
        await worker._close_pool()
        sql("ALTER TABLE reminders_away RENAME TO reminders")
