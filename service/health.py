"""Probes: /healthz (the process is alive) and /readyz (it can do its job:
PostgreSQL and Redis reachable, every migration in migrations/ applied).

/readyz names the check that failed ("unavailable", or "migrations not
applied: ..."), never the exception: its text (hosts, ports, driver
messages) goes to the log, at WARNING, with the traceback.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from .appkeys import DB, SETTINGS
from .http.responses import json_response
from .sqlfiles import Q

log = logging.getLogger("service.health")
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def expected_migrations() -> set[str]:
    return {p.stem for p in MIGRATIONS_DIR.glob("*.sql") if not p.stem.endswith(".rollback")}


async def healthz(request: web.Request) -> web.StreamResponse:
    return json_response({"status": "alive"})


async def _check_database(request: web.Request) -> str:
    rows = await request.app[DB].fetchall(Q.applied_migrations)
    missing = sorted(expected_migrations() - {r["migration_id"] for r in rows})
    return f"migrations not applied: {', '.join(missing)}" if missing else "ok"


async def _check_redis(request: web.Request) -> str:
    client = aioredis.from_url(request.app[SETTINGS].redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
        return "ok"
    finally:
        await client.aclose()


UNAVAILABLE = "unavailable"


async def _run(name: str, check: Any, request: web.Request) -> str:
    try:
        return await asyncio.wait_for(check(request), timeout=3)
    except Exception as exc:  # a probe reports what is wrong, it never fails itself
        log.warning("readiness check %s failed", name, exc_info=exc)
        return UNAVAILABLE


async def readyz(request: web.Request) -> web.StreamResponse:
    database, redis = await asyncio.gather(
        _run("database", _check_database, request), _run("redis", _check_redis, request)
    )
    checks = {"database": database, "redis": redis}
    ready = all(v == "ok" for v in checks.values())
    if not ready:
        log.warning("not ready: %s", checks)
    return json_response({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
