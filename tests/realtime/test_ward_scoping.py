"""Need-to-know over the socket (issue 14, points 3 and 4): lists,
retrieve, instance subscriptions, stream-wide broadcasts, notifications and
``?since=`` replay carry only what the socket's user may see; a patient
moved between wards is a delete for the screens that lose sight of it and
a create for those that gain it, in event-id order with everything else.
One server process; tests/realtime/test_ward_processes.py has the ones that
need more."""

from __future__ import annotations

import asyncio
from typing import Any

from ..helpers import PATIENT, broadcast, next_frame, report_body, request
from ..two_wards import Seeded, Wards, no_such, seed, two_wards

NOT_FOUND = ["Not found"]


async def connect(client: Any, account: Any, **params: Any) -> Any:
    ws = await client.ws_connect("/ws/", params={"token": account.token, **params})
    return ws


async def http(client: Any, method: str, path: str, account: Any, body: Any = None) -> Any:
    resp = await client.request(method, path, json=body, headers=account.headers)
    assert resp.status in (200, 201, 204), (method, path, resp.status, await resp.text())
    return await resp.json() if resp.status != 204 else None


async def frames_until(ws: Any, event_id: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Every frame up to and including the broadcast of ``event_id`` (which
    must come: the wait is bounded by ``timeout``)."""
    got: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                frame = await ws.receive_json()
                got.append(frame)
                if frame["payload"].get("event_id") == event_id:
                    return got
    except TimeoutError:
        raise AssertionError(f"no broadcast of event {event_id} within {timeout} s; got {shown(got)}") from None


def shown(frames: list[dict[str, Any]]) -> list[tuple[int, str, str, int]]:
    def pk(data: Any) -> Any:
        return data.get("pk") if isinstance(data, dict) else None

    return [
        (f["payload"].get("event_id"), f["stream"], f["payload"]["action"], pk(f["payload"]["data"])) for f in frames
    ]


def events_for(sql: Any, wards: list[int] | None, after: int = 0) -> list[tuple[int, str, str, int]]:
    """The client events after ``after`` that concern ``wards`` (None: every
    ward), as stored (a move is stored once, as an update), from the table."""
    rows = sql(
        "SELECT id, stream, action, object_id FROM events "
        "WHERE id > %s AND stream NOT LIKE '\\_%%' "
        "AND (%s::bigint[] IS NULL OR ward = ANY(%s::bigint[]) OR prior_ward = ANY(%s::bigint[])) "
        "ORDER BY id",
        (after, wards, wards, wards),
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def last_event(sql: Any) -> int:
    return int(sql("SELECT coalesce(max(id), 0) FROM events")[0][0])


async def setting(client: Any, sql: Any, make_user: Any) -> tuple[Wards, Seeded]:
    w = two_wards(sql, make_user)
    return w, await seed(client, sql, w)


# --- lists, retrieve, subscriptions ---------------------------------------------------


async def test_socket_lists_hold_only_the_users_wards(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    sockets = {account.id: await connect(client, account) for account in (w.nurse_a, w.nurse_b, w.staff)}
    expected = {
        w.nurse_a.id: ([s.patient_a["id"]], [s.report_a["id"]], [s.history_a], [s.note_a]),
        w.nurse_b.id: ([s.patient_b["id"]], [s.report_b["id"]], [s.history_b], [s.note_b]),
        w.staff.id: (
            [s.patient_b["id"], s.patient_a["id"]],
            [s.report_b["id"], s.report_a["id"]],
            [s.history_b, s.history_a],
            [s.note_b, s.note_a],
        ),
    }
    for user_id, ws in sockets.items():
        lists = []
        for stream, key in (("patients", "id"), ("reports", "id"), ("history", "history_id"), ("notifications", "id")):
            reply = await request(ws, stream, {"action": "list"})
            assert reply["response_status"] == 200, reply
            lists.append([row[key] for row in reply["data"]])
        assert tuple(lists) == expected[user_id]
    ws_a = sockets[w.nurse_a.id]
    pb = s.patient_b["id"]
    for stream, filters in (
        ("reports", {"patient": pb}),
        ("history", {"patient": pb}),
        ("history", {"report": s.report_b["id"]}),
        ("notifications", {"patient": pb}),
    ):
        reply = await request(ws_a, stream, {"action": "list", **filters})
        assert (reply["response_status"], reply["data"]) == (200, []), (stream, filters)
    paged = await request(ws_a, "patients", {"action": "list", "limit": 10, "offset": 0})
    assert paged["data"]["count"] == 1 and [p["id"] for p in paged["data"]["results"]] == [s.patient_a["id"]]
    cursor = await request(ws_a, "notifications", {"action": "list", "cursor": ""})
    assert [n["id"] for n in cursor["data"]["results"]] == [s.note_a]
    for ws in sockets.values():
        await ws.close()


async def test_retrieve_and_subscribe_of_another_wards_records_are_404(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    ws = await connect(client, w.nurse_a)
    staff = await connect(client, w.staff)
    for stream, theirs, mine in (
        ("patients", s.patient_b["id"], s.patient_a["id"]),
        ("reports", s.report_b["id"], s.report_a["id"]),
        ("history", s.history_b, s.history_a),
        ("notifications", s.note_b, s.note_a),
    ):
        for action in ("retrieve", "subscribe_instance"):
            reply = await request(ws, stream, {"action": action, "pk": theirs, "request_id": f"{stream}-{action}"})
            assert (reply["response_status"], reply["errors"], reply["data"]) == (404, NOT_FOUND, None), reply
            seen = await request(staff, stream, {"action": action, "pk": theirs, "request_id": f"{stream}-{action}"})
            assert seen["response_status"] in (200, 201), seen
        own = await request(ws, stream, {"action": "retrieve", "pk": mine})
        assert own["response_status"] == 200
    await ws.close()
    await staff.close()


async def test_socket_writes_into_another_ward_are_refused(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    ws = await connect(client, w.nurse_a)
    pa, pb = s.patient_a["id"], s.patient_b["id"]
    created = await request(ws, "patients", {"action": "create", "data": {**PATIENT, "ward": w.b}})
    assert (created["response_status"], created["errors"]) == (400, [{"ward": [no_such(w.b)]}])
    moved = await request(ws, "patients", {"action": "patch", "pk": pa, "data": {"ward": w.b}})
    assert (moved["response_status"], moved["errors"]) == (400, [{"ward": [no_such(w.b)]}])
    report = await request(ws, "reports", {"action": "create", "data": report_body(pb)})
    assert (report["response_status"], report["errors"]) == (400, [{"patient": [no_such(pb)]}])
    for stream, action, pk in (
        ("patients", "patch", pb),
        ("patients", "delete", pb),
        ("reports", "patch", s.report_b["id"]),
        ("reports", "delete", s.report_b["id"]),
        ("history", "patch", s.history_b),
        ("history", "restore", s.history_b),
        ("notifications", "acknowledge", s.note_b),
    ):
        reply = await request(ws, stream, {"action": action, "pk": pk, "data": {"pulse": 1, "first_name": "X"}})
        assert (reply["response_status"], reply["errors"]) == (404, NOT_FOUND), (stream, action)
    for stream in ("users", "audit"):
        reply = await request(ws, stream, {"action": "list"})
        assert (reply["response_status"], reply["errors"]) == (
            403,
            ["You do not have permission to perform this action."],
        )
    await ws.close()


# --- stream-wide broadcasts and notifications ---------------------------------------


async def test_broadcasts_reach_only_the_wards_screens_and_staff(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    start = last_event(sql)
    ws_a, ws_b, ws_staff = [await connect(client, u) for u in (w.nurse_a, w.nurse_b, w.staff)]
    for ws in (ws_a, ws_b, ws_staff):  # attached: the hub files them before the writes below
        assert (await request(ws, "patients", {"action": "list"}))["response_status"] == 200

    # every kind of change in ward b: patient, report, history row, notifications
    pb = s.patient_b["id"]
    b = w.nurse_b
    patient = await http(client, "POST", "/api/patients/", b, {**PATIENT, "first_name": "Cat", "ward": w.b})
    report = await http(client, "POST", "/api/reports/", b, report_body(patient["id"], warning_signs="lethargy"))
    await http(client, "PATCH", f"/api/reports/{report['id']}/", b, {"pulse": 120})
    history = await http(client, "GET", f"/api/history/?report={report['id']}", b)
    await http(client, "PATCH", f"/api/history/{history[0]['history_id']}/", b, {"history_change_reason": "rechecked"})
    await http(client, "POST", f"/api/history/{history[0]['history_id']}/restore/", b)
    await http(client, "POST", f"/api/notifications/{s.note_b}/acknowledge/", b)
    await http(client, "DELETE", f"/api/reports/{report['id']}/", b)
    await http(client, "PATCH", f"/api/patients/{pb}/", b, {"dismissal_date": "2024-05-10T10:00:00Z"})
    await http(client, "DELETE", f"/api/patients/{patient['id']}/", b)
    # staff write in ward b too
    await http(client, "POST", "/api/reports/", w.staff, report_body(pb, fever="39.5"))
    # then ward a, then b, then a again
    await http(client, "PATCH", f"/api/patients/{s.patient_a['id']}/", w.nurse_a, {"first_name": "Anne"})
    await http(client, "POST", "/api/patients/", b, {**PATIENT, "first_name": "Dee", "ward": w.b})
    await http(client, "POST", "/api/reports/", w.nurse_a, report_body(s.patient_a["id"], pulse=90))

    for ws, wards in ((ws_a, [w.a]), (ws_b, [w.b]), (ws_staff, None)):
        expected = events_for(sql, wards, after=start)
        got = await frames_until(ws, expected[-1][0])
        assert shown(got) == expected
        assert all(f["payload"]["request_id"] is None for f in got)
    streams = {stream for _, stream, _, _ in events_for(sql, [w.b], after=start)}
    assert streams == {"patients", "reports", "history", "notifications"}
    actions = {(stream, action) for _, stream, action, _ in events_for(sql, [w.b], after=start)}
    assert {("notifications", "notification"), ("notifications", "update"), ("history", "update")} <= actions
    # nurse a saw exactly: the patch of their patient, then their report with its history row
    assert [(stream, action) for _, stream, action, _ in events_for(sql, [w.a], after=start)] == [
        ("patients", "update"),
        ("reports", "create"),
        ("history", "create"),
    ]
    for ws in (ws_a, ws_b, ws_staff):
        await ws.close()


async def test_the_first_frame_a_nurse_gets_is_of_their_own_ward(client, sql, make_user) -> None:
    """The issue's recipe: a write in the other ward, then one in your own."""
    w, s = await setting(client, sql, make_user)
    ws_a = await connect(client, w.nurse_a)
    await request(ws_a, "patients", {"action": "list"})
    await http(client, "POST", "/api/reports/", w.nurse_b, report_body(s.patient_b["id"], warning_signs="bleeding"))
    mine = await http(client, "POST", "/api/reports/", w.nurse_a, report_body(s.patient_a["id"], warning_signs="pain"))
    first = await next_frame(ws_a)
    assert (first["stream"], first["payload"]["action"], first["payload"]["data"]["id"]) == (
        "reports",
        "create",
        mine["id"],
    )
    history = await next_frame(ws_a)
    note = await next_frame(ws_a)
    assert history["stream"] == "history" and history["payload"]["data"]["id"] == mine["id"]
    assert note["stream"] == "notifications" and note["payload"]["action"] == "notification"
    assert (note["payload"]["data"]["patient"], note["payload"]["data"]["report"]) == (s.patient_a["id"], mine["id"])
    await ws_a.close()


async def test_instance_subscription_follows_sight(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    pa = s.patient_a["id"]
    ws = await connect(client, w.nurse_a)
    sub = await request(ws, "patients", {"action": "subscribe_instance", "pk": pa, "request_id": "sub-a"})
    assert sub["response_status"] == 201
    await http(client, "PATCH", f"/api/patients/{pa}/", w.staff, {"first_name": "Anne"})
    update = await next_frame(ws, lambda f: f["payload"].get("request_id") == "sub-a")
    assert (update["payload"]["action"], update["payload"]["data"]["first_name"]) == ("update", "Anne")
    # moved away: the subscription's copy says delete too, and no later change comes
    await http(client, "PATCH", f"/api/patients/{pa}/", w.staff, {"ward": w.b})
    gone = await next_frame(ws, lambda f: f["payload"].get("request_id") == "sub-a")
    assert (gone["payload"]["action"], gone["payload"]["data"]) == ("delete", {"pk": pa, "id": pa})
    await http(client, "PATCH", f"/api/patients/{pa}/", w.staff, {"first_name": "Anna"})
    marker = await http(client, "POST", "/api/patients/", w.nurse_a, {**PATIENT, "ward": w.a})
    rest = await frames_until(ws, last_event(sql))
    assert [(f["payload"]["request_id"], f["payload"]["data"]["pk"]) for f in rest] == [(None, marker["id"])]
    again = await request(ws, "patients", {"action": "subscribe_instance", "pk": pa, "request_id": "sub-2"})
    assert (again["response_status"], again["errors"]) == (404, NOT_FOUND)
    await ws.close()


# --- a move between wards --------------------------------------------------------


async def test_a_move_between_wards_seen_from_both_sides(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    pa = s.patient_a["id"]
    start = last_event(sql)
    ws_a, ws_b, ws_staff = [await connect(client, u) for u in (w.nurse_a, w.nurse_b, w.staff)]
    for ws in (ws_a, ws_b, ws_staff):
        await request(ws, "patients", {"action": "list"})

    before = await http(client, "POST", "/api/reports/", w.nurse_a, report_body(pa, pulse=80))  # ward a
    moved = await http(client, "PATCH", f"/api/patients/{pa}/", w.staff, {"ward": w.b, "first_name": "Moved"})
    after = await http(client, "POST", "/api/reports/", w.nurse_b, report_body(pa, pulse=85))  # now ward b
    ((move_event,),) = sql("SELECT id FROM events WHERE stream = 'patients' AND id > %s", (start,))
    last = last_event(sql)

    got_a = await frames_until(ws_a, move_event)
    assert shown(got_a) == [
        (start + 1, "reports", "create", before["id"]),
        (start + 2, "history", "create", got_a[1]["payload"]["data"]["history_id"]),
        (move_event, "patients", "delete", pa),
    ]
    assert got_a[-1]["payload"]["data"] == {"pk": pa, "id": pa}
    assert got_a[-1]["payload"]["response_status"] == 204

    got_b = await frames_until(ws_b, last)
    assert [(e, st, a) for e, st, a, _ in shown(got_b)] == [
        (move_event, "patients", "create"),
        (move_event + 1, "reports", "create"),
        (move_event + 2, "history", "create"),
    ]
    assert got_b[0]["payload"]["data"] == {**moved, "pk": pa}
    assert got_b[0]["payload"]["response_status"] == 201
    assert got_b[1]["payload"]["data"]["id"] == after["id"]

    got_staff = await frames_until(ws_staff, last)
    assert [(e, st, a) for e, st, a, _ in shown(got_staff)] == [
        (start + 1, "reports", "create"),
        (start + 2, "history", "create"),
        (move_event, "patients", "update"),
        (move_event + 1, "reports", "create"),
        (move_event + 2, "history", "create"),
    ]
    assert got_staff[2]["payload"]["data"] == {**moved, "pk": pa}

    # nurse a sees nothing of the patient any more (a later change included)
    await http(client, "PATCH", f"/api/patients/{pa}/", w.nurse_b, {"first_name": "Kept"})
    marker = await http(client, "POST", "/api/patients/", w.nurse_a, {**PATIENT, "ward": w.a})
    rest = await frames_until(ws_a, last_event(sql))
    assert [f["payload"]["data"]["pk"] for f in rest] == [marker["id"]]
    for ws in (ws_a, ws_b, ws_staff):
        await ws.close()


async def test_a_report_moved_to_a_patient_of_another_ward(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    ra = s.report_a["id"]
    ws_a, ws_b = await connect(client, w.nurse_a), await connect(client, w.nurse_b)
    for ws in (ws_a, ws_b):
        await request(ws, "patients", {"action": "list"})
    moved = await http(client, "PATCH", f"/api/reports/{ra}/", w.staff, {"patient": s.patient_b["id"]})
    last = last_event(sql)
    got_a = await frames_until(ws_a, last - 1)  # the report's event; its new history row is ward b's
    assert [(f["stream"], f["payload"]["action"], f["payload"]["data"]) for f in got_a] == [
        ("reports", "delete", {"pk": ra, "id": ra, "patient": s.patient_a["id"]})
    ]
    got_b = await frames_until(ws_b, last)
    assert [(f["stream"], f["payload"]["action"]) for f in got_b] == [("reports", "create"), ("history", "create")]
    assert got_b[0]["payload"]["data"] == {**moved, "pk": ra}
    marker = await http(client, "POST", "/api/patients/", w.nurse_a, {**PATIENT, "ward": w.a})
    rest = await frames_until(ws_a, last_event(sql))
    assert [f["payload"]["data"]["pk"] for f in rest] == [marker["id"]]
    for ws in (ws_a, ws_b):
        await ws.close()


# --- ?since= replay -----------------------------------------------------------------


async def test_replay_carries_only_what_the_user_may_see(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    pa = s.patient_a["id"]
    await http(client, "PATCH", f"/api/patients/{s.patient_b['id']}/", w.nurse_b, {"first_name": "Bee"})
    await http(client, "POST", f"/api/notifications/{s.note_b}/acknowledge/", w.nurse_b)
    moved = await http(client, "PATCH", f"/api/patients/{pa}/", w.staff, {"ward": w.b})
    ((move_event,),) = sql("SELECT max(id) FROM events WHERE stream = 'patients'")
    await http(client, "POST", "/api/reports/", w.nurse_b, report_body(pa))
    await http(client, "POST", "/api/patients/", w.nurse_a, {**PATIENT, "first_name": "New", "ward": w.a})

    async def replayed(account: Any) -> list[dict[str, Any]]:
        ws = await connect(client, account, since=0)
        frames = []
        await ws.send_json({"stream": "patients", "payload": {"action": "list", "request_id": "after-replay"}})
        async with asyncio.timeout(5):
            while True:  # the replay is written before any reply
                frame = await ws.receive_json()
                if frame["payload"].get("request_id") == "after-replay":
                    break
                frames.append(frame)
        await ws.close()
        return frames

    every = events_for(sql, None)
    assert shown(await replayed(w.staff)) == every
    # nurse a: ward a's events, and the move as a delete
    frames_a = await replayed(w.nurse_a)
    expected_a = [e if e[0] != move_event else (move_event, "patients", "delete", pa) for e in events_for(sql, [w.a])]
    assert (move_event, "patients", "delete", pa) in expected_a
    assert shown(frames_a) == expected_a
    assert [f["payload"]["data"] for f in frames_a if f["payload"]["event_id"] == move_event] == [{"pk": pa, "id": pa}]
    # nurse b: ward b's events, and the move as a create with the data of then
    frames_b = await replayed(w.nurse_b)
    shown_b = shown(frames_b)
    assert (move_event, "patients", "create", pa) in shown_b
    assert [e for e in shown_b if e[0] != move_event] == [e for e in events_for(sql, [w.b]) if e[0] != move_event]
    assert [f["payload"]["data"] for f in frames_b if f["payload"]["event_id"] == move_event] == [{**moved, "pk": pa}]
    # since= a point in the middle: only what came after
    ws = await connect(client, w.nurse_a, since=move_event)
    frame = await next_frame(ws)
    assert (frame["stream"], frame["payload"]["data"]["first_name"]) == ("patients", "New")
    await ws.close()


async def test_a_broadcast_never_leaks_through_a_users_second_socket(client, sql, make_user) -> None:
    """Sockets of two users of different wards on one process, and a second
    socket of the same nurse: the hub files each by its own user."""
    w, s = await setting(client, sql, make_user)
    first, second = await connect(client, w.nurse_a), await connect(client, w.nurse_a)
    for ws in (first, second):
        await request(ws, "patients", {"action": "list"})
    await http(client, "PATCH", f"/api/patients/{s.patient_b['id']}/", w.staff, {"first_name": "Bee"})
    await http(client, "PATCH", f"/api/patients/{s.patient_a['id']}/", w.staff, {"first_name": "Anne"})
    for ws in (first, second):
        frame = await next_frame(ws)
        assert frame["payload"]["data"]["first_name"] == "Anne"
        await ws.close()
    staff_sees = await connect(client, w.staff)
    await http(client, "PATCH", f"/api/patients/{s.patient_b['id']}/", w.nurse_b, {"first_name": "Bei"})
    assert (await next_frame(staff_sees, broadcast("patients", "update")))["payload"]["data"]["first_name"] == "Bei"
    await staff_sees.close()


async def test_a_deleted_patients_history_changes_reach_their_wards_screens(client, sql, make_user) -> None:
    """The history of a deleted patient stays with their ward (REST shows it
    to that ward's nurses), so its changes are broadcast to that ward too."""
    w, s = await setting(client, sql, make_user)
    root = make_user("root", superuser=True, wards=())
    await http(client, "DELETE", f"/api/patients/{s.patient_a['id']}/", w.nurse_a)
    ws_a, ws_b = await connect(client, w.nurse_a), await connect(client, w.nurse_b)
    for ws in (ws_a, ws_b):
        await request(ws, "patients", {"action": "list"})
    start = last_event(sql)
    path = f"/api/history/{s.history_a}/"
    changed = await http(client, "PATCH", path, w.nurse_a, {"history_change_reason": "entered in error"})
    await http(client, "DELETE", path, root)
    got = await frames_until(ws_a, start + 2, timeout=2.0)
    assert shown(got) == [
        (start + 1, "history", "update", s.history_a),
        (start + 2, "history", "delete", s.history_a),
    ]
    assert got[0]["payload"]["data"] == {**changed, "pk": s.history_a}
    # ward b's screen got neither
    marker = await http(client, "PATCH", f"/api/patients/{s.patient_b['id']}/", w.nurse_b, {"first_name": "Bee"})
    rest = await frames_until(ws_b, last_event(sql))
    assert [(f["stream"], f["payload"]["data"]["pk"]) for f in rest] == [("patients", marker["id"])]
    for ws in (ws_a, ws_b):
        await ws.close()
