"""Time zone conversions that cannot fail.

``datetime.astimezone`` raises OverflowError when the local time falls
outside years 1-9999 (9999-12-31T23:00Z is already year 10000 at UTC+7).
Validation keeps such datetimes out, but a conversion for display must not
turn a stored value into a server error.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

# 400 Gregorian years: the calendar repeats, weekdays included, and so do a
# zone's yearly rules (after its last listed transition) and its offset
# before the first; a time moved by a cycle has the same local hour.
_CYCLE = dt.timedelta(days=146097)


def local_hour(time: dt.datetime, tz: ZoneInfo) -> int:
    """The hour of ``time`` on the clocks of ``tz``."""
    try:
        return time.astimezone(tz).hour
    except (OverflowError, ValueError):
        moved = time - _CYCLE if time.year > 5000 else time + _CYCLE
        return moved.astimezone(tz).hour


def local_text(time: dt.datetime, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """``time`` on the clocks of ``tz``, formatted; in UTC when the local date
    is out of range."""
    try:
        return time.astimezone(tz).strftime(fmt)
    except (OverflowError, ValueError):
        return time.astimezone(dt.UTC).strftime(fmt)
