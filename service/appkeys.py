"""Typed keys of what the application holds (aiohttp ``web.AppKey``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from .config import Settings
from .context import User
from .db import Database

if TYPE_CHECKING:
    from .auth.actions import LoginGuard
    from .auth.sessions import Identity
    from .realtime.hub import Hub

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
HUB: web.AppKey[Hub] = web.AppKey("hub")
GUARD: web.AppKey[LoginGuard] = web.AppKey("login_guard")

# Per-request storage.
REQUEST_ID = web.RequestKey("request_id", str)
USER: web.RequestKey[User | None] = web.RequestKey("user")  # None when anonymous
IDENTITY: web.RequestKey[Identity | None] = web.RequestKey("identity")
