"""Idempotency-Key (HTTP) and "idempotency_key" (socket): a retried write
runs once and gets the first reply; the reply is stored with the change."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ..helpers import create_patient, create_report, report_body, request, waiting_on_locks

REUSED = {"detail": "This idempotency key was already used for another request."}


def keyed(account: Any, key: str) -> dict[str, str]:
    return {**account.headers, "Idempotency-Key": key}


async def test_a_retried_create_runs_once_and_gets_the_first_reply(client, alice, sql) -> None:
    patient = await create_patient(client, alice)
    body = report_body(patient["id"], pulse=90)
    first = await client.post("/api/reports/", json=body, headers=keyed(alice, "k-1"))
    assert first.status == 201 and "Idempotent-Replayed" not in first.headers
    again = await client.post("/api/reports/", json=body, headers=keyed(alice, "k-1"))
    assert (again.status, await again.json()) == (201, await first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert sql("SELECT count(*) FROM reports") == [(1,)]
    assert sql("SELECT count(*) FROM report_history") == [(1,)]


async def test_the_same_key_with_another_request_is_422(client, alice, make_user, sql) -> None:
    patient = await create_patient(client, alice)
    assert (
        await client.post("/api/reports/", json=report_body(patient["id"]), headers=keyed(alice, "k"))
    ).status == 201
    other = await client.post("/api/reports/", json=report_body(patient["id"], pulse=1), headers=keyed(alice, "k"))
    assert (other.status, await other.json()) == (422, REUSED)
    bob = make_user("bob")  # keys are per user
    assert (await client.post("/api/reports/", json=report_body(patient["id"]), headers=keyed(bob, "k"))).status == 201
    assert sql("SELECT count(*) FROM reports") == [(2,)]


async def test_a_failed_request_stores_nothing(client, alice, sql) -> None:
    patient = await create_patient(client, alice)
    bad = await client.post("/api/reports/", json={"patient": patient["id"]}, headers=keyed(alice, "k"))
    assert bad.status == 400
    fixed = await client.post("/api/reports/", json=report_body(patient["id"]), headers=keyed(alice, "k"))
    assert fixed.status == 201  # the key was not used up by the failure


async def test_updates_deletes_and_actions_run_once(client, alice, sql) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"])
    url = f"/api/reports/{report['id']}/"
    for _ in range(2):
        resp = await client.patch(url, json={"pulse": 88}, headers=keyed(alice, "patch"))
        assert resp.status == 200 and (await resp.json())["pulse"] == 88
    assert sql("SELECT count(*) FROM report_history WHERE history_type = '~'") == [(1,)]
    for _ in range(2):
        resp = await client.delete(url, headers=keyed(alice, "delete"))
        assert resp.status == 204  # the retry is not a 404
    ((version,),) = sql("SELECT min(history_id) FROM report_history")
    replies = [await client.post(f"/api/history/{version}/restore/", headers=keyed(alice, "restore")) for _ in range(2)]
    assert [r.status for r in replies] == [201, 201]
    assert sql("SELECT count(*) FROM report_history WHERE history_type = '+'") == [(2,)]  # created, restored


async def test_a_retry_racing_its_first_attempt_waits_for_it(client, alice, sql, hold) -> None:
    patient = await create_patient(client, alice)
    release = hold(patient["id"])
    body = report_body(patient["id"])
    first = asyncio.ensure_future(client.post("/api/reports/", json=body, headers=keyed(alice, "race")))
    await waiting_on_locks(sql, 1)  # the first holds the key and waits for the patient
    retry = asyncio.ensure_future(client.post("/api/reports/", json=body, headers=keyed(alice, "race")))
    await waiting_on_locks(sql, 2)  # the retry waits for the key
    release()
    one, two = await first, await retry
    assert (one.status, two.status) == (201, 201)
    assert await one.json() == await two.json()
    assert sql("SELECT count(*) FROM reports") == [(1,)]


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "é"])
async def test_a_malformed_key_is_400(client, alice, key) -> None:
    patient = await create_patient(client, alice)
    headers = {**alice.headers, "Idempotency-Key": key}
    resp = await client.post("/api/reports/", json=report_body(patient["id"]), headers=headers)
    assert resp.status == 400
    assert (await resp.json())["detail"].startswith("Idempotency-Key: An idempotency key is 1 to 255")


async def test_over_the_socket(client, alice, sql) -> None:
    patient = await create_patient(client, alice)
    ws = await client.ws_connect("/ws/", params={"token": alice.token})
    frame = {"action": "create", "data": report_body(patient["id"]), "idempotency_key": "ws-1"}
    first = await request(ws, "reports", frame)
    again = await request(ws, "reports", frame)
    assert first["response_status"] == again["response_status"] == 201
    assert first["data"] == again["data"]
    assert sql("SELECT count(*) FROM reports") == [(1,)]
    other = await request(ws, "reports", {**frame, "data": report_body(patient["id"], pulse=3)})
    assert (other["response_status"], other["errors"]) == (422, [REUSED["detail"]])
    bad = await request(ws, "reports", {**frame, "idempotency_key": 7})
    assert bad["response_status"] == 400
    await ws.close()
