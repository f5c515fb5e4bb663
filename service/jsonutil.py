"""JSON in and out.

Output: compact UTF-8 through orjson. Datetimes come from PostgreSQL in UTC
and are written as ISO 8601 with ``Z`` (microseconds only when non-zero, as
DRF does); decimals become strings with their column's places (``"38.50"``).

Input: the standard library parser, so parse errors carry the same text as
DRF's (``Expecting property name enclosed in double quotes: line 1 ...``),
and NaN/Infinity are refused as DRF's strict parser does.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from .errors import ParseError


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_UTC_Z)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")


def loads(data: bytes | str) -> Any:
    """Parse untrusted JSON; raise ParseError with DRF's message."""
    try:
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        return json.loads(data, parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise ParseError(f"JSON parse error - {exc}") from None
    except RecursionError:
        raise ParseError("JSON parse error - nested too deeply") from None
    except ValueError as exc:
        raise ParseError(f"JSON parse error - {exc}") from None
