"""Login throttling, shared by every process through Redis.

Three fixed windows of ``LOGIN_THROTTLE_WINDOW_SECONDS`` each, counted from
the first failure: one username from one client address (5 failures), one
client address (100), one username from anywhere (50: someone is guessing
that account; logged). A success clears the pair's counter. While Redis is
unreachable every process counts on its own (never no limit), and retries
Redis a few seconds later.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..errors import Throttled

log = logging.getLogger("service.auth.throttle")

REDIS_RETRY_SECONDS = 5.0
MAX_LOCAL_KEYS = 100_000


@dataclass(frozen=True)
class Limits:
    window_seconds: int = 15 * 60
    per_pair: int = 5
    per_client: int = 100
    per_username: int = 50


class LocalCounters:
    """The same counters in this process's memory, bounded in size."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}

    def get(self, key: str) -> tuple[int, float]:
        """(count, seconds left) of a key; (0, 0) when absent or expired."""
        count, expires = self._counts.get(key, (0, 0.0))
        left = expires - time.monotonic()
        return (count, left) if left > 0 else (0, 0.0)

    def incr(self, key: str, window: int) -> int:
        count, left = self.get(key)
        if count == 0:
            if len(self._counts) >= MAX_LOCAL_KEYS:
                self._prune()
            left = float(window)
        self._counts[key] = (count + 1, time.monotonic() + left)
        return count + 1

    def delete(self, key: str) -> None:
        self._counts.pop(key, None)

    def _prune(self) -> None:
        now = time.monotonic()
        self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        while len(self._counts) >= MAX_LOCAL_KEYS:  # all alive: drop the oldest
            self._counts.pop(next(iter(self._counts)))


class LoginThrottle:
    def __init__(self, redis_url: str, prefix: str, limits: Limits) -> None:
        self.limits = limits
        self.prefix = prefix
        self.local = LocalCounters()
        self._redis = aioredis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._redis_down_until = 0.0

    async def close(self) -> None:
        await self._redis.aclose()

    def _keys(self, username: str, client: str) -> tuple[str, str, str]:
        user = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return (
            f"{self.prefix}:login:pair:{user}:{client}",
            f"{self.prefix}:login:client:{client}",
            f"{self.prefix}:login:user:{user}",
        )

    def _redis_usable(self) -> bool:
        return time.monotonic() >= self._redis_down_until

    def _redis_failed(self, exc: Exception) -> None:
        if self._redis_usable():
            log.error("login throttling falls back to this process's counters: Redis unavailable (%s)", exc)
        self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS

    async def check(self, username: str, client: str) -> None:
        """Raise Throttled if this username, client or pair is over its limit."""
        keys = self._keys(username, client)
        counts = await self._read(keys)
        limits = (self.limits.per_pair, self.limits.per_client, self.limits.per_username)
        waits = [left for (count, left), limit in zip(counts, limits, strict=True) if count >= limit]
        if waits:
            raise Throttled(max(1, math.ceil(max(waits))))

    async def _read(self, keys: tuple[str, ...]) -> list[tuple[int, float]]:
        if self._redis_usable():
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.get(key)
                        pipe.pttl(key)
                    raw = await pipe.execute()
                redis_counts = [(int(raw[i] or 0), max(raw[i + 1], 0) / 1000.0) for i in range(0, len(raw), 2)]
                local_counts = [self.local.get(key) for key in keys]
                # Failures counted locally during an outage still count.
                return [max(r, lo) for r, lo in zip(redis_counts, local_counts, strict=True)]
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        return [self.local.get(key) for key in keys]

    async def failed(self, username: str, client: str) -> None:
        keys = self._keys(username, client)
        window = self.limits.window_seconds
        counts: list[int] | None = None
        if self._redis_usable():
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.incr(key)
                        pipe.expire(key, window, nx=True)
                    raw = await pipe.execute()
                counts = [int(raw[i]) for i in range(0, len(raw), 2)]
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        if counts is None:
            counts = [self.local.incr(key, window) for key in keys]
        if counts[2] == self.limits.per_username:
            log.warning(
                "%d failed logins for username %r within %d s, from any address: its logins are throttled",
                counts[2],
                username,
                window,
                extra={"username": username, "client": client},
            )

    async def succeeded(self, username: str, client: str) -> None:
        pair = self._keys(username, client)[0]
        self.local.delete(pair)
        if self._redis_usable():
            try:
                await self._redis.delete(pair)
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
