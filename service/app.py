"""The application factory."""
from __future__ import annotations

import logging
from typing import AsyncIterator

from aiohttp import web

from . import db as dbmod, web as board
from .appkeys import DB, SETTINGS
from .auth import http as auth_http
from .config import Settings, load_settings
from .http import middleware, routes
# Importing the action modules registers their resources (order = API root order).
from .patients import actions as _patients  # noqa: F401
from .reports import actions as _reports, history as _history  # noqa: F401

log = logging.getLogger("service")


async def database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pool = await dbmod.create_pool(settings.database_url, settings.db_pool_min, settings.db_pool_max)
    log.info("connected to PostgreSQL at %s (pool %d-%d)", settings.redacted_database_url(),
             settings.db_pool_min, settings.db_pool_max)
    app[DB] = dbmod.Database(pool)
    yield
    pool.close()
    await pool.wait_closed()


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or load_settings()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[middleware.request_context, middleware.errors, middleware.append_slash],
    )
    app[SETTINGS] = settings
    app.cleanup_ctx.append(database)
    auth_http.setup(app)
    routes.setup(app)
    board.setup(app)
    return app
