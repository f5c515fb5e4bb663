"""A real worker through real PostgreSQL outages: a cluster of the test's own
(tests/pgcluster.py), stopped cleanly or crashed and started again while the
worker runs. The worker is never restarted: it must recover by itself and
fire what fell due while the database was away."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import pytest

from ..conftest import yoyo
from ..pgcluster import PgCluster
from ..servers import Process, service_env, spawn, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    """A migrated ``dengue`` database on a PostgreSQL of the test's own."""
    pg = PgCluster()
    try:
        pg.start()
        admin = psycopg2.connect(pg.admin_url)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("CREATE DATABASE dengue")
        admin.close()
        result = yoyo("apply", pg.url("dengue"))
        assert result.returncode == 0, result.stderr
        yield pg
    finally:
        pg.destroy()


def query(pg: PgCluster, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(pg.url("dengue"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def schedule(pg: PgCluster, count: int, in_seconds: float) -> float:
    """``count`` patients whose reminders fall due in ``in_seconds`` (no
    NOTIFY: the worker finds them when it next looks); return the due time
    as a Unix timestamp of the database's clock."""
    query(
        pg,
        "INSERT INTO patients (first_name, last_name, admission_date, ward) "
        "SELECT 'P' || g, 'Outage', now(), (SELECT min(id) FROM wards) FROM generate_series(1, %s) g",
        (count,),
    )
    query(
        pg,
        "INSERT INTO reports (patient, time, status, monitoring_interval) "
        "SELECT id, now() - interval '1 hour', 'febrile', 1 FROM patients",
    )
    ((due,),) = query(
        pg,
        "WITH due AS (SELECT now() + make_interval(secs => %s) AS t) "
        "INSERT INTO reminders (patient, report, run_at) SELECT patient, id, (SELECT t FROM due) FROM reports "
        "RETURNING extract(epoch FROM run_at)::float8",
        (in_seconds,),
    )[:1]
    return float(due)


def fired(pg: PgCluster) -> int:
    ((count,),) = query(pg, "SELECT count(*) FROM notifications WHERE type = 'observation_due'")
    return int(count)


def database_clock(pg: PgCluster) -> float:
    ((now,),) = query(pg, "SELECT extract(epoch FROM clock_timestamp())::float8")
    return float(now)


def check(settings: Any, pg: PgCluster) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", "worker", "--check"],
        env=service_env(settings, DATABASE_URL=pg.url("dengue")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextmanager
def worker(settings: Any, pg: PgCluster, started: bool = True) -> Iterator[Process]:
    env = service_env(
        settings,
        DATABASE_URL=pg.url("dengue"),
        WORKER_RETRY_MAX_SECONDS="0.5",
        WORKER_HEARTBEAT_SECONDS="1",
        WORKER_STALE_SECONDS="10",
    )
    with spawn([sys.executable, "-m", "service", "worker"], env, "worker") as process:
        wait_until(lambda: "reminder worker" in process.log() and "started" in process.log(), 15, "the worker")
        if started:
            wait_until(lambda: query(pg, "SELECT count(*) FROM worker_heartbeats") == [(1,)], 15, "its heartbeat")
        yield process


def outage_and_recovery(settings: Any, pg: PgCluster, mode: str, count: int) -> None:
    with worker(settings, pg) as w:
        due = schedule(pg, count, in_seconds=2.0)
        pg.stop(mode)
        wait_until(lambda: "database unavailable" in w.log(), 15, "the worker to notice the outage")
        result = check(settings, pg)
        assert result.returncode != 0 and result.stdout.startswith("database unavailable"), result
        # the reminders fall due while PostgreSQL is away
        wait_until(lambda: time.time() > due + 0.5, 15, "the reminders to fall due")
        assert w.proc.poll() is None, w.log()
        pg.start()
        restarted = database_clock(pg)
        wait_until(lambda: fired(pg) == count, 30, "every reminder that fell due to fire")
        wait_until(lambda: w.log().count("reminder fired") == count, 15, "the log lines")  # after the commit
        assert w.proc.poll() is None, "the worker was restarted"
        assert "database available again" in w.log()
        result = check(settings, pg)
        assert result.returncode == 0 and result.stdout.startswith("ok: reminder worker"), result
    # each fired once, all after the database came back
    assert query(pg, "SELECT count(DISTINCT patient) FROM notifications WHERE type = 'observation_due'") == [(count,)]
    assert query(pg, "SELECT count(*) FROM reminders WHERE fired_at >= to_timestamp(%s)", (restarted,)) == [(count,)]
    # a worker that stops cleanly deletes its heartbeat
    assert query(pg, "SELECT count(*) FROM worker_heartbeats") == [(0,)]


def test_a_worker_recovers_from_a_postgresql_restart_and_fires_what_fell_due(settings, cluster) -> None:
    outage_and_recovery(settings, cluster, "fast", 20)


def test_a_worker_recovers_from_a_postgresql_crash(settings, cluster) -> None:
    outage_and_recovery(settings, cluster, "immediate", 5)


def test_a_worker_started_while_postgresql_is_down_waits_for_it(settings, cluster) -> None:
    schedule(cluster, 3, in_seconds=0.0)
    cluster.stop("fast")
    with worker(settings, cluster, started=False) as w:
        wait_until(lambda: "database unavailable" in w.log(), 15, "the first failure")
        assert w.proc.poll() is None, w.log()
        cluster.start()
        wait_until(lambda: fired(cluster) == 3, 30, "the reminders to fire")
        assert "database available again" in w.log()
