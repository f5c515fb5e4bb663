"""What one socket may ask of a process: bounded request ids, a frame rate,
a number of subscriptions, sockets per user; memory given back on close;
and Redis messages that cannot show anything the events table lacks."""

from __future__ import annotations

import asyncio
import gc
import logging
import tracemalloc
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from service.app import create_app

from ..helpers import PATIENT, broadcast, create_patient, next_frame, request

THROTTLED = "Request was throttled. Expected available in"


async def connect(client: Any, account: Any) -> Any:
    return await client.ws_connect("/ws/", params={"token": account.token})


async def reply_to(ws: Any, frame: dict[str, Any]) -> dict[str, Any]:
    await ws.send_json(frame)
    return (await next_frame(ws, lambda f: "event_id" not in f["payload"]))["payload"]


@pytest.mark.parametrize("request_id", ["x" * 129, 1.5, True, ["a"], {"a": 1}])
async def test_a_request_id_must_be_short_text_an_integer_or_null(client, alice, request_id) -> None:
    ws = await connect(client, alice)
    payload = await reply_to(ws, {"stream": "patients", "payload": {"action": "list", "request_id": request_id}})
    assert payload["response_status"] == 400 and payload["request_id"] is None
    assert payload["errors"] == ["Must be a string of at most 128 characters, an integer, or null."]
    for fine in ("x" * 128, 7, None):
        ok = await reply_to(ws, {"stream": "patients", "payload": {"action": "list", "request_id": fine}})
        assert (ok["response_status"], ok["request_id"]) == (200, fine)
    await ws.close()


async def test_subscriptions_per_socket_are_bounded(aiohttp_client, settings, alice) -> None:
    client = await aiohttp_client(create_app(settings.with_(ws_max_subscriptions=2)))
    patients = [await create_patient(client, alice, first_name=f"P{i}") for i in range(3)]
    ws = await connect(client, alice)

    def subscribe(pk: int, rid: str) -> dict[str, Any]:
        return {"stream": "patients", "payload": {"action": "subscribe_instance", "pk": pk, "request_id": rid}}

    assert (await reply_to(ws, subscribe(patients[0]["id"], "s1")))["response_status"] == 201
    assert (await reply_to(ws, subscribe(patients[1]["id"], "s2")))["response_status"] == 201
    over = await reply_to(ws, subscribe(patients[2]["id"], "s3"))
    assert (over["response_status"], over["errors"], over["request_id"]) == (429, ["Too many subscriptions."], "s3")
    again = await reply_to(ws, subscribe(patients[0]["id"], "s1"))  # a client's re-subscribe after a reconnect
    assert again["response_status"] == 201
    unsubscribe = {"action": "unsubscribe_instance", "pk": patients[1]["id"], "request_id": "u"}
    assert (await reply_to(ws, {"stream": "patients", "payload": unsubscribe}))["response_status"] == 204
    assert (await reply_to(ws, subscribe(patients[2]["id"], "s3")))["response_status"] == 201
    await ws.close()


async def test_frames_beyond_the_rate_are_answered_429_and_not_run(aiohttp_client, settings, alice, sql) -> None:
    client = await aiohttp_client(create_app(settings.with_(ws_frames_per_second=0.01, ws_frame_burst=3)))
    ws = await connect(client, alice)
    for i in range(5):
        frame = {"stream": "patients", "payload": {"action": "create", "request_id": i, "data": PATIENT}}
        await ws.send_json(frame)
    replies = []
    while len(replies) < 5:
        frame = await next_frame(ws, lambda f: "event_id" not in f["payload"])
        replies.append(frame["payload"])
    assert [r["response_status"] for r in replies] == [201, 201, 201, 429, 429]
    assert [r["request_id"] for r in replies] == [0, 1, 2, 3, 4]
    assert replies[3]["errors"][0].startswith(THROTTLED) and replies[3]["action"] == "create"
    assert sql("SELECT count(*) FROM patients") == [(3,)]
    await ws.close()


async def test_a_socket_that_stays_over_the_rate_is_closed_with_1008(aiohttp_client, settings, alice) -> None:
    limited = settings.with_(ws_frames_per_second=0.01, ws_frame_burst=1, ws_throttle_close_seconds=0.3)
    client = await aiohttp_client(create_app(limited))
    ws = await connect(client, alice)
    frame = {"stream": "patients", "payload": {"action": "list"}}
    async with asyncio.timeout(10):
        while True:
            await ws.send_json(frame)
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                break
    assert ws.close_code == 1008


async def test_sockets_per_user_are_bounded(aiohttp_client, settings, alice, make_user) -> None:
    client = await aiohttp_client(create_app(settings.with_(ws_max_sockets_per_user=2)))
    first, second = await connect(client, alice), await connect(client, alice)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(client, alice)
    assert refused.value.status == 429
    resp = await client.get("/ws/", params={"token": alice.token}, headers={"Upgrade": "websocket"})
    assert resp.status == 429
    assert await resp.json() == {"detail": "Too many open WebSockets for this user (at most 2)."}
    bob = await connect(client, make_user("bob"))  # another user is not affected
    await first.close()
    async with asyncio.timeout(5):  # the server notices the close, then a new one is let in
        while True:
            try:
                third = await connect(client, alice)
                break
            except aiohttp.WSServerHandshakeError:
                await asyncio.sleep(0.05)
    for ws in (second, third, bob):
        await ws.close()


async def test_a_closed_socket_gives_its_memory_back(aiohttp_client, settings, alice) -> None:
    client = await aiohttp_client(create_app(settings.with_(ws_max_subscriptions=100)))
    patient = await create_patient(client, alice)

    # A plain client session: the test client keeps every socket it opened.
    http = aiohttp.ClientSession()
    url = client.make_url("/ws/")

    async def cycle(n: int) -> None:
        ws = await http.ws_connect(url, params={"token": alice.token})
        for i in range(50):
            rid = f"{n:04d}-{i:03d}-" + "r" * 119  # 128 characters each
            payload = {"action": "subscribe_instance", "pk": patient["id"], "request_id": rid}
            await ws.send_json({"stream": "patients", "payload": payload})
        for _ in range(50):
            await ws.receive()
        await ws.close()

    for n in range(20):  # warm up: caches, pools, first-use allocations
        await cycle(n)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(20, 220):
            await cycle(n)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        await http.close()
    # 200 sockets x 50 subscriptions x a 128-character id would be over 2.5 MB if kept
    assert grown < 400_000, f"{grown} bytes kept after 200 closed sockets"


async def test_redis_messages_only_ring_the_bell(aiohttp_client, settings, alice, caplog) -> None:
    """A forged or foreign message on the channel shows nothing and stalls
    nothing: a change made through another process still arrives after it."""
    watching = await aiohttp_client(create_app(settings))
    writing = await aiohttp_client(create_app(settings))  # another process, as far as the hub can tell
    ws = await connect(watching, alice)
    await request(ws, "patients", {"action": "list"})
    redis = aioredis.from_url(settings.redis_url)
    try:
        with caplog.at_level(logging.WARNING, logger="service.realtime.hub"):
            for forged in (
                b"1000000000000",  # an id the table does not have
                b'{"id": 999999, "stream": "notifications", "action": "notification", "pk": 1}\n{"message": "x"}',
                b"-5",
                b"not an id",
            ):
                await redis.publish(settings.redis_channel, forged)
            patient = await create_patient(writing, alice)
            frame = await next_frame(ws, lambda f: "event_id" in f["payload"])
    finally:
        await redis.aclose()
    assert broadcast("patients", "create", id=patient["id"])(frame), frame  # the real event, nothing before it
    assert frame["payload"]["event_id"] == 1
    warnings = [r.getMessage() for r in caplog.records if "only the events table is trusted" in r.getMessage()]
    assert len(warnings) == 2  # at most once a minute in each process (two here)
    later = await create_patient(writing, alice, first_name="Later")
    await next_frame(ws, broadcast("patients", "create", id=later["id"]))
    await ws.close()
