"""The in-process hub: events in id order to every local session.

Events arrive from this process's own commits (at once) and from Redis (one
subscription per process). The hub delivers them strictly in id order and
exactly once: an id it has passed is dropped; an id beyond the next one means
events are missing, and they are read from the events table first. That read
is complete because event writers commit in id order (see db.Tx). After a
Redis outage, and every few seconds as a safety net, it reads whatever it has
not delivered yet from the table, so a lost publish delays an event but never
loses it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import psycopg2
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ..db import Database
from ..events import Event
from ..sqlfiles import Q
from ..tasks import cancel_all
from .frames import event_frame
from .session import Session

log = logging.getLogger("service.realtime.hub")
REPLAY_BATCH = 1000
# Sessions written per turn of the event loop during one event's fan-out:
# thousands of writes in one turn would hold up every HTTP request meanwhile.
DELIVERY_SLICE = 256
_CATCH_UP = None  # queue marker: read the table for anything not yet delivered


class ResumeTooOld(Exception):
    """The client's ``since`` is outside the kept window of events."""


class Hub:
    def __init__(self, db: Database, redis_url: str, channel: str, sweep_seconds: float) -> None:
        self.db = db
        self.redis_url = redis_url
        self.channel = channel
        self.sweep_seconds = sweep_seconds
        self.sessions: set[Session] = set()
        self.last_id = 0
        self.redis_connected = False
        self._incoming: asyncio.Queue[Event | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        row = await self.db.fetchone(Q.last_event_id)
        self.last_id = row["last_id"] if row else 0
        self._tasks = [
            asyncio.create_task(self._deliver_loop(), name="hub-deliver"),
            asyncio.create_task(self._subscribe_loop(), name="hub-redis"),
            asyncio.create_task(self._sweep_loop(), name="hub-sweep"),
        ]

    async def stop(self) -> None:
        await cancel_all(self._tasks)

    # -- input -------------------------------------------------------------

    def offer(self, events: Sequence[Event]) -> None:
        """Events committed by this process (called right after COMMIT)."""
        for event in events:
            self._incoming.put_nowait(event)

    async def _subscribe_loop(self) -> None:
        delay = 0.1
        while True:
            client = aioredis.from_url(
                self.redis_url,
                socket_timeout=None,  # an idle subscription must not time out
                socket_connect_timeout=2,
                health_check_interval=10,  # ...but a dead Redis must be noticed
                retry=Retry(NoBackoff(), 0),  # reconnects are ours, followed by a catch-up
            )
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    if not self.redis_connected:
                        log.info("subscribed to Redis channel %r", self.channel)
                    self.redis_connected = True
                    delay = 0.1
                    self._incoming.put_nowait(_CATCH_UP)
                    while True:
                        message = await pubsub.get_message(timeout=5.0)
                        if message is not None and message["type"] == "message":
                            self._incoming.put_nowait(Event.from_message(message["data"]))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self.redis_connected:
                    log.error("lost the Redis subscription (%s); reconnecting", exc)
                self.redis_connected = False
            except Exception:
                log.exception("Redis subscriber failed; reconnecting")
                self.redis_connected = False
            finally:
                await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_seconds)
            self._incoming.put_nowait(_CATCH_UP)

    # -- delivery ----------------------------------------------------------

    async def _deliver_loop(self) -> None:
        while True:
            event = await self._incoming.get()
            try:
                await self._accept(event)
            except asyncio.CancelledError:
                raise
            except (psycopg2.Error, OSError) as exc:
                log.error("cannot read missed events from PostgreSQL (%s); retrying", exc)
                await asyncio.sleep(1.0)
                self._incoming.put_nowait(event)
            except Exception:
                log.exception("event delivery failed")

    async def _accept(self, event: Event | None) -> None:
        if event is None:
            await self._catch_up(upto=None)
            return
        if event.id <= self.last_id:
            return
        if event.id > self.last_id + 1:
            await self._catch_up(upto=event.id - 1)
        if event.id > self.last_id:
            await self._deliver(event)

    async def _catch_up(self, upto: int | None) -> None:
        while True:
            rows = await self.read_events(self.last_id, upto)
            for event in rows:
                if event.id > self.last_id:
                    await self._deliver(event)
            if len(rows) < REPLAY_BATCH:
                return

    async def _deliver(self, event: Event) -> None:
        """Write the event to every session, encoded once for all of them.

        Sessions attaching while this runs are not in the snapshot: they
        replay up to ``last_id``, which already counts this event.
        """
        self.last_id = event.id
        broadcast = event_frame(event)
        sessions = list(self.sessions)
        for start in range(0, len(sessions), DELIVERY_SLICE):
            if start:
                await asyncio.sleep(0)
            for session in sessions[start : start + DELIVERY_SLICE]:
                session.push(event, broadcast)

    async def read_events(self, after: int, upto: int | None, limit: int = REPLAY_BATCH) -> list[Event]:
        rows = await self.db.fetchall(
            Q.events_after, {"after": after, "upto": upto if upto is not None else 2**62, "limit": limit}
        )
        return [Event(r["stream"], r["action"], r["object_id"], r["data"].encode(), r["id"]) for r in rows]

    # -- sessions ----------------------------------------------------------

    async def attach(self, session: Session, since: int | None) -> None:
        """Register a session; with ``since``, first replay what it missed.

        The replay covers (since, last delivered]; everything after arrives
        live, held back in the session until the replay is written.
        """
        if since is None:
            self.sessions.add(session)
            return
        session.floor = since  # it has seen these, perhaps from a process ahead of this one
        row = await self.db.fetchone(Q.last_event_id)
        assert row is not None
        if since < row["pruned_through"] or since > row["last_id"]:
            self.sessions.add(session)
            raise ResumeTooOld()
        session.start_replay()
        upto = self.last_id
        self.sessions.add(session)  # no await since reading last_id: nothing slips between
        after = since
        try:
            while after < upto:
                batch = await self.read_events(after, upto)
                if not batch:
                    break
                for event in batch:
                    session.write(event_frame(event))
                after = batch[-1].id
        finally:
            session.finish_replay()

    def detach(self, session: Session) -> None:
        self.sessions.discard(session)
