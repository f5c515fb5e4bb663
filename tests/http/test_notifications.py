"""Notifications raised by saved reports: stored with the report, listed,
acknowledged, pushed live; the same over HTTP and the socket."""

from __future__ import annotations

from typing import Any

from ..helpers import broadcast, create_patient, create_report, next_frame, request


async def notifications(client: Any, account: Any, **query: Any) -> list[dict[str, Any]]:
    resp = await client.get("/api/notifications/", params=query, headers=account.headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_warning_signs_raise_a_stored_notification(client, alice) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"], warning_signs="abdominal pain")
    (note,) = await notifications(client, alice)
    assert note["type"] == "warning_signs" and note["severity"] == "critical"
    assert note["patient"] == patient["id"] and note["report"] == report["id"]
    assert "abdominal pain" in note["message"]
    assert note["acknowledged_at"] is None and note["acknowledged_by"] is None
    resp = await client.get(f"/api/notifications/{note['id']}/", headers=alice.headers)
    assert await resp.json() == note


async def test_a_quiet_report_raises_nothing(client, alice) -> None:
    patient = await create_patient(client, alice)
    await create_report(client, alice, patient["id"], fever="37.20", pulse=80, bp_systolic=120, bp_diastolic=80)
    assert await notifications(client, alice) == []


async def test_acknowledge_records_who_and_when_once(client, alice, make_user) -> None:
    bob = make_user("bob")
    patient = await create_patient(client, alice)
    await create_report(client, alice, patient["id"], o2_saturation=90)
    (note,) = await notifications(client, alice, acknowledged="false")
    resp = await client.post(f"/api/notifications/{note['id']}/acknowledge/", headers=bob.headers)
    assert resp.status == 200
    acked = await resp.json()
    assert acked["acknowledged_by"] == bob.id and acked["acknowledged_at"] is not None
    again = await client.post(f"/api/notifications/{note['id']}/acknowledge/", headers=alice.headers)
    assert (await again.json())["acknowledged_by"] == bob.id
    assert await notifications(client, alice, acknowledged="false") == []
    assert [n["id"] for n in await notifications(client, alice, acknowledged="true")] == [note["id"]]
    missing = await client.post("/api/notifications/999/acknowledge/", headers=alice.headers)
    assert missing.status == 404 and await missing.json() == {"detail": "No Notification matches the given query."}


async def test_filters_and_bad_filter_values(client, alice) -> None:
    first = await create_patient(client, alice)
    second = await create_patient(client, alice, first_name="Other")
    await create_report(client, alice, first["id"], platelet_count=50)
    await create_report(client, alice, second["id"], platelet_count=50)
    only_second = await notifications(client, alice, patient=second["id"])
    assert [n["patient"] for n in only_second] == [second["id"]]
    bad = await client.get("/api/notifications/", params={"acknowledged": "maybe"}, headers=alice.headers)
    assert bad.status == 400 and await bad.json() == {"acknowledged": ["Must be a valid boolean."]}
    bad = await client.get("/api/notifications/", params={"patient": "x"}, headers=alice.headers)
    assert bad.status == 400
    page = await client.get("/api/notifications/", params={"limit": 1}, headers=alice.headers)
    assert (await page.json())["count"] == 2


async def test_notifications_are_read_only_over_http(client, alice) -> None:
    resp = await client.post("/api/notifications/", json={"type": "x"}, headers=alice.headers)
    assert resp.status == 405
    resp = await client.delete("/api/notifications/1/", headers=alice.headers)
    assert resp.status == 405
    resp = await client.get("/api/notifications/")
    assert resp.status == 401


async def test_edit_that_still_meets_a_rule_does_not_duplicate(client, alice) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"], fever="39.50")
    await client.patch(f"/api/reports/{report['id']}/", json={"fever": "39.80"}, headers=alice.headers)
    (note,) = await notifications(client, alice)
    await client.post(f"/api/notifications/{note['id']}/acknowledge/", headers=alice.headers)
    await client.patch(f"/api/reports/{report['id']}/", json={"fever": "40.00"}, headers=alice.headers)
    assert [n["type"] for n in await notifications(client, alice)] == ["high_fever", "high_fever"]


async def test_hematocrit_compares_with_the_patients_first_value(client, alice) -> None:
    patient = await create_patient(client, alice)
    await create_report(client, alice, patient["id"], time="2024-05-03T08:00:00Z", hematocrit=40)
    await create_report(client, alice, patient["id"], time="2024-05-03T12:00:00Z", hematocrit=47)
    assert await notifications(client, alice) == []
    await create_report(client, alice, patient["id"], time="2024-05-03T16:00:00Z", hematocrit=48)
    (note,) = await notifications(client, alice)
    assert note["type"] == "hematocrit_rise" and "40 %" in note["message"]


async def test_entering_the_critical_phase_only_once(client, alice) -> None:
    patient = await create_patient(client, alice)
    await create_report(client, alice, patient["id"], time="2024-05-03T08:00:00Z", status="febrile")
    await create_report(client, alice, patient["id"], time="2024-05-03T12:00:00Z", status="critical")
    await create_report(client, alice, patient["id"], time="2024-05-03T16:00:00Z", status="critical")
    assert [n["type"] for n in await notifications(client, alice)] == ["critical_phase"]


async def test_live_notification_and_the_socket_stream(client, alice, make_user) -> None:
    bob = make_user("bob")
    ws = await client.ws_connect("/ws/", params={"token": bob.token})
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"], warning_signs="bleeding gums")
    live = await next_frame(ws, lambda f: f["stream"] == "notifications")
    payload = live["payload"]
    assert payload["action"] == "notification" and payload["response_status"] == 201
    assert payload["request_id"] is None and isinstance(payload["event_id"], int)
    assert payload["data"]["type"] == "warning_signs" and payload["data"]["report"] == report["id"]
    note_id = payload["data"]["id"]

    listed = await request(ws, "notifications", {"action": "list", "acknowledged": False})
    assert [n["id"] for n in listed["data"]] == [note_id]
    got = await request(ws, "notifications", {"action": "retrieve", "pk": note_id})
    assert got["data"]["message"] == payload["data"]["message"]
    acked = await request(ws, "notifications", {"action": "acknowledge", "pk": note_id})
    assert acked["response_status"] == 200 and acked["data"]["acknowledged_by"] == bob.id
    cleared = await next_frame(ws, broadcast("notifications", "update", id=note_id))
    assert cleared["payload"]["data"]["acknowledged_at"] is not None
    no_create = await request(ws, "notifications", {"action": "create", "data": {}})
    assert no_create["response_status"] == 405
    await ws.close()
