"""An ended session closes its sockets on every server process (4401)
within a second, before any later event reaches them: logout, deactivation
from the command line, a password change, expiry; and a user's changed
flags apply to open sockets at once."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import aiohttp
import pytest

from ..conftest import PASSWORD, ROOT
from ..helpers import PATIENT, broadcast, next_frame, request
from ..servers import server, service_env

pytestmark = pytest.mark.slow

SESSION_ENDED = 4401


def ws_url(base: str, key: str) -> str:
    return f"{base.replace('http', 'ws')}/ws/?token={key}"


async def login(http: aiohttp.ClientSession, base: str, username: str = "alice", password: str = PASSWORD) -> str:
    async with http.post(f"{base}/rest-auth/login/", json={"username": username, "password": password}) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["key"]


async def closed_with(ws: Any, timeout: float) -> tuple[int | None, list[dict[str, Any]]]:
    """Read until the socket closes; the close code and the frames before it."""
    frames = []
    async with asyncio.timeout(timeout):
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                frames.append(message.json())
    return ws.close_code, frames


def last_event_id(sql: Any) -> int:
    return sql("SELECT coalesce(max(id), 0) FROM events")[0][0]


async def test_logout_closes_the_sessions_sockets_on_every_process(settings, alice, make_user, sql) -> None:
    bob = make_user("bob")
    with server(settings) as a, server(settings) as b:
        async with aiohttp.ClientSession() as http:
            key = await login(http, a.url)
            other_device = await login(http, a.url)
            async with (
                http.ws_connect(ws_url(a.url, key)) as on_a,
                http.ws_connect(ws_url(b.url, key)) as on_b,
                http.ws_connect(ws_url(b.url, other_device)) as untouched,
            ):
                # every socket is live: a change reaches all three
                async with http.post(f"{a.url}/api/patients/", json=PATIENT, headers=bob.headers) as resp:
                    first = await resp.json()
                for ws in (on_a, on_b, untouched):
                    await next_frame(ws, broadcast("patients", "create", id=first["id"]))

                async with http.post(f"{b.url}/rest-auth/logout/", headers={"Authorization": f"Token {key}"}) as r:
                    assert r.status == 200
                logged_out_at = last_event_id(sql)
                async with http.post(f"{a.url}/api/patients/", json=PATIENT, headers=bob.headers) as resp:
                    later = await resp.json()

                for ws in (on_a, on_b):
                    code, frames = await closed_with(ws, timeout=1.0)
                    assert code == SESSION_ENDED, (frames, ws.exception())
                    assert all(f["payload"].get("event_id", 0) <= logged_out_at for f in frames), frames
                # the other device's session is not touched, and gets the later change
                await next_frame(untouched, broadcast("patients", "create", id=later["id"]))
                reply = await request(untouched, "patients", {"action": "list"})
                assert reply["response_status"] == 200

            async with http.get(f"{a.url}/api/patients/", headers={"Authorization": f"Token {key}"}) as resp:
                assert resp.status == 401


async def deactivate(settings: Any, username: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "deactivateuser",
        username,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=ROOT,
        env=service_env(settings),
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_deactivation_from_the_command_line_closes_every_socket(settings, alice, sql) -> None:
    with server(settings) as a, server(settings) as b:
        async with aiohttp.ClientSession() as http:
            keys = [await login(http, a.url) for _ in range(2)]
            async with http.ws_connect(ws_url(a.url, keys[0])) as on_a, http.ws_connect(ws_url(b.url, keys[1])) as on_b:
                await request(on_a, "patients", {"action": "list"})
                await request(on_b, "patients", {"action": "list"})
                out = await deactivate(settings, "alice")
                assert "deactivated (3 session(s) ended)" in out  # the fixture's session too
                started = time.monotonic()
                for ws in (on_a, on_b):
                    code, _ = await closed_with(ws, timeout=1.0)
                    assert code == SESSION_ENDED
                assert time.monotonic() - started < 1.0
            async with http.post(f"{a.url}/rest-auth/login/", json={"username": "alice", "password": PASSWORD}) as r:
                assert r.status == 400  # an inactive user cannot log in
            async with http.get(f"{b.url}/api/patients/", headers={"Authorization": f"Token {keys[0]}"}) as resp:
                assert resp.status == 401


async def test_password_change_closes_the_other_sessions_sockets(settings, alice) -> None:
    with server(settings) as a, server(settings) as b:
        async with aiohttp.ClientSession() as http:
            here, elsewhere = await login(http, a.url), await login(http, a.url)
            async with http.ws_connect(ws_url(a.url, here)) as mine, http.ws_connect(ws_url(b.url, elsewhere)) as other:
                await request(other, "patients", {"action": "list"})
                body = {
                    "old_password": PASSWORD,
                    "new_password1": "a new long secret",
                    "new_password2": "a new long secret",
                }
                async with http.post(
                    f"{a.url}/rest-auth/password/change/", json=body, headers={"Authorization": f"Token {here}"}
                ) as resp:
                    assert resp.status == 200
                code, _ = await closed_with(other, timeout=1.0)
                assert code == SESSION_ENDED
                reply = await request(mine, "patients", {"action": "list"})  # the changing device stays
                assert reply["response_status"] == 200


async def test_an_idle_session_expires_and_its_socket_closes(settings, alice) -> None:
    short = settings.with_(token_idle_seconds=2)
    with server(short, TOKEN_IDLE_SECONDS="2") as a:
        async with aiohttp.ClientSession() as http:
            key = await login(http, a.url)
            async with http.ws_connect(ws_url(a.url, key)) as ws:
                code, _ = await closed_with(ws, timeout=10)
                assert code == SESSION_ENDED
            async with http.get(f"{a.url}/api/patients/", headers={"Authorization": f"Token {key}"}) as resp:
                assert resp.status == 401


async def test_the_worker_prunes_expired_sessions(settings, alice, make_user, sql) -> None:
    from service.db import Database, create_pool
    from service.reminders.worker import Worker

    bob = make_user("bob")
    sql("UPDATE auth_sessions SET last_used = now() - interval '13 hours' WHERE user_id = %s", (alice.id,))
    worker = Worker(settings)
    pool = await create_pool(settings.database_url, 1, 1)
    worker.db = Database(pool)
    try:
        assert await worker.prune_sessions() == 1
    finally:
        pool.close()
        await pool.wait_closed()
    assert sql("SELECT user_id FROM auth_sessions") == [(bob.id,)]
    ((action, data),) = sql("SELECT action, data::text FROM events WHERE stream = '_auth'")
    assert action == "sessions_ended" and f'"user":{alice.id}' in data
