"""Encoding of outgoing frames.

A broadcast is encoded once per process and written to every socket as the
same bytes, WebSocket header included (server frames are not masked and we
never compress), so fan-out costs one transport write per client.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

from .. import jsonutil


def ws_text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked WebSocket text frame (RFC 6455 §5.2)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + payload


def envelope(stream: Any, payload: bytes) -> bytes:
    return b'{"stream":' + orjson.dumps(stream) + b',"payload":' + payload + b"}"


def reply(
    stream: Any, action: Any, request_id: Any, status: int, data: Any = None, errors: list[Any] | None = None
) -> bytes:
    """A DCRF response payload inside the demultiplexer's envelope."""
    payload = jsonutil.dumps(
        {
            "errors": errors or [],
            "data": data,
            "action": action,
            "response_status": status,
            "request_id": request_id,
        }
    )
    return envelope(stream, payload)
