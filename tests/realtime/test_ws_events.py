"""Live events over /ws/: instance subscriptions, stream-wide broadcasts,
resuming with ``since`` and cutting off clients that do not read."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import socket
import struct
from typing import Any

import aiohttp

from service.app import create_app

from ..helpers import PATIENT, broadcast, create_patient, create_report, next_frame, request


async def connect(client: Any, account: Any, **params: Any) -> Any:
    return await client.ws_connect("/ws/", params={"token": account.token, **params})


async def test_change_over_http_reaches_an_instance_subscriber(client, alice) -> None:
    patient = await create_patient(client, alice)
    ws = await connect(client, alice)
    sub = await request(ws, "patients", {"action": "subscribe_instance", "pk": patient["id"], "request_id": "sub-1"})
    assert sub == {
        "errors": [],
        "data": None,
        "action": "subscribe_instance",
        "response_status": 201,
        "request_id": "sub-1",
    }

    await client.patch(f"/api/patients/{patient['id']}/", json={"first_name": "ViaHTTP"}, headers=alice.headers)
    event = await next_frame(ws, lambda f: f["payload"].get("request_id") == "sub-1")
    assert event["stream"] == "patients"
    payload = event["payload"]
    assert (payload["action"], payload["response_status"], payload["errors"]) == ("update", 200, [])
    assert payload["data"]["id"] == payload["data"]["pk"] == patient["id"]
    assert payload["data"]["first_name"] == "ViaHTTP"
    assert isinstance(payload["event_id"], int)

    await client.delete(f"/api/patients/{patient['id']}/", headers=alice.headers)
    gone = await next_frame(ws, lambda f: f["payload"].get("request_id") == "sub-1")
    assert gone["payload"]["action"] == "delete" and gone["payload"]["response_status"] == 204
    assert gone["payload"]["data"] == {"pk": patient["id"], "id": patient["id"]}
    await ws.close()


async def test_subscribe_unknown_instance_is_404(client, alice) -> None:
    ws = await connect(client, alice)
    reply = await request(ws, "patients", {"action": "subscribe_instance", "pk": 424242, "request_id": "s"})
    assert reply["response_status"] == 404 and reply["errors"] == ["Not found"]
    no_id = await request(ws, "patients", {"action": "subscribe_instance", "pk": 1, "request_id": None})
    assert no_id["response_status"] == 400
    await ws.close()


async def test_every_client_gets_every_change_and_the_history_row(client, alice, make_user) -> None:
    bob = make_user("bob")
    watcher = await connect(client, bob)
    patient = await create_patient(client, alice)
    created = await next_frame(watcher, broadcast("patients", "create", id=patient["id"]))
    assert created["payload"]["response_status"] == 201 and created["payload"]["data"]["pk"] == patient["id"]

    report = await create_report(client, alice, patient["id"], pulse=88)
    report_event = await next_frame(watcher, broadcast("reports", "create", id=report["id"]))
    assert report_event["payload"]["data"]["fluid_balance"] == 0
    history_event = await next_frame(watcher, broadcast("history", "create", id=report["id"]))
    assert history_event["payload"]["data"]["history_type"] == "+"
    assert history_event["payload"]["data"]["pk"] == history_event["payload"]["data"]["history_id"]
    assert history_event["payload"]["event_id"] == report_event["payload"]["event_id"] + 1

    await client.delete(f"/api/reports/{report['id']}/", headers=alice.headers)
    deleted = await next_frame(watcher, broadcast("reports", "delete", id=report["id"]))
    assert deleted["payload"]["data"] == {"pk": report["id"], "id": report["id"], "patient": patient["id"]}
    assert deleted["payload"]["response_status"] == 204
    await watcher.close()


async def test_own_change_reply_comes_before_its_event(client, alice) -> None:
    ws = await connect(client, alice)
    await ws.send_json({"stream": "patients", "payload": {"action": "create", "data": PATIENT, "request_id": "c"}})
    first = await next_frame(ws)
    second = await next_frame(ws)
    assert first["payload"]["request_id"] == "c" and "event_id" not in first["payload"]
    assert second["payload"]["request_id"] is None and second["payload"]["action"] == "create"
    await ws.close()


async def test_resume_with_since_gets_exactly_the_missed_events(client, alice) -> None:
    ws = await connect(client, alice)
    patient = await create_patient(client, alice)
    seen = await next_frame(ws, broadcast("patients", "create", id=patient["id"]))
    since = seen["payload"]["event_id"]
    await ws.close()

    missed = [await create_patient(client, alice, first_name=f"Missed{i}") for i in range(3)]
    back = await connect(client, alice, since=since)
    replayed = [await next_frame(back) for _ in range(3)]
    assert [f["payload"]["data"]["id"] for f in replayed] == [p["id"] for p in missed]
    ids = [f["payload"]["event_id"] for f in replayed]
    assert ids == list(range(since + 1, since + 4))

    live = await create_patient(client, alice, first_name="Live")
    after = await next_frame(back)
    assert after["payload"]["data"]["id"] == live["id"] and after["payload"]["event_id"] == ids[-1] + 1
    await back.close()


async def test_resume_older_than_the_window_gets_410(client, alice, sql) -> None:
    for _ in range(3):
        await create_patient(client, alice)
    sql("UPDATE events SET created_at = now() - interval '30 days'")
    from service.appkeys import DB
    from service.sqlfiles import Q

    db = client.server.app[DB]
    await db.execute(Q.prune_events, {"retention_seconds": 3600})
    ws = await connect(client, alice, since=1)
    frame = await next_frame(ws)
    assert frame["stream"] == "events"
    assert frame["payload"]["response_status"] == 410 and frame["payload"]["errors"]
    live = await create_patient(client, alice)
    assert (await next_frame(ws))["payload"]["data"]["id"] == live["id"]
    await ws.close()


async def test_resume_with_bad_since_is_refused(client, alice) -> None:
    resp = await client.get(
        "/ws/",
        params={"token": alice.token, "since": "abc"},
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert resp.status == 400


async def _raw_ws_that_never_reads(port: int, token: str) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws/?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += await asyncio.get_running_loop().run_in_executor(None, sock.recv, 1)
    assert b" 101 " in head.split(b"\r\n")[0]
    return sock


def _close_code_at_end(sock: socket.socket) -> int | None:
    """Read everything the server sent until it closed; return its close code."""
    sock.settimeout(10)
    data = b""
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    pos, code = 0, None
    while pos + 2 <= len(data):
        opcode, length = data[pos] & 0x0F, data[pos + 1] & 0x7F
        pos += 2
        if length == 126:
            (length,) = struct.unpack("!H", data[pos : pos + 2])
            pos += 2
        elif length == 127:
            (length,) = struct.unpack("!Q", data[pos : pos + 8])
            pos += 8
        if opcode == 0x8 and length >= 2:
            (code,) = struct.unpack("!H", data[pos : pos + 2])
        pos += length
    return code


async def test_slow_client_is_cut_off_and_the_fast_one_keeps_receiving(aiohttp_client, settings, alice, caplog) -> None:
    client = await aiohttp_client(create_app(settings.with_(ws_send_buffer_bytes=256 * 1024)))
    slow = await _raw_ws_that_never_reads(client.port, alice.token)
    fast = await connect(client, alice)
    received: list[int] = []

    async def read_fast() -> None:  # a client that keeps up reads all the time
        while True:
            frame = await next_frame(fast, broadcast("reports", "create"), timeout=30)
            received.append(frame["payload"]["data"]["id"])

    reader = asyncio.create_task(read_fast())
    patient = await create_patient(client, alice)
    # The notes at their longest (5,000 characters each): reports until the
    # server has cut the slow client off, which the kernel's buffers delay.
    notes = dict.fromkeys(("warning_signs", "additional_info", "medical_advice"), "x" * 5000)
    reports: list[dict[str, Any]] = []
    with caplog.at_level(logging.WARNING, logger="service.realtime"):
        while not any("client too slow" in r.getMessage() for r in caplog.records):
            assert len(reports) < 1000, "the slow client was never cut off"
            reports.append(await create_report(client, alice, patient["id"], **notes))
    code = await asyncio.get_running_loop().run_in_executor(None, _close_code_at_end, slow)
    slow.close()
    assert code == 1008
    async with asyncio.timeout(10):
        while len(received) < len(reports):
            await asyncio.sleep(0.01)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    assert received == [r["id"] for r in reports]
    still = await request(fast, "patients", {"action": "list"})
    assert still["response_status"] == 200
    await fast.close()


async def test_a_fan_out_wider_than_one_slice_reaches_every_socket_once_in_order(
    aiohttp_client, settings, alice
) -> None:
    """The hub writes to sessions in slices, yielding between them: with more
    sessions than a slice, every socket still gets every event once, in order."""
    from service.realtime.hub import DELIVERY_SLICE

    client = await aiohttp_client(create_app(settings.with_(ws_max_sockets_per_user=DELIVERY_SLICE + 10)))
    # A session of its own: the test client's connector holds at most 100 connections.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        url = client.make_url("/ws/")
        sockets = [await session.ws_connect(url, params={"token": alice.token}) for _ in range(DELIVERY_SLICE + 10)]
        patients = [await create_patient(client, alice, first_name=f"P{i}") for i in range(3)]

        async def patient_creates(ws: Any) -> list[int]:
            seen = []
            for _ in patients:
                frame = await next_frame(ws, broadcast("patients", "create"), timeout=20)
                seen.append(frame["payload"]["data"]["id"])
            return seen

        received = await asyncio.gather(*(patient_creates(ws) for ws in sockets))
        assert received == [[p["id"] for p in patients]] * len(sockets)
