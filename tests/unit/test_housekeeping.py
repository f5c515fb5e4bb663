"""The events table is pruned even when no reminder worker runs: a server
prunes once the oldest event is past the retention plus a grace period,
one pruner at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg2
import pytest

from service import housekeeping
from service.db import Database, create_pool

RETENTION = 3600


@pytest.fixture
async def db(settings: Any) -> AsyncIterator[Database]:
    pool = await create_pool(settings.database_url, minsize=1, maxsize=2)
    yield Database(pool)
    pool.close()
    await pool.wait_closed()


def add_event(sql: Any, age_seconds: int) -> int:
    ((event_id,),) = sql(
        "INSERT INTO events (stream, action, object_id, data, created_at) "
        "VALUES ('patients', 'create', 1, '{}', now() - make_interval(secs => %s)) RETURNING id",
        (age_seconds,),
    )
    return int(event_id)


async def test_a_recent_archive_is_left_to_the_worker(db, sql) -> None:
    add_event(sql, RETENTION + 60)  # past the retention, but within the grace period
    assert await housekeeping.prune_if_neglected(db, RETENTION, grace=600) is False
    assert sql("SELECT count(*) FROM events") == [(1,)]


async def test_a_neglected_archive_is_pruned_by_a_server(db, sql) -> None:
    old = add_event(sql, RETENTION + 7200)
    add_event(sql, 10)
    assert await housekeeping.prune_if_neglected(db, RETENTION, grace=600) is True
    assert sql("SELECT count(*) FROM events") == [(1,)]
    assert sql("SELECT pruned_through FROM event_horizon") == [(old,)]


async def test_one_pruner_at_a_time(db, sql, database_url) -> None:
    add_event(sql, RETENTION + 7200)
    other = psycopg2.connect(database_url)  # another process, pruning right now
    try:
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(1684369001)")
        assert await housekeeping.prune_events(db, RETENTION) is False
        assert sql("SELECT count(*) FROM events") == [(1,)]
    finally:
        other.rollback()
        other.close()
    assert await housekeeping.prune_events(db, RETENTION) is True
    assert sql("SELECT count(*) FROM events") == [(0,)]
