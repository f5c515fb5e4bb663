"""Every frame the server sends on /ws/, in one place.

The wire format is channelsmultiplexer's envelope ``{"stream", "payload"}``
around DCRF's payload ``{"errors", "data", "action", "response_status",
"request_id"}`` (wire-protocol.md §1.2, §2.2); broadcasts add ``"event_id"``
(§10.9). A broadcast is encoded once per process and written to every socket
as the same bytes, WebSocket header included (server frames are not masked
and we never compress), so fan-out costs one transport write per client.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

from .. import jsonutil
from ..events import STATUS, Event

ERROR_STREAM = "errors"  # replies to frames that name no valid stream
EVENTS_STREAM = "events"  # the 410 "resume too old" frame


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
    stream: Any,
    action: Any,
    request_id: Any,
    status: int,
    data: Any = None,
    errors: list[Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """A DCRF response payload inside the demultiplexer's envelope (``extra``:
    keys only Dengue Ward sends, after DCRF's five, e.g. ``"truncated"``)."""
    payload = {
        "errors": errors or [],
        "data": data,
        "action": action,
        "response_status": status,
        "request_id": request_id,
    }
    return envelope(stream, jsonutil.dumps({**payload, **extra} if extra else payload))


def bad_frame(stream: Any, message: str, request_id: Any = None, action: Any = None, status: int = 400) -> bytes:
    """The reply to a frame that cannot be run (wire-protocol.md §10.6)."""
    shown = stream if isinstance(stream, str) else ERROR_STREAM
    return reply(shown, action, request_id, status, errors=[message])


def resume_gone(since: int) -> bytes:
    """The one frame a client resuming from a pruned event id gets (410)."""
    message = f"Events after {since} are no longer kept; reload and resume from a newer event_id."
    return reply(EVENTS_STREAM, "resume", None, 410, errors=[message])


def event_payload(event: Event, request_id: Any = None) -> bytes:
    """The DCRF-shaped payload of a change event, from its stored JSON."""
    return (
        b'{"errors":[],"data":'
        + event.data
        + b',"action":'
        + orjson.dumps(event.action)
        + b',"response_status":'
        + str(STATUS[event.action]).encode()
        + b',"request_id":'
        + orjson.dumps(request_id)
        + b',"event_id":'
        + str(event.id).encode()
        + b"}"
    )


def event_frame(event: Event, request_id: Any = None) -> bytes:
    """A whole WebSocket frame for an event: the stream-wide broadcast
    (``request_id`` null) or an instance subscription's copy."""
    return ws_text_frame(envelope(event.stream, event_payload(event, request_id)))
