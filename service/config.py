"""Settings, read once from environment variables.

Every default works on the plain host (local PostgreSQL and Redis, trust auth).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIB = 1024 * 1024


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _list(env: dict[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "")
    return tuple(item.strip() for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    database_url: str = "postgresql://postgres@127.0.0.1:5432/dengue"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Channel on which events are published; several deployments (or test
    # sessions) can share one Redis by choosing different channels.
    redis_channel: str = "dengue:events"
    host: str = "127.0.0.1"
    port: int = 8000
    clinical_timezone: str = "UTC"
    db_pool_min: int = 1
    db_pool_max: int = 10
    max_body_bytes: int = MIB
    ws_max_frame_bytes: int = MIB
    ws_heartbeat_seconds: float = 30.0
    # Bytes a client may have waiting in its send buffer before it is cut off.
    ws_send_buffer_bytes: int = 4 * MIB
    # Browser origins allowed to open /ws/. Same-origin pages and clients that
    # send no Origin (native apps, scripts) are always allowed.
    ws_allowed_origins: tuple[str, ...] = ()
    event_retention_seconds: int = 7 * 24 * 3600
    event_sweep_seconds: float = 5.0
    reminder_lease_seconds: float = 30.0
    # Fault injection for tests only: the worker holds each claim this long
    # before firing it, so a test can kill it while it holds a lease.
    reminder_test_hold_claim_seconds: float = 0.0
    log_level: str = "INFO"
    log_format: str = "text"
    shutdown_timeout: float = 10.0

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.clinical_timezone)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def redacted_database_url(self) -> str:
        return _redact(self.database_url)

    def redacted_redis_url(self) -> str:
        return _redact(self.redis_url)


def _redact(url: str) -> str:
    """Hide a password in a URL so it can be logged."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, hostpart = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{hostpart}" if ":" in creds else url


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    d = Settings()
    settings = Settings(
        database_url=env.get("DATABASE_URL") or d.database_url,
        redis_url=env.get("REDIS_URL") or d.redis_url,
        redis_channel=env.get("REDIS_CHANNEL") or d.redis_channel,
        host=env.get("HOST") or d.host,
        port=_int(env, "PORT", d.port),
        clinical_timezone=env.get("CLINICAL_TIMEZONE") or d.clinical_timezone,
        db_pool_min=_int(env, "DB_POOL_MIN", d.db_pool_min),
        db_pool_max=_int(env, "DB_POOL_MAX", d.db_pool_max, minimum=1),
        ws_heartbeat_seconds=_float(env, "WS_HEARTBEAT_SECONDS", d.ws_heartbeat_seconds),
        ws_send_buffer_bytes=_int(env, "WS_SEND_BUFFER_BYTES", d.ws_send_buffer_bytes, minimum=1024),
        ws_allowed_origins=_list(env, "WS_ALLOWED_ORIGINS"),
        event_retention_seconds=_int(env, "EVENT_RETENTION_SECONDS", d.event_retention_seconds, minimum=1),
        event_sweep_seconds=_float(env, "EVENT_SWEEP_SECONDS", d.event_sweep_seconds),
        reminder_lease_seconds=_float(env, "REMINDER_LEASE_SECONDS", d.reminder_lease_seconds),
        reminder_test_hold_claim_seconds=_float(
            env, "REMINDER_TEST_HOLD_CLAIM_SECONDS", d.reminder_test_hold_claim_seconds
        ),
        log_level=(env.get("LOG_LEVEL") or d.log_level).upper(),
        log_format=(env.get("LOG_FORMAT") or d.log_format).lower(),
        shutdown_timeout=_float(env, "SHUTDOWN_TIMEOUT", d.shutdown_timeout),
    )
    try:
        ZoneInfo(settings.clinical_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"CLINICAL_TIMEZONE {settings.clinical_timezone!r} is not a known time zone") from None
    if settings.log_format not in ("text", "json"):
        raise ConfigError("LOG_FORMAT must be 'text' or 'json'")
    if settings.db_pool_min > settings.db_pool_max:
        raise ConfigError("DB_POOL_MIN must not exceed DB_POOL_MAX")
    return settings
