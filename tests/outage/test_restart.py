"""PostgreSQL stopped (cleanly, or crashed) under a real server process
while clients keep sending requests over HTTP and the socket: every answer
is a success or a 503 within the timeouts, never a 500; once PostgreSQL is
back the same process serves again, live updates included."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import aiohttp
import pytest

from ..helpers import PATIENT, broadcast, next_frame, report_body
from ..servers import server

pytestmark = pytest.mark.slow

ACQUIRE, STATEMENT = 1.0, 3.0
# The longest any request may take: a connection, then a statement, and room
# for a busy machine. Nothing here is timed otherwise.
BOUND = ACQUIRE + STATEMENT + 2.0
PACE = 0.02  # between one load request and the next: pacing, not waiting for anything


class Load:
    """Requests of every kind in a loop, each answer recorded with how long it took."""

    def __init__(self, base: str, account: Any, patient: int) -> None:
        self.base, self.account, self.patient = base, account, patient
        self.answers: list[tuple[str, int, float]] = []  # (what, status, seconds)
        self.running = True
        self.unavailable: Counter[str] = Counter()
        self.seen_503 = asyncio.Event()
        self.after_503_ok = asyncio.Event()

    def record(self, what: str, status: int, started: float) -> None:
        self.answers.append((what, status, time.monotonic() - started))
        if status == 503:
            self.unavailable[what] += 1
            if len(self.unavailable) == 4 and min(self.unavailable.values()) >= 2:
                self.seen_503.set()
        elif self.seen_503.is_set() and status < 300 and what == "http write":
            self.after_503_ok.set()

    async def http(self, session: aiohttp.ClientSession) -> None:
        h = self.account.headers
        calls = [
            ("http read", "GET", f"{self.base}/api/patients/", None),
            ("http read", "GET", f"{self.base}/api/patients/{self.patient}/", None),
            ("http write", "POST", f"{self.base}/api/reports/", report_body(self.patient)),
        ]
        while self.running:
            for what, method, url, body in calls:
                started = time.monotonic()
                async with session.request(method, url, json=body, headers=h) as resp:
                    await resp.read()
                    self.record(what, resp.status, started)
                await asyncio.sleep(PACE)

    async def socket(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        n = 0
        while self.running:
            for what, payload in (
                ("ws read", {"action": "retrieve", "pk": self.patient}),
                ("ws write", {"action": "patch", "pk": self.patient, "data": {"last_name": f"L{n}"}}),
            ):
                n += 1
                started = time.monotonic()
                await ws.send_json({"stream": "patients", "payload": {**payload, "request_id": n}})
                frame = await next_frame(ws, lambda f, n=n: f["payload"].get("request_id") == n, timeout=30)
                self.record(what, frame["payload"]["response_status"], started)
                await asyncio.sleep(PACE)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_postgresql_stopped_under_load_gives_503s_never_500s_and_the_service_recovers(
    pg, settings, alice, mode
) -> None:
    env = {"DB_ACQUIRE_TIMEOUT": str(ACQUIRE), "DB_STATEMENT_TIMEOUT": str(STATEMENT), "DB_POOL_MAX": "4"}
    with server(settings, **env) as srv:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{srv.url}/api/patients/", json=PATIENT, headers=alice.headers) as resp:
                assert resp.status == 201
                patient = (await resp.json())["id"]
            ws = await http.ws_connect(f"{srv.url.replace('http', 'ws')}/ws/?token={alice.token}")
            load = Load(srv.url, alice, patient)
            workers = [asyncio.create_task(load.http(http)) for _ in range(2)] + [asyncio.create_task(load.socket(ws))]
            try:
                async with asyncio.timeout(20):
                    while len(load.answers) < 20:  # under way
                        await asyncio.sleep(0.05)
                await asyncio.to_thread(pg.stop, mode)
                async with asyncio.timeout(30):
                    await load.seen_503.wait()  # every kind of request answered 503, twice

                # a socket cannot even connect: its token cannot be checked
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect(f"{srv.url.replace('http', 'ws')}/ws/?token={alice.token}")
                assert refused.value.status == 503

                await asyncio.to_thread(pg.start)
                async with asyncio.timeout(30):
                    await load.after_503_ok.wait()
            finally:
                load.running = False
                await asyncio.gather(*workers, return_exceptions=True)

            statuses = Counter((what, status) for what, status, _ in load.answers)
            assert {status for _, status in statuses} <= {200, 201, 503}, statuses
            slowest = max(load.answers, key=lambda a: a[2])
            assert slowest[2] < BOUND, slowest

            # the same process, the same socket: writes, reads and live updates work again
            async with http.post(
                f"{srv.url}/api/patients/", json={**PATIENT, "first_name": "After"}, headers=alice.headers
            ) as resp:
                assert resp.status == 201
                after = (await resp.json())["id"]
            await next_frame(ws, broadcast("patients", "create", id=after), timeout=10)
            await ws.close()
        log = srv.log()
        assert "unexpected error" not in log and "Error handling request" not in log, log[-5000:]
