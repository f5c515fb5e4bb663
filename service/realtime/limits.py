"""What one socket may ask of the server: a bounded request id, a frame
rate (a token bucket), a number of subscriptions; and sockets per user."""

from __future__ import annotations

import math
import time
from typing import Any

from ..errors import ApiError, Throttled, ValidationError


class LimitExceeded(ApiError):
    status = 429


def check_request_id(value: Any, max_length: int) -> None:
    """A request id is echoed in every reply and kept with each subscription:
    a string of at most ``max_length`` characters, an integer, or null."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return
    if isinstance(value, str) and len(value) <= max_length:
        return
    raise ValidationError(
        {"request_id": [f"Must be a string of at most {max_length} characters, an integer, or null."]}
    )


class TokenBucket:
    """``rate`` frames a second on average, ``burst`` at once. A socket that
    stays over the limit for ``close_after`` seconds is to be closed."""

    __slots__ = ("rate", "burst", "close_after", "tokens", "stamp", "over_since")

    def __init__(self, rate: float, burst: int, close_after: float) -> None:
        self.rate = rate
        self.burst = burst
        self.close_after = close_after
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.over_since: float | None = None

    def spend(self) -> Throttled | None:
        """Spend one token; without one, the 429 to answer (DRF's text and wait)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.over_since = None
            return None
        if self.over_since is None:
            self.over_since = now
        return Throttled(max(1, math.ceil((1 - self.tokens) / self.rate)))

    def sustained(self) -> bool:
        """Over the limit for ``close_after`` seconds without a break."""
        return self.over_since is not None and time.monotonic() - self.over_since >= self.close_after
