"""Production serving: gunicorn with two aiohttp workers on the test database."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from ..servers import _http_ok, free_port, service_env, spawn, wait_until

pytestmark = pytest.mark.slow


async def test_gunicorn_serves_and_sigterm_closes_websockets_with_1001(settings, alice) -> None:
    port = free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    env = service_env(
        settings,
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
        GUNICORN_GRACEFUL_TIMEOUT="5",
        LOG_FORMAT="json",
    )
    with spawn([gunicorn, "-c", "python:service.gunicorn_conf", "service.app:gunicorn_app"], env, "gunicorn") as g:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _http_ok(f"{base}/healthz"), 30, "gunicorn to start")
        wait_until(lambda: g.log().count("Booting worker") >= 2, 30, "two workers")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/readyz") as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["checks"] == {"database": "ok", "redis": "ok"}
            async with http.get(f"{base}/api/patients/", headers=alice.headers) as resp:
                assert resp.status == 200 and await resp.json() == []
            async with http.ws_connect(f"ws://127.0.0.1:{port}/ws/?token={alice.token}") as ws:
                g.proc.send_signal(signal.SIGTERM)
                async with asyncio.timeout(10):
                    message = await ws.receive()
                assert message.type == aiohttp.WSMsgType.CLOSE
                assert ws.close_code == 1001
        assert g.proc.wait(15) == 0
        assert '"message": "GET /api/patients/ 200' in g.log()  # LOG_FORMAT=json access lines
