"""One WebSocket session: a bounded send path, its subscriptions and the
auth session it was opened with."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web

from .. import events
from ..context import User
from ..events import Event
from .frames import event_frame, ws_text_frame
from .limits import TokenBucket

log = logging.getLogger("service.realtime")

CLOSE_POLICY = 1008  # policy violation: too slow a reader, too many frames
CLOSE_SESSION_ENDED = 4401  # logout, expiry, password change, deactivation
GOING_AWAY = 1001  # the server shuts down
MAX_PENDING_EVENTS = 20_000

SubKey = tuple[str, int]  # (stream, pk)
ENDING = "the session was ended"  # the message of end()'s cancellation


class Session:
    """What the hub needs to reach one client.

    Frames go straight into the socket's transport buffer. The buffer is the
    session's bounded send queue: past ``limit`` bytes the client is cut off
    (close 1008), so a client that cannot keep up never stalls the others.
    While the session replays missed events (``since``), live events wait in
    ``pending`` and are written after the replay, in order.

    ``user`` is the socket's user as the hub last heard of it: a change of
    flags re-authorises it in place, an ended session closes the socket
    (4401) and from then on nothing is written to it and none of its frames
    is acted on (``closing``).
    """

    __slots__ = (
        "ws",
        "transport",
        "user",
        "auth_session_id",
        "expires_by_idle",
        "expires_by_age",
        "touched",
        "limit",
        "bucket",
        "subs",
        "subscriptions",
        "pending",
        "closing",
        "close_code",
        "close_reason",
        "task",
        "receiving",
        "floor",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: Any,
        user: User,
        auth_session_id: int,
        idle_left: float,
        age_left: float,
        limit: int,
        bucket: TokenBucket,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.user = user
        self.auth_session_id = auth_session_id
        now = time.monotonic()
        # When the session may have run out (idle or too old): the hub asks
        # the database then, which may know of later use by another device.
        self.expires_by_idle = now + idle_left
        self.expires_by_age = now + age_left
        self.touched = now  # the last time this socket marked its session used
        self.limit = limit
        self.bucket = bucket  # the frames this socket may send
        # (stream, pk) -> request ids of subscribe_instance on this socket
        self.subs: dict[SubKey, list[Any]] = {}
        self.subscriptions = 0  # request ids in subs, bounded by WS_MAX_SUBSCRIPTIONS
        self.pending: list[tuple[Event, bytes]] | None = None
        self.closing = False
        self.close_code = 0  # what end() was asked to close with
        self.close_reason = ""
        # The task serving the socket, and whether it is waiting for a frame:
        # end() interrupts that wait so that the task itself closes the
        # socket and waits for the client's close frame (a clean close).
        self.task: asyncio.Task[Any] | None = asyncio.current_task()
        self.receiving = False
        self.floor = 0  # events up to this id are not sent (the client has them)

    def deadline(self) -> float:
        return min(self.expires_by_idle, self.expires_by_age)

    def write(self, frame: bytes) -> None:
        if self.closing:
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(frame)
        if transport.get_write_buffer_size() > self.limit:
            self.cut_off(f"{transport.get_write_buffer_size()} bytes waiting to be sent")

    def send(self, frame_body: bytes) -> None:
        """Write one frame whose JSON is ``frame_body`` (see frames.py)."""
        self.write(ws_text_frame(frame_body))

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

    def subscribed(self, key: SubKey, request_id: Any) -> bool:
        return request_id in self.subs.get(key, ())

    def subscribe(self, key: SubKey, request_id: Any) -> None:
        ids = self.subs.setdefault(key, [])
        if request_id not in ids:  # dcrf-client re-sends the same id after a reconnect
            ids.append(request_id)
            self.subscriptions += 1

    def unsubscribe(self, key: SubKey) -> None:
        self.subscriptions -= len(self.subs.pop(key, ()))

    def end(self, code: int, reason: str) -> None:
        """Close the socket: from now on nothing is written to it and none of
        its frames is acted on; the task serving it sends the close frame."""
        if self.closing:
            return
        self.closing = True
        self.close_code, self.close_reason = code, reason
        self.pending = None
        log.log(
            logging.DEBUG if code == GOING_AWAY else logging.INFO,
            "closing WebSocket of user %s (id %s) with %d: %s",
            self.user.username,
            self.user.id,
            code,
            reason,
            extra={"user_id": self.user.id, "close_code": code},
        )
        if self.receiving and self.task is not None:
            self.task.cancel(ENDING)

    async def receive(self) -> Any:
        """The next message, or None once end() was called (even while waiting)."""
        if self.closing:
            return None
        self.receiving = True
        try:
            return await self.ws.receive()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self.closing and task is not None and task.uncancel() == 0:
                return None  # end() interrupted the wait; nobody else cancelled us
            raise
        finally:
            self.receiving = False

    async def close(self) -> None:
        """Send the close frame end() asked for and wait for the client's."""
        if not self.ws.closed:
            await self.ws.close(code=self.close_code, message=self.close_reason.encode())

    def cut_off(self, why: str) -> None:
        if self.closing:
            return
        log.warning("closing WebSocket of user %s (id %s): client too slow (%s)", self.user.username, self.user.id, why)
        self.end(CLOSE_POLICY, "client too slow: send queue full")
