"""service.db's transactions on the real PostgreSQL: statements queued with
later() travel with COMMIT and fail it as any other statement would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg2
import pytest

from service.db import Database, create_pool
from service.events import Event
from service.reminders import CHANNEL
from service.sqlfiles import Q


@pytest.fixture
async def db(settings: Any) -> AsyncIterator[Database]:
    pool = await create_pool(settings.database_url, minsize=1, maxsize=2)
    committed: list[Event] = []
    database = Database(pool, after_commit=committed.extend)
    database.committed = committed  # type: ignore[attr-defined]
    yield database
    pool.close()
    await pool.wait_closed()


def insert_patient(first_name: str) -> tuple[str, dict[str, Any]]:
    return (
        "INSERT INTO patients (first_name, last_name, admission_date, ward) "
        "VALUES (%(f)s, 'Ng', now(), 1) RETURNING id",
        {"f": first_name},
    )


async def test_a_queued_statement_runs_with_commit(db, sql) -> None:
    async with db.transaction() as tx:
        await tx.fetchone("SELECT 1 AS one")
        await tx.later(*insert_patient("100% later"))
        assert sql("SELECT count(*) FROM patients") == [(0,)]  # not sent yet
    assert sql("SELECT first_name FROM patients") == [("100% later",)]


async def test_a_queued_statement_travels_with_the_events(db, sql) -> None:
    async with db.transaction() as tx:
        row = await tx.fetchone(*insert_patient("Lan"))
        await tx.later(Q.schedule_reminder, {"patient": row["id"], "channel": CHANNEL})  # a prepared, named query
        await tx.later(*insert_patient("50% more"))
        tx.emit(Event.of("patients", "create", {"id": row["id"]}, ward=None))
    assert sorted(sql("SELECT first_name FROM patients")) == [("50% more",), ("Lan",)]
    assert [e.id for e in db.committed] == [sql("SELECT max(id) FROM events")[0][0]]


async def test_a_failing_queued_statement_rolls_everything_back(db, sql) -> None:
    with pytest.raises(psycopg2.errors.DivisionByZero):
        async with db.transaction() as tx:
            await tx.fetchone(*insert_patient("Kept?"))
            await tx.later("SELECT 1 / %(zero)s", {"zero": 0})
            tx.emit(Event.of("patients", "create", {"id": 1}, ward=None))
    assert sql("SELECT count(*) FROM patients") == [(0,)]
    assert sql("SELECT count(*) FROM events") == [(0,)]
    assert db.committed == []
    async with db.transaction() as tx:  # the pooled connection is usable again
        await tx.fetchone(*insert_patient("After"))
    assert sql("SELECT first_name FROM patients") == [("After",)]


async def test_later_before_anything_else_runs_at_once(db, sql) -> None:
    async with db.transaction() as tx:
        await tx.later(*insert_patient("First"))
        assert sql("SELECT count(*) FROM patients") == [(0,)]  # inside the open transaction
    assert sql("SELECT first_name FROM patients") == [("First",)]
