"""A write whose connection drops right after its COMMIT: the client gets a
503 though the change was made; PostgreSQL then crashes and comes back; the
retry with the same Idempotency-Key gets the stored reply, and there is
one report, not two."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import psycopg2
import pytest

from service.app import create_app

from ..helpers import create_patient, report_body
from .pgproxy import PgProxy


def count(database_url: str, table: str) -> int:
    """Rows of a table, on a connection of its own (PostgreSQL restarts in between)."""
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
            return int(cur.fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
async def proxy(pg: Any) -> AsyncIterator[PgProxy]:
    own = await PgProxy(pg.port).start()
    yield own
    await own.close()


async def test_a_retry_after_a_commit_whose_answer_was_lost_creates_nothing_twice(
    aiohttp_client, settings, database_url, proxy, pg, alice, sql
) -> None:
    client = await aiohttp_client(create_app(settings.with_(database_url=proxy.url("dengue_outage"))))
    patient = await create_patient(client, alice)
    keyed = {**alice.headers, "Idempotency-Key": "after-commit-1"}
    body = report_body(patient["id"], pulse=96)

    proxy.arm()
    lost = await client.post("/api/reports/", json=body, headers=keyed)
    assert proxy.cut.is_set()
    assert lost.status == 503 and lost.headers["Retry-After"] == "1"
    # ...and yet it was committed, with the reply it would have given
    assert sql("SELECT count(*) FROM reports") == [(1,)]
    ((status, stored),) = sql("SELECT status, body FROM idempotency_keys WHERE key = 'after-commit-1'")
    assert status == 201

    await asyncio.to_thread(pg.stop, "immediate")  # and PostgreSQL crashes before the client retries
    during = await client.post("/api/reports/", json=body, headers=keyed)
    assert during.status == 503
    await asyncio.to_thread(pg.start)

    async with asyncio.timeout(15):  # the client retries until the service answers
        while (retry := await client.post("/api/reports/", json=body, headers=keyed)).status == 503:
            await asyncio.sleep(0.1)
    assert retry.status == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    replayed = await retry.json()
    assert replayed == orjson.loads(stored)
    assert replayed["patient"] == patient["id"] and replayed["pulse"] == 96
    assert count(database_url, "reports") == 1
    assert count(database_url, "report_history") == 1
