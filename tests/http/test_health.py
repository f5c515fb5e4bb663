"""/healthz and /readyz: /readyz names the check that failed, never the
exception; the exception goes to the log."""

from __future__ import annotations

import logging

from service import health
from service.app import create_app
from service.appkeys import DB

from ..servers import free_port


async def test_healthz(client) -> None:
    resp = await client.get("/healthz")
    assert (resp.status, await resp.json()) == (200, {"status": "alive"})


async def test_ready(client) -> None:
    resp = await client.get("/readyz")
    assert (resp.status, await resp.json()) == (
        200,
        {"status": "ready", "checks": {"database": "ok", "redis": "ok"}},
    )


async def test_redis_unreachable(aiohttp_client, settings, caplog) -> None:
    port = free_port()  # nothing listens there
    client = await aiohttp_client(create_app(settings.with_(redis_url=f"redis://127.0.0.1:{port}/0")))
    with caplog.at_level(logging.WARNING, logger="service.health"):
        resp = await client.get("/readyz")
        body = await resp.text()
    assert (resp.status, await resp.json()) == (
        503,
        {"status": "not ready", "checks": {"database": "ok", "redis": "unavailable"}},
    )
    assert str(port) not in body and "Error" not in body
    [failure] = [r for r in caplog.records if r.name == "service.health" and r.exc_info]
    assert failure.levelno == logging.WARNING and failure.getMessage() == "readiness check redis failed"
    assert str(port) in str(failure.exc_info[1])


async def test_database_unreachable(aiohttp_client, settings, caplog) -> None:
    client = await aiohttp_client(create_app(settings))
    client.app[DB].fetchall = _refuse  # the pool's connections are open; the query fails
    with caplog.at_level(logging.WARNING, logger="service.health"):
        resp = await client.get("/readyz")
    assert (resp.status, await resp.json()) == (
        503,
        {"status": "not ready", "checks": {"database": "unavailable", "redis": "ok"}},
    )
    assert "secret" not in await resp.text()
    assert any(r.getMessage() == "readiness check database failed" and r.exc_info for r in caplog.records)


async def _refuse(*args: object, **kwargs: object) -> None:
    raise ConnectionRefusedError("connection to 10.0.0.7:5432 refused (secret detail)")


async def test_missing_migrations_are_named(client, monkeypatch) -> None:
    expected = health.expected_migrations()
    monkeypatch.setattr(health, "expected_migrations", lambda: expected | {"9998_later", "9999_last"})
    resp = await client.get("/readyz")
    assert (resp.status, await resp.json()) == (
        503,
        {"status": "not ready", "checks": {"database": "migrations not applied: 9998_later, 9999_last", "redis": "ok"}},
    )
