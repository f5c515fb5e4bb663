"""Settings, read once from environment variables.

Every default works on the plain host (local PostgreSQL and Redis, trust auth).
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Iterable
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


def _float(env: dict[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < minimum:
        raise ConfigError(f"{name} must be a finite number >= {minimum}, got {raw!r}")
    return value


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR blocks (ValueError if one is malformed)."""
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def _list(env: dict[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "")
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _cores() -> int:
    """The cores this process may run on (a container's share, where set by affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_hash_concurrency() -> int:
    """Password hashes at once: one core is left to serving, and at most 2.
    On 2 cores two hashing threads took the reads beside a wave of logins to
    2.9x their time, one to 1.7x (README, Performance, "Logins")."""
    return max(1, min(_cores() - 1, 2))


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
    # The most a request waits for a pooled connection, and for one
    # statement (PostgreSQL's statement_timeout): past them it is a 503.
    db_acquire_timeout: float = 5.0
    db_statement_timeout: float = 15.0
    # Pooled connections idle this long are closed (down to DB_POOL_MIN).
    db_pool_recycle: float = 10.0
    # Connections of the hub's own pool (its catch-up reads and session checks).
    db_hub_pool_size: int = 2
    max_body_bytes: int = MIB
    ws_max_frame_bytes: int = MIB
    ws_heartbeat_seconds: float = 30.0
    # Bytes a client may have waiting in its send buffer before it is cut off.
    ws_send_buffer_bytes: int = 4 * MIB
    # Browser origins allowed to open /ws/. Same-origin pages and clients that
    # send no Origin (native apps, scripts) are always allowed.
    ws_allowed_origins: tuple[str, ...] = ()
    # What one socket may ask: request ids, subscriptions, frames a second
    # (burst), seconds over the rate before it is closed; sockets per user.
    ws_request_id_max: int = 128
    ws_max_subscriptions: int = 1000
    ws_frames_per_second: float = 50.0
    ws_frame_burst: int = 200
    ws_throttle_close_seconds: float = 10.0
    ws_max_sockets_per_user: int = 50
    # Rows a socket's list answers without limit/offset or cursor.
    ws_list_max: int = 1000
    # The most rows of one page (?limit=, ?page_size=), and where a
    # limit/offset count stops being exact.
    list_max_page_size: int = 1000
    list_count_bound: int = 10_000
    event_retention_seconds: int = 7 * 24 * 3600
    # How often each process reads the events table for what Redis did not
    # ring for; also the bound on how late a revocation reaches its sockets
    # while Redis is down.
    event_sweep_seconds: float = 1.0
    # Sessions: idle limit and absolute limit.
    token_idle_seconds: int = 12 * 3600
    token_max_age_seconds: int = 7 * 24 * 3600
    # Failed logins within the window before 429: per username and client
    # address, per client address, per username.
    login_throttle_window_seconds: int = 15 * 60
    login_throttle_pair: int = 5
    login_throttle_client: int = 100
    login_throttle_username: int = 50
    # Proxies whose X-Forwarded-For is believed (addresses or CIDR blocks).
    trusted_proxies: tuple[str, ...] = ()
    # argon2 hashes at once per process (64 MiB each) and logins waiting.
    password_hash_concurrency: int = default_hash_concurrency()
    password_hash_queue: int = 32
    reminder_lease_seconds: float = 30.0
    # The reminder worker: the longest wait between attempts to reach the
    # database while it is away; how often it beats (also while idle); how
    # old the latest beat may be for `worker --check` to pass.
    worker_retry_max_seconds: float = 5.0
    worker_heartbeat_seconds: float = 15.0
    worker_stale_seconds: float = 60.0
    # Fault injection for tests only: the worker holds each claim this long
    # before firing it, so a test can kill it while it holds a lease.
    reminder_test_hold_claim_seconds: float = 0.0
    log_level: str = "INFO"
    log_format: str = "text"
    # Seconds a stopping server waits for the requests in flight.
    shutdown_timeout: float = 20.0

    @property
    def proxies(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

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
        db_acquire_timeout=_float(env, "DB_ACQUIRE_TIMEOUT", d.db_acquire_timeout, minimum=0.001),
        db_statement_timeout=_float(env, "DB_STATEMENT_TIMEOUT", d.db_statement_timeout, minimum=0.001),
        db_pool_recycle=_float(env, "DB_POOL_RECYCLE", d.db_pool_recycle, minimum=0.001),
        db_hub_pool_size=_int(env, "DB_HUB_POOL_SIZE", d.db_hub_pool_size, minimum=1),
        ws_heartbeat_seconds=_float(env, "WS_HEARTBEAT_SECONDS", d.ws_heartbeat_seconds),
        ws_send_buffer_bytes=_int(env, "WS_SEND_BUFFER_BYTES", d.ws_send_buffer_bytes, minimum=1024),
        ws_allowed_origins=_list(env, "WS_ALLOWED_ORIGINS"),
        ws_request_id_max=_int(env, "WS_REQUEST_ID_MAX", d.ws_request_id_max, minimum=1),
        ws_max_subscriptions=_int(env, "WS_MAX_SUBSCRIPTIONS", d.ws_max_subscriptions),
        ws_frames_per_second=_float(env, "WS_FRAMES_PER_SECOND", d.ws_frames_per_second, minimum=0.01),
        ws_frame_burst=_int(env, "WS_FRAME_BURST", d.ws_frame_burst, minimum=1),
        ws_throttle_close_seconds=_float(env, "WS_THROTTLE_CLOSE_SECONDS", d.ws_throttle_close_seconds),
        ws_max_sockets_per_user=_int(env, "WS_MAX_SOCKETS_PER_USER", d.ws_max_sockets_per_user, minimum=1),
        ws_list_max=_int(env, "WS_LIST_MAX", d.ws_list_max, minimum=1),
        list_max_page_size=_int(env, "LIST_MAX_PAGE_SIZE", d.list_max_page_size, minimum=1),
        list_count_bound=_int(env, "LIST_COUNT_BOUND", d.list_count_bound, minimum=1),
        event_retention_seconds=_int(env, "EVENT_RETENTION_SECONDS", d.event_retention_seconds, minimum=1),
        event_sweep_seconds=_float(env, "EVENT_SWEEP_SECONDS", d.event_sweep_seconds),
        token_idle_seconds=_int(env, "TOKEN_IDLE_SECONDS", d.token_idle_seconds, minimum=1),
        token_max_age_seconds=_int(env, "TOKEN_MAX_AGE_SECONDS", d.token_max_age_seconds, minimum=1),
        login_throttle_window_seconds=_int(
            env, "LOGIN_THROTTLE_WINDOW_SECONDS", d.login_throttle_window_seconds, minimum=1
        ),
        login_throttle_pair=_int(env, "LOGIN_THROTTLE_PAIR", d.login_throttle_pair, minimum=1),
        login_throttle_client=_int(env, "LOGIN_THROTTLE_CLIENT", d.login_throttle_client, minimum=1),
        login_throttle_username=_int(env, "LOGIN_THROTTLE_USERNAME", d.login_throttle_username, minimum=1),
        trusted_proxies=_list(env, "TRUSTED_PROXIES"),
        password_hash_concurrency=_int(env, "PASSWORD_HASH_CONCURRENCY", d.password_hash_concurrency, minimum=1),
        password_hash_queue=_int(env, "PASSWORD_HASH_QUEUE", d.password_hash_queue),
        reminder_lease_seconds=_float(env, "REMINDER_LEASE_SECONDS", d.reminder_lease_seconds),
        worker_retry_max_seconds=_float(env, "WORKER_RETRY_MAX_SECONDS", d.worker_retry_max_seconds, minimum=0.1),
        worker_heartbeat_seconds=_float(env, "WORKER_HEARTBEAT_SECONDS", d.worker_heartbeat_seconds, minimum=0.1),
        worker_stale_seconds=_float(env, "WORKER_STALE_SECONDS", d.worker_stale_seconds, minimum=1),
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
    try:
        parse_networks(settings.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"TRUSTED_PROXIES: {exc}") from None
    if settings.worker_stale_seconds <= settings.worker_heartbeat_seconds:
        raise ConfigError("WORKER_STALE_SECONDS must exceed WORKER_HEARTBEAT_SECONDS")
    if settings.db_pool_min > settings.db_pool_max:
        raise ConfigError("DB_POOL_MIN must not exceed DB_POOL_MAX")
    return settings
