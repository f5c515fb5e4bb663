"""Need-to-know across processes (issue 14, point 3): a change of a
connected user's wards or flags, made on one server process, applies to
their socket on another within a second; observation-due reminders from a
real worker reach only the patient's ward and staff."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import aiohttp
import pytest

from ..helpers import PATIENT, report_body, request
from ..servers import server
from ..two_wards import add_ward
from ..worker.test_reminders import worker
from .test_ward_scoping import events_for, frames_until, last_event, shown

pytestmark = pytest.mark.slow


def ws_url(base: str, key: str) -> str:
    return f"{base.replace('http', 'ws')}/ws/?token={key}"


async def post(http: aiohttp.ClientSession, url: str, account: Any, body: Any) -> dict[str, Any]:
    async with http.post(url, json=body, headers=account.headers) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def patch(http: aiohttp.ClientSession, url: str, account: Any, body: Any) -> dict[str, Any]:
    async with http.patch(url, json=body, headers=account.headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def frames_within(ws: Any, count: int, seconds: float) -> list[dict[str, Any]]:
    """Exactly the next ``count`` frames, which must all arrive within ``seconds``."""
    async with asyncio.timeout(seconds):
        return [await ws.receive_json() for _ in range(count)]


def created_and_deleted(frames: list[dict[str, Any]]) -> tuple[set[int], set[int]]:
    creates = {f["payload"]["data"]["id"] for f in frames if f["payload"]["action"] == "create"}
    deletes = {f["payload"]["data"]["id"] for f in frames if f["payload"]["action"] == "delete"}
    return creates, deletes


async def test_a_ward_change_of_a_connected_user_applies_on_another_process(settings, sql, make_user) -> None:
    b = add_ward(sql)
    nurse = make_user("nurse", wards=(1,))
    staff = make_user("staff", staff=True, wards=())
    root = make_user("root", superuser=True, wards=())
    with server(settings) as one, server(settings) as two:
        async with aiohttp.ClientSession() as http:
            patients = f"{one.url}/api/patients/"
            a1 = await post(http, patients, staff, {**PATIENT, "first_name": "A1", "ward": 1})
            a2 = await post(http, patients, staff, {**PATIENT, "first_name": "A2", "ward": 1})
            b1 = await post(http, patients, staff, {**PATIENT, "first_name": "B1", "ward": b})
            b2 = await post(http, patients, staff, {**PATIENT, "first_name": "B2", "ward": b})
            gone = "2024-05-10T10:00:00Z"
            await patch(http, f"{patients}{b2['id']}/", staff, {"dismissal_date": gone})  # not on any board
            async with http.ws_connect(ws_url(two.url, nurse.token)) as ws:
                listed = await request(ws, "patients", {"action": "list"})
                assert [p["id"] for p in listed["data"]] == [a2["id"], a1["id"]]

                # staff move the nurse from ward 1 to ward b, on process one
                user_url = f"{one.url}/api/users/{nurse.id}/"
                await patch(http, user_url, staff, {"wards": [b]})
                changed = time.monotonic()
                frames = await frames_within(ws, 3, 1.0)
                assert time.monotonic() - changed < 1.0
                assert all(f["stream"] == "patients" for f in frames)
                assert created_and_deleted(frames) == ({b1["id"]}, {a1["id"], a2["id"]})
                create = next(f for f in frames if f["payload"]["action"] == "create")
                b1_now = {**b1, "pk": b1["id"]}
                assert (create["payload"]["data"], create["payload"]["response_status"]) == (b1_now, 201)
                delete = next(f for f in frames if f["payload"]["data"]["id"] == a1["id"])
                assert delete["payload"]["data"] == {"pk": a1["id"], "id": a1["id"]}
                assert delete["payload"]["response_status"] == 204
                # the socket now works with ward b: its lists, and later broadcasts of b, not of 1
                listed = await request(ws, "patients", {"action": "list"})
                assert [p["id"] for p in listed["data"]] == [b2["id"], b1["id"]]
                await patch(http, f"{patients}{a1['id']}/", staff, {"first_name": "A1 again"})
                await patch(http, f"{patients}{b1['id']}/", staff, {"first_name": "B1 again"})
                (frame,) = await frames_within(ws, 1, 1.0)
                assert (frame["payload"]["action"], frame["payload"]["data"]["first_name"]) == ("update", "B1 again")
                reply = await request(ws, "patients", {"action": "retrieve", "pk": a1["id"]})
                assert reply["response_status"] == 404

                # made staff (by a superuser): every ward
                await patch(http, user_url, root, {"is_staff": True})
                changed = time.monotonic()
                frames = await frames_within(ws, 2, 1.0)
                assert time.monotonic() - changed < 1.0
                assert created_and_deleted(frames) == ({a1["id"], a2["id"]}, set())
                await patch(http, f"{patients}{a2['id']}/", staff, {"first_name": "A2 again"})
                (frame,) = await frames_within(ws, 1, 1.0)
                assert (frame["payload"]["action"], frame["payload"]["data"]["first_name"]) == ("update", "A2 again")
                listed = await request(ws, "patients", {"action": "list"})
                assert len(listed["data"]) == 4

                # no longer staff and in no ward: every card goes
                await patch(http, user_url, root, {"is_staff": False, "wards": []})
                frames = await frames_within(ws, 3, 1.0)
                assert created_and_deleted(frames) == (set(), {a1["id"], a2["id"], b1["id"]})
                listed = await request(ws, "patients", {"action": "list"})
                assert listed["data"] == []


async def test_deactivation_through_the_api_closes_sockets_on_every_process(settings, sql, make_user) -> None:
    nurse = make_user("nurse")
    staff = make_user("staff", staff=True)
    with server(settings) as one, server(settings) as two:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(ws_url(one.url, nurse.token)) as on_one,
            http.ws_connect(ws_url(two.url, nurse.token)) as on_two,
        ):
            for ws in (on_one, on_two):
                await request(ws, "patients", {"action": "list"})
            await patch(http, f"{one.url}/api/users/{nurse.id}/", staff, {"is_active": False})
            started = time.monotonic()
            for ws in (on_one, on_two):
                async with asyncio.timeout(1.0):
                    async for _ in ws:
                        pass
                assert ws.close_code == 4401
            assert time.monotonic() - started < 1.0


async def test_set_password_closes_sockets_on_every_process(settings, sql, make_user) -> None:
    nurse = make_user("nurse")
    staff = make_user("staff", staff=True)
    with server(settings) as one, server(settings) as two:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(ws_url(two.url, nurse.token)) as ws:
                await request(ws, "patients", {"action": "list"})
                url = f"{one.url}/api/users/{nurse.id}/set_password/"
                async with http.post(url, json={"password": "a brand new secret"}, headers=staff.headers) as resp:
                    assert resp.status == 200
                async with asyncio.timeout(1.0):
                    async for _ in ws:
                        pass
                assert ws.close_code == 4401
            async with http.get(f"{two.url}/api/patients/", headers=nurse.headers) as resp:
                assert resp.status == 401


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


async def test_observation_due_reminders_reach_only_the_patients_ward(client, settings, sql, make_user) -> None:
    b = add_ward(sql)
    nurse_a, nurse_b = make_user("nurse_a", wards=(1,)), make_user("nurse_b", wards=(b,))
    staff = make_user("staff", staff=True, wards=())
    overdue = iso(dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))  # due an hour ago: fires at once
    patient_a = await post_in(client, nurse_a, "/api/patients/", {**PATIENT, "first_name": "Ann", "ward": 1})
    patient_b = await post_in(client, nurse_b, "/api/patients/", {**PATIENT, "first_name": "Bea", "ward": b})
    for nurse, patient in ((nurse_a, patient_a), (nurse_b, patient_b)):
        await post_in(client, nurse, "/api/reports/", report_body(patient["id"], time=overdue, monitoring_interval=1))
    start = last_event(sql)
    sockets = {}
    for account in (nurse_a, nurse_b, staff):
        sockets[account.id] = await client.ws_connect("/ws/", params={"token": account.token})
        await request(sockets[account.id], "patients", {"action": "list"})

    with worker(settings):
        async with asyncio.timeout(20):
            while sql("SELECT count(*) FROM notifications WHERE type = 'observation_due'") != [(2,)]:
                await asyncio.sleep(0.05)
    # a change in ward a, then in ward b: each nurse reads up to the last of their own
    await patch_in(client, staff, f"/api/patients/{patient_a['id']}/", {"first_name": "Anne"})
    await patch_in(client, staff, f"/api/patients/{patient_b['id']}/", {"first_name": "Bee"})
    for account, wards in ((nurse_a, [1]), (nurse_b, [b]), (staff, None)):
        expected = events_for(sql, wards, after=start)
        got = await frames_until(sockets[account.id], expected[-1][0], timeout=10)
        assert shown(got) == expected
        notes = [f["payload"]["data"] for f in got if f["stream"] == "notifications"]
        assert all(n["type"] == "observation_due" for n in notes)
        mine = {patient_a["id"]} if wards == [1] else {patient_b["id"]} if wards else {patient_a["id"], patient_b["id"]}
        assert {n["patient"] for n in notes} == mine
    for ws in sockets.values():
        await ws.close()


async def post_in(client: Any, account: Any, path: str, body: Any) -> dict[str, Any]:
    resp = await client.post(path, json=body, headers=account.headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def patch_in(client: Any, account: Any, path: str, body: Any) -> dict[str, Any]:
    resp = await client.patch(path, json=body, headers=account.headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()
