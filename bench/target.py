"""The service under test: one the harness starts itself (fresh database,
one server process, a reminder worker when needed), or one given by URL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from service.setup_db import recreate_database

from .common import ROOT, free_port

BENCH_DB = "dengue_bench"
BENCH_USER = "bench"


def fresh_database(admin_url: str, name: str) -> str:
    """DROP + CREATE + yoyo apply; returns the database's URL."""
    url = recreate_database(admin_url, name)
    migrate(url)
    return url


def migrate(url: str) -> None:
    """yoyo apply: every migration not applied yet (none, for an up-to-date database)."""
    yoyo = Path(sys.executable).parent / "yoyo"
    subprocess.run(
        [str(yoyo), "apply", "--batch", "--database", url, str(ROOT / "migrations")],
        check=True,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
    )


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


@dataclass
class Target:
    base_url: str
    token: str = ""
    server_pid: int | None = None
    database_url: str | None = None
    managed: bool = False
    patient_ids: list[int] = field(default_factory=list)

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.base_url).port or 80

    @property
    def ws_path(self) -> str:
        return f"/ws/?token={self.token}"


class Managed:
    """A fresh database, a bench user, ``python -m service serve`` and, on
    demand, ``python -m service worker``; everything stopped by ``close``."""

    def __init__(self, admin_url: str, redis_url: str, logdir: Path, extra_env: dict[str, str]) -> None:
        self.admin_url = admin_url
        self.redis_url = redis_url
        self.logdir = logdir
        self.extra_env = extra_env
        self.password = secrets.token_urlsafe(16)
        self.database_url = ""
        self.port = 0
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.channel = f"dengue-bench-{os.getpid()}:events"
        self._logs = contextlib.ExitStack()  # the processes' log files, closed in close()
        self.starts = 0
        self.serve = [sys.executable, "-m", "service", "serve"]  # the server's command line

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "REDIS_CHANNEL": self.channel,
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def _spawn(self, args: list[str], name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.logdir.mkdir(parents=True, exist_ok=True)
        log = self._logs.enter_context((self.logdir / f"{name}.log").open("ab"))
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def setup(self) -> None:
        self.database_url = fresh_database(self.admin_url, BENCH_DB)
        subprocess.run(
            [sys.executable, "-m", "service", "createuser", BENCH_USER, "--password-stdin"],
            input=(self.password + "\n").encode(),
            cwd=ROOT,
            env=self.env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.port = free_port()

    def attach(self, database_url: str) -> None:
        """Serve an existing database (seeded by a scenario) instead of a fresh one."""
        self.database_url = database_url
        self.port = free_port()

    def start_server(self) -> int:
        assert self.server is None
        self.starts += 1
        env = {**self.env(), "HOST": "127.0.0.1", "PORT": str(self.port)}
        self.server = self._spawn(self.serve, f"server-{self.starts}", env)
        deadline = time.monotonic() + 30
        url = f"http://127.0.0.1:{self.port}/healthz"
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"the server exited with {self.server.returncode}; see {self.logdir}")
            if _http_ok(url):
                return self.server.pid
            time.sleep(0.05)
        raise RuntimeError(f"the server did not answer /healthz within 30 s; see {self.logdir}")

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes] | None, timeout: float = 15) -> None:
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def stop_server(self) -> None:
        self._stop(self.server)
        self.server = None

    def restart_server(self) -> int:
        self.stop_server()
        return self.start_server()

    def start_worker(self) -> int:
        if self.worker is None or self.worker.poll() is not None:
            self.worker = self._spawn([sys.executable, "-m", "service", "worker"], "worker", self.env())
            time.sleep(1.0)  # it LISTENs and reads the next due time, then sleeps
            if self.worker.poll() is not None:
                raise RuntimeError(f"the reminder worker exited with {self.worker.returncode}; see {self.logdir}")
        return self.worker.pid

    def stop_worker(self) -> None:
        self._stop(self.worker)
        self.worker = None

    def close(self) -> None:
        self.stop_worker()
        self.stop_server()
        self._logs.close()


# -- HTTP helpers (setup and clean-up only; never measured) -----------------


async def login(base_url: str, username: str, password: str) -> str:
    credentials = {"username": username, "password": password}
    async with aiohttp.ClientSession() as s, s.post(f"{base_url}/rest-auth/login/", json=credentials) as r:
        body = await r.json(content_type=None)
        if r.status != 200:
            raise RuntimeError(f"login as {username!r} failed: {r.status} {body}")
        return body["key"]


async def bounded_gather(coros: list[Any], parallel: int) -> list[Any]:
    sem = asyncio.Semaphore(parallel)

    async def one(c: Any) -> Any:
        async with sem:
            return await c

    return list(await asyncio.gather(*(one(c) for c in coros)))


async def request(
    s: aiohttp.ClientSession, method: str, url: str, json: Any = None, expect: tuple[int, ...] = (200, 201, 204)
) -> Any:
    async with s.request(method, url, json=json) as r:
        body = await r.read()
        if r.status not in expect:
            raise RuntimeError(f"{method} {url}: {r.status} {body[:300]!r}")
        return None if not body else orjson.loads(body)


def session(token: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        headers={"Authorization": f"Token {token}"},
        timeout=aiohttp.ClientTimeout(total=60),
        connector=aiohttp.TCPConnector(limit=64),
    )


async def create_patients(target: Target, names: list[str], parallel: int = 16) -> list[int]:
    async with session(target.token) as s:
        rows = await bounded_gather(
            [
                request(
                    s,
                    "POST",
                    f"{target.base_url}/api/patients/",
                    {"first_name": "Bench", "last_name": name, "admission_date": "2026-01-05T08:00:00Z"},
                )
                for name in names
            ],
            parallel,
        )
    return [r["id"] for r in rows]


async def delete_patients(target: Target, ids: list[int], parallel: int = 16) -> None:
    async with session(target.token) as s:
        await bounded_gather(
            [request(s, "DELETE", f"{target.base_url}/api/patients/{i}/", expect=(204, 404)) for i in ids], parallel
        )


async def seed_patients(target: Target, wanted: int = 100) -> list[int]:
    """Make sure the list holds at least ``wanted`` patients; return ids of ``wanted`` of them."""
    async with session(target.token) as s:
        existing = await request(s, "GET", f"{target.base_url}/api/patients/")
    ids = [p["id"] for p in existing]
    if len(ids) < wanted:
        ids += await create_patients(target, [f"Seed-{i}" for i in range(len(ids), wanted)])
    return ids[:wanted]


def insert_patients(cur: Any, count: int = 100) -> list[int]:
    """``count`` admitted patients in the first ward, in SQL, analysed; their ids."""
    cur.execute(
        "INSERT INTO patients (first_name, last_name, admission_date, ward)"
        " SELECT 'Bench', 'Seed-' || i, now() - interval '1 day', (SELECT min(id) FROM wards)"
        " FROM generate_series(1, %s) i RETURNING id",
        (count,),
    )
    ids = [r[0] for r in cur.fetchall()]
    cur.execute("ANALYZE")
    return ids
