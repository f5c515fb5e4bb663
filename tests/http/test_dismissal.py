"""Housekeeping on dismissal (issue 13, point 6): dismissing a patient closes
their open notifications (acknowledged as "patient dismissed", by the
system), tells every screen, and removes their reminder."""

from __future__ import annotations

from typing import Any

import pytest

from ..helpers import broadcast, create_patient, create_report, moment, next_frame, request

DISMISSED = "patient dismissed"


async def notifications(client: Any, account: Any, **query: Any) -> list[dict[str, Any]]:
    resp = await client.get("/api/notifications/", params=query, headers=account.headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


def notification_events(sql: Any) -> int:
    ((count,),) = sql("SELECT count(*) FROM events WHERE stream = 'notifications'")
    return int(count)


def reminders_of(sql: Any, patient_id: int) -> int:
    ((count,),) = sql("SELECT count(*) FROM reminders WHERE patient = %s", (patient_id,))
    return int(count)


@pytest.fixture
async def ward(client: Any, sql: Any, alice: Any, make_user: Any) -> dict[str, Any]:
    """A patient with three notifications (one already acknowledged by Bob)
    and a reminder, and another patient with an open one and a reminder."""
    bob = make_user("bob")
    patient = await create_patient(client, alice)
    other = await create_patient(client, alice, first_name="Other")
    await create_report(client, alice, patient["id"], warning_signs="bleeding gums")
    await create_report(client, alice, patient["id"], time="2024-05-03T16:00:00Z", o2_saturation=90)
    await create_report(client, alice, patient["id"], time="2024-05-03T20:00:00Z", platelet_count=50)
    await create_report(client, alice, other["id"], warning_signs="vomiting")
    notes = await notifications(client, alice, patient=patient["id"])
    assert len(notes) == 3 and all(n["acknowledged_at"] is None for n in notes)
    acked = await client.post(f"/api/notifications/{notes[-1]['id']}/acknowledge/", headers=bob.headers)
    assert acked.status == 200
    assert reminders_of(sql, patient["id"]) == 1
    return {"bob": bob, "patient": patient, "other": other, "acked": await acked.json(), "notes": notes}


async def dismiss_over_rest(client: Any, alice: Any, patient: dict[str, Any], method: str) -> dict[str, Any]:
    body = {"dismissal_date": "2024-05-05T10:00:00Z"}
    if method == "PUT":
        body = {**{k: patient[k] for k in ("first_name", "last_name", "admission_date", "ward")}, **body}
    resp = await client.request(method, f"/api/patients/{patient['id']}/", json=body, headers=alice.headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


@pytest.mark.parametrize("how", ["PATCH", "PUT", "socket"])
async def test_dismissal_closes_open_notifications_and_removes_the_reminder(client, sql, alice, ward, how) -> None:
    patient, other, bob = ward["patient"], ward["other"], ward["bob"]
    watcher = await client.ws_connect("/ws/", params={"token": bob.token})
    before = notification_events(sql)

    if how == "socket":
        ws = await client.ws_connect("/ws/", params={"token": alice.token})
        reply = await request(
            ws, "patients", {"action": "patch", "pk": patient["id"], "data": {"dismissal_date": "2024-05-05T10:00:00Z"}}
        )
        assert reply["response_status"] == 200
        dismissed = reply["data"]
        await ws.close()
    else:
        dismissed = await dismiss_over_rest(client, alice, patient, how)
    assert dismissed["dismissal_date"] == "2024-05-05T10:00:00Z"

    open_ids = [n["id"] for n in ward["notes"][:2]]
    closed = {n["id"]: n for n in await notifications(client, alice, patient=patient["id"])}
    for note_id in open_ids:
        note = closed[note_id]
        assert note["acknowledged_by"] is None and note["acknowledged_reason"] == DISMISSED
        assert moment(note["acknowledged_at"]) == moment(dismissed["updated_at"])  # in the dismissal's transaction
    assert closed[ward["acked"]["id"]] == ward["acked"]  # Bob's acknowledgement stays his
    assert ward["acked"]["acknowledged_by"] == bob.id and ward["acked"]["acknowledged_reason"] is None
    assert await notifications(client, alice, patient=patient["id"], acknowledged="false") == []
    (still_open,) = await notifications(client, alice, patient=other["id"])
    assert still_open["acknowledged_at"] is None and still_open["acknowledged_reason"] is None
    assert await notifications(client, alice, admitted="true") == [still_open]

    for note_id in open_ids:  # every screen is told, one update each
        frame = await next_frame(watcher, broadcast("notifications", "update", id=note_id))
        assert frame["payload"]["data"] == {**closed[note_id], "pk": note_id}
    assert notification_events(sql) == before + 2

    assert reminders_of(sql, patient["id"]) == 0
    assert reminders_of(sql, other["id"]) == 1
    await watcher.close()


async def test_a_second_change_of_a_dismissed_patient_closes_nothing_again(client, sql, alice, ward) -> None:
    patient = ward["patient"]
    first = await dismiss_over_rest(client, alice, patient, "PATCH")
    closed = await notifications(client, alice, patient=patient["id"])
    events = notification_events(sql)
    resp = await client.patch(
        f"/api/patients/{patient['id']}/", json={"dismissal_date": "2024-05-06T10:00:00Z"}, headers=alice.headers
    )
    assert resp.status == 200 and (await resp.json())["updated_at"] != first["updated_at"]
    assert await notifications(client, alice, patient=patient["id"]) == closed  # the first closing stays
    assert notification_events(sql) == events
    assert reminders_of(sql, patient["id"]) == 0


async def test_a_dismissed_patients_new_report_schedules_no_reminder(client, sql, alice, ward) -> None:
    patient = ward["patient"]
    await dismiss_over_rest(client, alice, patient, "PATCH")
    await create_report(client, alice, patient["id"], time="2024-05-05T09:00:00Z")
    assert reminders_of(sql, patient["id"]) == 0


async def test_readmission_schedules_the_reminder_again(client, sql, alice, ward) -> None:
    patient = ward["patient"]
    await dismiss_over_rest(client, alice, patient, "PATCH")
    resp = await client.patch(f"/api/patients/{patient['id']}/", json={"dismissal_date": None}, headers=alice.headers)
    assert resp.status == 200
    assert reminders_of(sql, patient["id"]) == 1
    # the notifications closed on dismissal stay closed
    assert await notifications(client, alice, patient=patient["id"], acknowledged="false") == []
