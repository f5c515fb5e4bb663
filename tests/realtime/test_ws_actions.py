"""Actions over the WebSocket: the same actions, errors and events as REST."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ..helpers import PATIENT, broadcast, create_patient, next_frame, report_body, request

LOG = "history_change_reason_log"
FORBIDDEN = ["You do not have permission to perform this action."]


async def connect(client: Any, account: Any, **params: Any) -> Any:
    query = {"token": account.token, **params}
    return await client.ws_connect("/ws/", params=query)


async def test_list_retrieve_create_patch_update_delete(client, alice) -> None:
    ws = await connect(client, alice)
    created = await request(ws, "patients", {"action": "create", "data": PATIENT, "request_id": "r1"})
    assert created["response_status"] == 201 and created["errors"] == [] and created["action"] == "create"
    assert created["request_id"] == "r1"
    pk = created["data"]["id"]
    assert created["data"]["first_name"] == "Cy"

    listed = await request(ws, "patients", {"action": "list", "data": {}})
    assert listed["response_status"] == 200 and [p["id"] for p in listed["data"]] == [pk]

    got = await request(ws, "patients", {"action": "retrieve", "pk": str(pk), "data": {}, "request_id": 12345})
    assert got["request_id"] == 12345 and got["data"]["id"] == pk

    patched = await request(ws, "patients", {"action": "patch", "pk": pk, "data": {"last_name": "Sock"}})
    assert patched["response_status"] == 200 and patched["data"]["last_name"] == "Sock"

    incomplete = await request(ws, "patients", {"action": "update", "pk": pk, "data": {"first_name": "W"}})
    assert incomplete["response_status"] == 400 and incomplete["data"] is None
    assert incomplete["errors"] == [
        {"last_name": ["This field is required."], "admission_date": ["This field is required."]}
    ]

    updated = await request(ws, "patients", {"action": "update", "pk": pk, "data": {**PATIENT, "first_name": "W"}})
    assert updated["response_status"] == 200 and updated["data"]["first_name"] == "W"

    deleted = await request(ws, "patients", {"action": "delete", "pk": pk, "data": {}})
    assert deleted == {
        "errors": [],
        "data": None,
        "action": "delete",
        "response_status": 204,
        "request_id": deleted["request_id"],
    }
    resp = await client.get(f"/api/patients/{pk}/", headers=alice.headers)
    assert resp.status == 404
    await ws.close()


async def test_same_validation_errors_as_rest(client, alice) -> None:
    bad = {"first_name": "", "admission_date": "yesterday", "dismissal_date": 5}
    rest = await client.post("/api/patients/", json=bad, headers=alice.headers)
    ws = await connect(client, alice)
    over_ws = await request(ws, "patients", {"action": "create", "data": bad})
    assert rest.status == over_ws["response_status"] == 400
    assert over_ws["errors"] == [await rest.json()]

    as_list = await request(ws, "patients", {"action": "create", "data": [1, 2]})
    assert as_list["errors"] == [{"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}]
    no_data = await request(ws, "patients", {"action": "create", "data": None})
    assert no_data["errors"] == [{"non_field_errors": ["No data provided"]}]
    await ws.close()


async def test_not_found_and_unknown_actions(client, alice) -> None:
    ws = await connect(client, alice)
    for pk in (999999, "abc", 99999999999999999999):
        missing = await request(ws, "patients", {"action": "retrieve", "pk": pk})
        assert (missing["response_status"], missing["errors"], missing["data"]) == (404, ["Not found"], None)
    unknown = await request(ws, "patients", {"action": "frobnicate"})
    assert unknown["response_status"] == 405 and unknown["errors"] == ['Method "frobnicate" not allowed.']
    assert unknown["action"] == "frobnicate"
    no_create = await request(ws, "history", {"action": "create", "data": {}})
    assert no_create["response_status"] == 405
    await ws.send_json({"stream": "patients", "payload": {"request_id": "x"}})
    no_action = (await next_frame(ws))["payload"]
    assert no_action == {
        "errors": ["Unable to find action in message body."],
        "data": None,
        "action": None,
        "response_status": 405,
        "request_id": "x",
    }
    no_pk = await request(ws, "patients", {"action": "retrieve"})
    assert no_pk["response_status"] == 400 and no_pk["errors"] == [{"pk": ["This field is required."]}]
    await ws.close()


@pytest.mark.parametrize(
    "frame, expected_stream, fragment",
    [
        ("hello", "errors", "not JSON"),
        ("[1, 2]", "errors", "expected a JSON object"),
        ('{"stream": "nope", "payload": {"action": "list", "request_id": "q"}}', "nope", "Unknown stream"),
        ('{"payload": {"action": "list"}}', "errors", "Unknown stream"),
        ('{"stream": "patients"}', "patients", '"payload" must be a JSON object'),
        ('{"stream": "patients", "payload": "list"}', "patients", '"payload" must be a JSON object'),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(client, alice, frame, expected_stream, fragment):
    ws = await connect(client, alice)
    await ws.send_str(frame)
    reply = await next_frame(ws)
    assert reply["stream"] == expected_stream
    assert reply["payload"]["response_status"] == 400
    assert fragment in reply["payload"]["errors"][0]
    if "request_id" in frame and '"q"' in frame:
        assert reply["payload"]["request_id"] == "q"
    still_open = await request(ws, "patients", {"action": "list"})
    assert still_open["response_status"] == 200
    await ws.close()


async def test_binary_frame_is_answered(client, alice) -> None:
    ws = await connect(client, alice)
    await ws.send_bytes(b"\x00\x01")
    reply = await next_frame(ws)
    assert reply["payload"]["response_status"] == 400 and "Binary" in reply["payload"]["errors"][0]
    await ws.close()


async def test_oversized_frame_closes_with_1009(client, alice) -> None:
    ws = await connect(client, alice)
    await ws.send_str('{"stream":"patients","payload":{"action":"list","x":"' + "a" * (1024 * 1024) + '"}}')
    async with asyncio.timeout(5):
        message = await ws.receive()
        while message.type.name not in ("CLOSE", "CLOSED", "CLOSING"):
            message = await ws.receive()
    assert ws.close_code == 1009


async def test_refused_without_valid_token(client, alice, make_user) -> None:
    inactive = make_user("sleepy", active=False)
    for params in ({}, {"token": "0" * 40}, {"token": "nonsense"}, {"token": inactive.token}):
        resp = await client.get(
            "/ws/",
            params=params,
            headers={
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        assert resp.status == 403, params
        assert "detail" in await resp.json()


async def test_origin_allow_list(client, alice) -> None:
    hijack = await client.get(
        "/ws/",
        params={"token": alice.token},
        headers={
            "Origin": "https://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert hijack.status == 403
    assert await hijack.json() == {"detail": "Origin not allowed."}
    same_site = await client.ws_connect(
        "/ws/", params={"token": alice.token}, headers={"Origin": f"http://{client.host}:{client.port}"}
    )
    assert (await request(same_site, "patients", {"action": "list"}))["response_status"] == 200
    await same_site.close()


async def test_history_over_the_socket_is_as_restricted_as_rest(client, alice, admin) -> None:
    patient = await create_patient(client, alice)
    ws = await connect(client, alice)
    created = await request(ws, "reports", {"action": "create", "data": report_body(patient["id"], pulse=90)})
    assert created["response_status"] == 201 and created["data"]["created_by"] == alice.id
    history = await request(ws, "history", {"action": "list", "report": created["data"]["id"]})
    assert [h["history_type"] for h in history["data"]] == ["+"]
    assert history["data"][0]["history_user"] == alice.id
    hid = history["data"][0]["history_id"]
    edited = await request(
        ws, "history", {"action": "patch", "pk": hid, "data": {"history_change_reason": "checked", "pulse": 1}}
    )
    assert edited["data"]["history_change_reason"] == "checked" and edited["data"]["pulse"] == 90
    assert [(e["changed_by"], e["previous"]) for e in edited["data"][LOG]] == [(alice.id, None)]
    forbidden = await request(ws, "history", {"action": "delete", "pk": hid})
    assert forbidden["response_status"] == 403
    assert forbidden["errors"] == ["You do not have permission to perform this action."]
    ws_admin = await connect(client, admin)
    allowed = await request(ws_admin, "history", {"action": "delete", "pk": hid})
    assert allowed["response_status"] == 204
    await ws.close()
    await ws_admin.close()


async def test_reason_edits_over_the_socket_are_checked_logged_and_broadcast(client, alice, admin, make_user) -> None:
    bob = make_user("bob")
    patient = await create_patient(client, alice)
    ws, watcher = await connect(client, alice), await connect(client, bob)
    report = (await request(ws, "reports", {"action": "create", "data": report_body(patient["id"])}))["data"]
    created = (await next_frame(watcher, broadcast("history", "create", id=report["id"])))["payload"]["data"]
    assert created[LOG] == [] and list(created)[-2:] == [LOG, "pk"]
    hid = created["history_id"]

    for action in ("patch", "update"):
        refused = await request(
            watcher, "history", {"action": action, "pk": hid, "data": {"history_change_reason": "x"}}
        )
        assert (refused["response_status"], refused["errors"], refused["data"]) == (403, FORBIDDEN, None)

    for action, reason in (("patch", "checked"), ("update", "rechecked")):
        edited = await request(ws, "history", {"action": action, "pk": hid, "data": {"history_change_reason": reason}})
        assert edited["response_status"] == 200 and edited["data"]["history_change_reason"] == reason
        event = await next_frame(watcher, broadcast("history", "update", history_id=hid))
        assert event["payload"]["data"] == {**edited["data"], "pk": hid}  # the new row, log included
    log = edited["data"][LOG]
    assert [(e["changed_by"], e["previous"]) for e in log] == [(alice.id, None), (alice.id, "checked")]
    assert all(e["changed_at"].endswith("Z") for e in log)

    listed = await request(watcher, "history", {"action": "list", "report": report["id"]})
    assert listed["data"] == [edited["data"]]
    got = await request(watcher, "history", {"action": "retrieve", "pk": hid})
    assert got["data"] == edited["data"]

    # The same value again answers the row as it is: no entry, no broadcast
    # (the next update the watcher sees is the admin's).
    same = await request(ws, "history", {"action": "patch", "pk": hid, "data": {"history_change_reason": "rechecked"}})
    assert (same["response_status"], same["data"]) == (200, edited["data"])
    ws_admin = await connect(client, admin)
    by_admin = await request(
        ws_admin, "history", {"action": "patch", "pk": hid, "data": {"history_change_reason": None}}
    )
    assert by_admin["response_status"] == 200
    event = await next_frame(watcher, broadcast("history", "update"))
    assert event["payload"]["data"]["history_change_reason"] is None
    assert [(e["changed_by"], e["previous"]) for e in event["payload"]["data"][LOG]] == [
        (alice.id, None),
        (alice.id, "checked"),
        (admin.id, "rechecked"),
    ]
    for socket in (ws, watcher, ws_admin):
        await socket.close()


async def test_restore_over_the_socket(client, alice) -> None:
    patient = await create_patient(client, alice)
    ws = await connect(client, alice)
    report = (await request(ws, "reports", {"action": "create", "data": report_body(patient["id"])}))["data"]
    await request(ws, "reports", {"action": "delete", "pk": report["id"]})
    first = (await request(ws, "history", {"action": "list", "report": report["id"]}))["data"][-1]
    restored = await request(ws, "history", {"action": "restore", "pk": first["history_id"]})
    assert restored["response_status"] == 201 and restored["data"]["id"] == report["id"]
    await ws.close()
