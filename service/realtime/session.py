"""One WebSocket session: a bounded send path and its subscriptions."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from .. import events
from ..context import User
from ..events import Event
from .frames import event_frame, ws_text_frame

log = logging.getLogger("service.realtime")

CLOSE_TOO_SLOW = 1008  # policy violation: the client does not read fast enough
MAX_PENDING_EVENTS = 20_000


class Session:
    """What the hub needs to reach one client.

    Frames go straight into the socket's transport buffer. The buffer is the
    session's bounded send queue: past ``limit`` bytes the client is cut off
    (close 1008), so a client that cannot keep up never stalls the others.
    While the session replays missed events (``since``), live events wait in
    ``pending`` and are written after the replay, in order.
    """

    __slots__ = ("ws", "transport", "user", "limit", "subs", "pending", "closing", "floor")

    def __init__(self, ws: web.WebSocketResponse, transport: Any, user: User, limit: int) -> None:
        self.ws = ws
        self.transport = transport
        self.user = user
        self.limit = limit
        # (stream, pk) -> request ids of subscribe_instance on this socket
        self.subs: dict[tuple[str, int], list[Any]] = {}
        self.pending: list[tuple[Event, bytes]] | None = None
        self.closing = False
        self.floor = 0  # events up to this id are not sent (the client has them)

    def write(self, frame: bytes) -> None:
        if self.closing:
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(frame)
        if transport.get_write_buffer_size() > self.limit:
            self.cut_off(f"{transport.get_write_buffer_size()} bytes waiting to be sent")

    def send(self, payload: bytes) -> None:
        self.write(ws_text_frame(payload))

    def push(self, event: Event, broadcast: bytes) -> None:
        """Deliver one event: the stream-wide frame, then any instance frames."""
        if event.id <= self.floor:
            return
        if self.pending is not None:
            self.pending.append((event, broadcast))
            if len(self.pending) > MAX_PENDING_EVENTS:
                self.cut_off(f"{len(self.pending)} events waiting during replay")
            return
        self.write(broadcast)
        if self.subs and event.action in (events.UPDATE, events.DELETE):
            for request_id in self.subs.get((event.stream, event.pk), ()):
                self.write(event_frame(event, request_id))

    def start_replay(self) -> None:
        self.pending = []

    def finish_replay(self) -> None:
        pending, self.pending = self.pending or [], None
        for event, broadcast in pending:
            self.push(event, broadcast)

    def subscribe(self, stream: str, pk: int, request_id: Any) -> None:
        ids = self.subs.setdefault((stream, pk), [])
        if request_id not in ids:  # dcrf-client re-sends the same id after a reconnect
            ids.append(request_id)

    def unsubscribe(self, stream: str, pk: int) -> None:
        self.subs.pop((stream, pk), None)

    def cut_off(self, why: str) -> None:
        if self.closing:
            return
        self.closing = True
        log.warning("closing WebSocket of user %s (id %s): client too slow (%s)", self.user.username, self.user.id, why)
        asyncio.get_running_loop().create_task(
            self.ws.close(code=CLOSE_TOO_SLOW, message=b"client too slow: send queue full")
        )
