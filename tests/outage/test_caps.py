"""Past each database cap: no connection free within DB_ACQUIRE_TIMEOUT, a
statement past DB_STATEMENT_TIMEOUT (503, not a hang), idle connections
closed after DB_POOL_RECYCLE, and the hub's own pool (DB_HUB_POOL_SIZE)
delivering while the requests' pool is exhausted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.app import create_app
from service.db import NO_CONNECTION, TIMED_OUT, open_database

from ..helpers import broadcast, create_patient, next_frame, request, waiting_on_locks

# Beyond a timeout, what a 503 may take to come back (scheduling on a busy machine).
MARGIN = 2.0


@pytest.fixture
async def one_connection(aiohttp_client: Any, settings: Any) -> Any:
    """A server whose requests share a single pooled connection."""
    return await aiohttp_client(create_app(settings.with_(db_pool_min=1, db_pool_max=1)))


async def test_no_free_connection_within_the_acquire_timeout_is_a_503(
    one_connection, settings, alice, sql, hold
) -> None:
    client = one_connection
    patient = await create_patient(client, alice)
    ws = await client.ws_connect(f"/ws/?token={alice.token}")
    release = hold(patient["id"])
    held = asyncio.create_task(
        client.patch(f"/api/patients/{patient['id']}/", json={"last_name": "Held"}, headers=alice.headers)
    )
    await waiting_on_locks(sql, 1)  # the only connection is in that PATCH, waiting for our lock

    started = time.monotonic()
    resp = await client.get("/api/patients/", headers=alice.headers)
    assert time.monotonic() - started < settings.db_acquire_timeout + MARGIN
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "1"
    assert (await resp.json())["detail"] == NO_CONNECTION

    started = time.monotonic()
    reply = await request(ws, "patients", {"action": "list"}, timeout=10)
    # at most twice: a socket marks its session used once a minute, before the frame
    assert time.monotonic() - started < 2 * settings.db_acquire_timeout + MARGIN
    assert (reply["response_status"], reply["errors"]) == (503, [NO_CONNECTION])

    release()
    assert (await held).status == 200
    assert (await client.get(f"/api/patients/{patient['id']}/", headers=alice.headers)).status == 200
    await ws.close()


async def test_a_statement_past_the_statement_timeout_is_a_503(aiohttp_client, settings, alice, sql, hold) -> None:
    short = settings.with_(db_statement_timeout=1.0)
    client = await aiohttp_client(create_app(short))
    patient = await create_patient(client, alice)
    release = hold(patient["id"])
    try:
        started = time.monotonic()
        resp = await client.patch(f"/api/patients/{patient['id']}/", json={"last_name": "Late"}, headers=alice.headers)
        assert time.monotonic() - started < short.db_statement_timeout + MARGIN
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "1"
        assert (await resp.json())["detail"] == TIMED_OUT
    finally:
        release()
    # rolled back, and the connection serves the next request
    assert sql("SELECT last_name FROM patients") == [(patient["last_name"],)]
    resp = await client.patch(f"/api/patients/{patient['id']}/", json={"last_name": "Now"}, headers=alice.headers)
    assert resp.status == 200


def connections(sql: Any, name: str) -> int:
    ((count,),) = sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,))
    return int(count)


@pytest.fixture
async def recycled(settings: Any) -> AsyncIterator[Any]:
    db = await open_database(settings.with_(db_pool_recycle=0.5), 1, 3, name="dengue-ward-recycle")
    yield db
    await db.close()


async def test_idle_connections_are_closed_after_the_recycle_time(recycled, sql) -> None:
    db = recycled
    async with db.connection() as a, db.connection() as b, db.connection() as c:
        for conn in (a, b, c):
            async with conn.cursor() as cur:
                await cur.execute("SELECT 1")
        assert connections(sql, "dengue-ward-recycle") == 3
    async with asyncio.timeout(10):
        while connections(sql, "dengue-ward-recycle") > 1:  # down to DB_POOL_MIN
            await asyncio.sleep(0.05)
    assert db.pool.size == 1
    assert await db.fetchone("SELECT 1 AS one") == {"one": 1}


async def test_live_updates_arrive_while_the_requests_pool_is_exhausted(
    one_connection, aiohttp_client, settings, alice, sql, hold
) -> None:
    """The hub reads what another process committed on its own pool."""
    client = one_connection
    other = await aiohttp_client(create_app(settings))  # another process, on the same channel
    ws = await client.ws_connect(f"/ws/?token={alice.token}")
    patient = await create_patient(other, alice)
    await next_frame(ws, broadcast("patients", "create", id=patient["id"]), timeout=10)
    second = await create_patient(other, alice, first_name="Second")
    release = hold(patient["id"])
    held = asyncio.create_task(
        client.patch(f"/api/patients/{patient['id']}/", json={"last_name": "Held"}, headers=alice.headers)
    )
    try:
        await waiting_on_locks(sql, 1)
        resp = await other.patch(
            f"/api/patients/{second['id']}/", json={"last_name": "Elsewhere"}, headers=alice.headers
        )
        assert resp.status == 200
        frame = await next_frame(ws, broadcast("patients", "update", id=second["id"]), timeout=10)
        assert frame["payload"]["data"]["last_name"] == "Elsewhere"
        assert not held.done()  # the requests' only connection was busy all along
    finally:
        release()
    assert (await held).status == 200
    await ws.close()
