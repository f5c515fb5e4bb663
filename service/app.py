"""The application factory."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from . import board, health, housekeeping, openapi, shutdown
from . import db as dbmod
from .appkeys import DB, GUARD, HUB, SETTINGS
from .audit import actions as audit
from .auth import http as auth_http
from .auth.actions import LoginGuard
from .auth.passwords import Hasher
from .auth.throttle import Limits, LoginThrottle
from .config import Settings, load_settings
from .history import actions as history
from .http import middleware, routes, security
from .notifications import actions as notifications
from .patients import actions as patients
from .realtime import ws
from .realtime.hub import Hub
from .realtime.publisher import Publisher
from .reports import actions as reports
from .resources import Resource
from .tasks import cancel_all
from .users import actions as users
from .wards import actions as wards

log = logging.getLogger("service")

# Every resource the API and the socket serve, in the API root's order (the
# old root's keys first). HTTP routes, WebSocket streams and the OpenAPI
# document are all made from this tuple.
RESOURCES: tuple[Resource, ...] = (
    patients.RESOURCE,
    reports.RESOURCE,
    history.RESOURCE,
    notifications.RESOURCE,
    wards.RESOURCE,
    users.RESOURCE,
    audit.RESOURCE,
)


async def database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    db = await dbmod.open_database(settings, settings.db_pool_min, settings.db_pool_max)
    log.info(
        "connected to PostgreSQL at %s (pool %d-%d, acquire timeout %ss, statement timeout %ss, idle close %ss)",
        settings.redacted_database_url(),
        settings.db_pool_min,
        settings.db_pool_max,
        settings.db_acquire_timeout,
        settings.db_statement_timeout,
        settings.db_pool_recycle,
    )
    app[DB] = db
    yield
    await db.close()


async def realtime(app: web.Application) -> AsyncIterator[None]:
    """Fan-out: publish after commit, one Redis subscription feeding the hub.

    Redis being down does not stop the service: HTTP keeps working, local
    sockets still get local changes, and both loops reconnect by themselves.
    """
    settings, db = app[SETTINGS], app[DB]
    # The hub's catch-up reads and session checks have a pool of their own:
    # a storm of requests cannot hold up live updates, nor they the requests.
    hub_db = await dbmod.open_database(settings, 1, settings.db_hub_pool_size, name="dengue-ward-hub")
    hub = Hub(
        db,
        settings.redis_url,
        settings.redis_channel,
        settings.event_sweep_seconds,
        settings.token_idle_seconds,
        settings.token_max_age_seconds,
        reader=hub_db,
    )
    publisher = Publisher(settings.redis_url, settings.redis_channel, local=hub.offer)
    await hub.start()
    publisher.start()
    pruner = asyncio.create_task(housekeeping.watch(db, settings.event_retention_seconds), name="event-pruning")
    db.after_commit = publisher.submit
    app[HUB] = hub
    log.info("publishing events to Redis at %s, channel %r", settings.redacted_redis_url(), settings.redis_channel)
    yield
    db.after_commit = None
    await cancel_all([pruner])
    await publisher.close()
    await hub.stop()
    await hub_db.close()


def make_login_guard(settings: Settings, hasher: Hasher | None = None) -> LoginGuard:
    limits = Limits(
        window_seconds=settings.login_throttle_window_seconds,
        per_pair=settings.login_throttle_pair,
        per_client=settings.login_throttle_client,
        per_username=settings.login_throttle_username,
    )
    return LoginGuard(
        LoginThrottle(settings.redis_url, settings.redis_channel, limits),
        hasher or Hasher(settings.password_hash_concurrency, settings.password_hash_queue),
    )


async def login_guard(app: web.Application) -> AsyncIterator[None]:
    """Throttled logins (counters in Redis) and bounded password hashing
    (a guard given to the app before it starts is used instead)."""
    if GUARD not in app:
        app[GUARD] = make_login_guard(app[SETTINGS])
    guard = app[GUARD]
    yield
    await guard.close()


async def gunicorn_app() -> web.AppRunner:
    """The entry point of aiohttp's gunicorn worker (see gunicorn_conf.py):
    a runner that drains on SIGTERM as ``serve`` does (service/shutdown.py),
    within gunicorn's graceful timeout."""
    from . import gunicorn_conf, logs

    settings = load_settings()
    logs.configure(settings.log_level, settings.log_format)
    return shutdown.DrainingRunner(
        create_app(settings),
        drain_timeout=gunicorn_conf.drain_timeout(settings.shutdown_timeout),
        keepalive_timeout=gunicorn_conf.keepalive,
        access_log=None,
    )


async def freeze_startup_objects(app: web.Application) -> None:
    """Take what start-up created (modules, routes, the OpenAPI document:
    about 50,000 objects) out of every later full garbage collection. A full
    collection stops the event loop for as long as it walks the heap."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or load_settings()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[shutdown.track, middleware.request_context, middleware.errors, middleware.append_slash],
    )
    app[SETTINGS] = settings
    shutdown.setup(app)
    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(realtime)
    app.cleanup_ctx.append(login_guard)
    app.on_startup.append(freeze_startup_objects)
    security.setup(app)
    auth_http.setup(app)
    routes.setup(app, RESOURCES)
    ws.setup(app, RESOURCES)
    health.setup(app)
    board.setup(app)
    openapi.setup(app, RESOURCES)
    return app
