"""Writes that race: a per-patient lock orders them (tests hold it from a
connection of their own to force the interleaving), and If-Match turns a
lost update into a 412."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ..helpers import create_patient, create_report, request, waiting_on_locks

STALE = {"detail": "This record was changed by someone else since you loaded it."}


def reminder(sql: Any, patient_id: int) -> Any:
    rows = sql("SELECT run_at FROM reminders WHERE patient = %s", (patient_id,))
    return rows[0][0] if rows else None


async def test_concurrent_restores_of_one_deleted_report(client, alice, sql, hold) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"])
    assert (await client.delete(f"/api/reports/{report['id']}/", headers=alice.headers)).status == 204
    ((version,),) = sql("SELECT history_id FROM report_history WHERE history_type = '+'")
    release = hold(patient["id"])
    restores = [
        asyncio.ensure_future(client.post(f"/api/history/{version}/restore/", headers=alice.headers)) for _ in range(4)
    ]
    await waiting_on_locks(sql, 4)
    release()
    statuses = sorted([(await r).status for r in restores])
    assert statuses == [200, 200, 200, 201]  # re-created once, then restored over
    assert sql("SELECT id FROM reports") == [(report["id"],)]


async def test_concurrent_reports_leave_the_reminder_at_the_latest(client, alice, sql, hold) -> None:
    patient = await create_patient(client, alice)
    release = hold(patient["id"])
    bodies = [
        {"time": "2024-05-03T12:00:00Z", "monitoring_interval": 4},  # due 16:00: the latest report
        {"time": "2024-05-03T10:00:00Z", "monitoring_interval": 2},  # due 12:00
    ]
    writes = [
        asyncio.ensure_future(
            client.post(
                "/api/reports/", json={"patient": patient["id"], "status": "febrile", **b}, headers=alice.headers
            )
        )
        for b in bodies
    ]
    await waiting_on_locks(sql, 2)  # both queue behind the patient's lock
    release()
    assert [(await w).status for w in writes] == [201, 201]
    assert reminder(sql, patient["id"]).isoformat() == "2024-05-03T16:00:00+00:00"


async def test_a_report_moved_and_restored_back_reschedules_both_patients(client, alice, sql) -> None:
    p1, p2 = await create_patient(client, alice), await create_patient(client, alice, first_name="Two")
    report = await create_report(client, alice, p1["id"], time="2024-05-03T12:00:00Z", monitoring_interval=4)
    assert reminder(sql, p1["id"]) is not None and reminder(sql, p2["id"]) is None
    moved = await client.patch(f"/api/reports/{report['id']}/", json={"patient": p2["id"]}, headers=alice.headers)
    assert moved.status == 200
    assert reminder(sql, p1["id"]) is None and reminder(sql, p2["id"]) is not None
    ((version,),) = sql("SELECT history_id FROM report_history WHERE history_type = '+'")
    restored = await client.post(f"/api/history/{version}/restore/", headers=alice.headers)
    assert (restored.status, (await restored.json())["patient"]) == (200, p1["id"])
    assert reminder(sql, p1["id"]) is not None and reminder(sql, p2["id"]) is None


# --- If-Match ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["patients", "reports", "history"])
async def test_a_stale_edit_is_412_and_a_current_one_goes_through(client, alice, kind) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"])
    pk = {"patients": patient["id"], "reports": report["id"], "history": 1}[kind]
    change = {"patients": {"last_name": "X"}, "reports": {"pulse": 77}, "history": {"history_change_reason": "x"}}
    url = f"/api/{kind}/{pk}/"
    seen = await client.get(url, headers=alice.headers)
    tag = seen.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"')
    assert (await client.get(url, headers=alice.headers)).headers["ETag"] == tag  # stable while unchanged

    first = await client.patch(url, json=change[kind], headers={**alice.headers, "If-Match": tag})
    assert first.status == 200
    assert first.headers["ETag"] != tag
    assert first.headers["ETag"] == (await client.get(url, headers=alice.headers)).headers["ETag"]

    second = await client.patch(url, json=change[kind], headers={**alice.headers, "If-Match": tag})
    assert (second.status, await second.json()) == (412, STALE)  # the nurse who saved second learns it
    gone = await client.delete(url, headers={**alice.headers, "If-Match": tag})
    assert gone.status in (412, 403)  # history deletes are for superusers only
    assert (await client.patch(url, json=change[kind], headers={**alice.headers, "If-Match": "*"})).status == 200
    assert (await client.patch(url, json=change[kind], headers=alice.headers)).status == 200  # as the old API


async def test_a_stale_delete_is_412(client, alice) -> None:
    patient = await create_patient(client, alice)
    tag = (await client.get(f"/api/patients/{patient['id']}/", headers=alice.headers)).headers["ETag"]
    await client.patch(f"/api/patients/{patient['id']}/", json={"last_name": "Y"}, headers=alice.headers)
    stale = await client.delete(f"/api/patients/{patient['id']}/", headers={**alice.headers, "If-Match": tag})
    assert (stale.status, await stale.json()) == (412, STALE)
    fresh = (await client.get(f"/api/patients/{patient['id']}/", headers=alice.headers)).headers["ETag"]
    ok = await client.delete(f"/api/patients/{patient['id']}/", headers={**alice.headers, "If-Match": fresh})
    assert ok.status == 204


async def test_if_match_over_the_socket(client, alice) -> None:
    patient = await create_patient(client, alice)
    tag = (await client.get(f"/api/patients/{patient['id']}/", headers=alice.headers)).headers["ETag"]
    ws = await client.ws_connect("/ws/", params={"token": alice.token})
    patch = {"action": "patch", "pk": patient["id"], "data": {"last_name": "Z"}}
    ok = await request(ws, "patients", {**patch, "if_match": tag})
    assert ok["response_status"] == 200
    stale = await request(ws, "patients", {**patch, "if_match": tag.strip('"')})  # quotes are optional
    assert (stale["response_status"], stale["errors"], stale["data"]) == (412, [STALE["detail"]], None)
    bad = await request(ws, "patients", {**patch, "if_match": 5})
    assert bad["response_status"] == 400
    await ws.close()
