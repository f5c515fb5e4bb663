"""Fan-out between real server processes sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import aiohttp
import pytest

from ..helpers import PATIENT, broadcast, next_frame
from ..servers import redis_server, server

pytestmark = pytest.mark.slow


async def post_patient(session: aiohttp.ClientSession, base: str, account: Any, **fields: Any) -> dict[str, Any]:
    async with session.post(f"{base}/api/patients/", json={**PATIENT, **fields}, headers=account.headers) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


def ws_url(base: str, account: Any, **params: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"token": account.token, **params}.items())
    return f"{base.replace('http', 'ws')}/ws/?{query}"


async def test_change_through_one_process_reaches_a_client_of_another(settings, alice) -> None:
    with server(settings) as a, server(settings) as b:
        async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(b.url, alice)) as ws:
            patient = await post_patient(http, a.url, alice)
            frame = await next_frame(ws, broadcast("patients", "create", id=patient["id"]))
            assert frame["payload"]["data"]["first_name"] == PATIENT["first_name"]

            await ws.send_json(
                {
                    "stream": "patients",
                    "payload": {"action": "subscribe_instance", "pk": patient["id"], "request_id": "s1"},
                }
            )
            await next_frame(ws, lambda f: f["payload"].get("request_id") == "s1")
            async with http.patch(
                f"{a.url}/api/patients/{patient['id']}/", json={"last_name": "Moved"}, headers=alice.headers
            ) as resp:
                assert resp.status == 200
            update = await next_frame(ws, lambda f: f["payload"].get("request_id") == "s1")
            assert update["payload"]["action"] == "update" and update["payload"]["data"]["last_name"] == "Moved"


async def test_resume_on_another_process_gets_exactly_the_missed_events(settings, alice) -> None:
    with server(settings) as a, server(settings) as b:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(ws_url(b.url, alice)) as ws:
                first = await post_patient(http, a.url, alice)
                seen = await next_frame(ws, broadcast("patients", "create", id=first["id"]))
            since = seen["payload"]["event_id"]
            missed = [await post_patient(http, a.url, alice, first_name=f"M{i}") for i in range(5)]
            async with http.ws_connect(ws_url(b.url, alice, since=since)) as ws:
                frames = [await next_frame(ws) for _ in range(5)]
                assert [f["payload"]["data"]["id"] for f in frames] == [p["id"] for p in missed]
                assert [f["payload"]["event_id"] for f in frames] == list(range(since + 1, since + 6))
                live = await post_patient(http, a.url, alice, first_name="Live")
                after = await next_frame(ws)
                assert after["payload"]["data"]["id"] == live["id"]
                assert after["payload"]["event_id"] == since + 6


async def test_redis_restart_fan_out_resumes(settings, alice) -> None:
    with redis_server() as (redis_url, redis):
        private = settings.with_(redis_url=redis_url)
        with server(private) as a, server(private) as b:
            async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(b.url, alice)) as ws:
                before = await post_patient(http, a.url, alice, first_name="Before")
                await next_frame(ws, broadcast("patients", "create", id=before["id"]))

                redis.stop()
                during = await post_patient(http, a.url, alice, first_name="During")  # HTTP keeps working
                async with http.get(f"{a.url}/readyz") as resp:
                    assert resp.status == 503
                redis.start()

                got = await next_frame(ws, broadcast("patients", "create", id=during["id"]), timeout=15)
                assert got["payload"]["data"]["first_name"] == "During"
                after = await post_patient(http, a.url, alice, first_name="After")
                await next_frame(ws, broadcast("patients", "create", id=after["id"]), timeout=15)
            assert "lost the Redis subscription" in b.log()


async def test_sigterm_closes_open_sockets_with_1001(settings, alice) -> None:
    with server(settings) as a:
        async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(a.url, alice)) as ws:
            a.proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(10):
                message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 1001
        assert a.proc.wait(15) == 0
