"""The in-process hub: events in id order to every local session.

Events arrive from this process's own commits (at once) and as hints from
Redis (one subscription per process). Redis is only a doorbell: a message
carries an event id and the hub reads the events up to it from the events
table, the mailbox; an id the table does not hold is ignored (and logged),
so a forged or foreign message can neither show anything nor stall
delivery. The hub delivers strictly in id order and exactly once: an id it
has passed is dropped; an id beyond the next one means events are missing,
and they are read from the table first. That read is complete because event
writers commit in id order (see db.Tx). After a Redis outage, and every
``sweep_seconds`` as a safety net, it reads whatever it has not delivered
yet from the table, so a lost publish delays an event but never loses it.

Internal events (sessions ended, a user's flags changed) travel the same
way and are applied here, in order, before any later event is written: a
socket whose session ended receives nothing committed after that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import replace

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .. import events
from ..context import User
from ..db import Database
from ..errors import ServiceUnavailable
from ..events import Event, hint_of, seen_by
from ..sqlfiles import Q
from ..tasks import cancel_all
from .frames import event_frame
from .session import CLOSE_SESSION_ENDED, Session

log = logging.getLogger("service.realtime.hub")
REPLAY_BATCH = 1000
# Sessions written per turn of the event loop during one event's fan-out:
# thousands of writes in one turn would hold up every HTTP request meanwhile.
DELIVERY_SLICE = 256
# How often sockets are checked for sessions that expired meanwhile.
EXPIRY_CHECK_SECONDS = 1.0
FORGED_WARNING_EVERY_SECONDS = 60.0
_CATCH_UP = None  # queue marker: read the table for anything not yet delivered

Incoming = Event | int | None  # a local commit, a Redis hint, or _CATCH_UP


class ResumeTooOld(Exception):
    """The client's ``since`` is outside the kept window of events."""


class Hub:
    def __init__(
        self,
        db: Database,
        redis_url: str,
        channel: str,
        sweep_seconds: float,
        idle_seconds: float,
        max_age_seconds: float,
        reader: Database | None = None,
    ) -> None:
        # ``db`` (the requests' pool) replays what a connecting socket
        # missed: that is part of its request. ``reader`` (a small pool of
        # the hub's own) serves the live path: catch-up reads, re-authorising,
        # session checks.
        self.db = db
        self.reader = reader or db
        self.redis_url = redis_url
        self.channel = channel
        self.sweep_seconds = sweep_seconds
        self.idle_seconds = idle_seconds
        self.max_age_seconds = max_age_seconds
        self.sessions: set[Session] = set()
        self.by_user: dict[int, set[Session]] = {}
        # Who may see what: sessions by ward, and those that see every ward.
        self.by_ward: dict[int, set[Session]] = {}
        self.everyone: set[Session] = set()
        self.last_id = 0
        self.redis_connected = False
        self._incoming: asyncio.Queue[Incoming] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_forged_warning = -FORGED_WARNING_EVERY_SECONDS

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        row = await self.reader.fetchone(Q.last_event_id)
        self.last_id = row["last_id"] if row else 0
        self._tasks = [
            asyncio.create_task(self._deliver_loop(), name="hub-deliver"),
            asyncio.create_task(self._subscribe_loop(), name="hub-redis"),
            asyncio.create_task(self._sweep_loop(), name="hub-sweep"),
            asyncio.create_task(self._expiry_loop(), name="hub-session-expiry"),
        ]

    async def stop(self) -> None:
        await cancel_all(self._tasks)

    # -- input -------------------------------------------------------------

    def offer(self, committed: Sequence[Event]) -> None:
        """Events committed by this process (called right after COMMIT)."""
        for event in committed:
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
                            self._ring(message["data"])
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

    def _ring(self, message: object) -> None:
        hint = hint_of(message)
        if hint is None:
            self._warn_forged(f"a message that is not an event id ({str(message)[:40]!r})")
        elif hint > self.last_id:
            self._incoming.put_nowait(hint)

    def _warn_forged(self, what: str) -> None:
        now = time.monotonic()
        if now - self._last_forged_warning >= FORGED_WARNING_EVERY_SECONDS:
            self._last_forged_warning = now
            log.warning(
                "ignored %s on Redis channel %r: only the events table is trusted "
                "(another deployment on this channel, or a forged message?); "
                "this warning repeats at most once a minute",
                what,
                self.channel,
            )

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_seconds)
            self._incoming.put_nowait(_CATCH_UP)

    # -- delivery ----------------------------------------------------------

    async def _deliver_loop(self) -> None:
        while True:
            item = await self._incoming.get()
            try:
                await self._accept(item)
            except asyncio.CancelledError:
                raise
            except ServiceUnavailable as exc:
                log.error("cannot read events from PostgreSQL (%s); retrying", exc.detail)
                await asyncio.sleep(1.0)
                self._incoming.put_nowait(item)
            except Exception:
                log.exception("event delivery failed")

    async def _accept(self, item: Incoming) -> None:
        if item is None:
            await self._catch_up(upto=None)
        elif isinstance(item, int):
            if item > self.last_id:
                await self._catch_up(upto=item)
                if self.last_id < item:
                    self._warn_forged(f"event id {item} (the table holds ids up to {self.last_id})")
        elif item.id > self.last_id:
            if item.id > self.last_id + 1:
                await self._catch_up(upto=item.id - 1)
            if item.id > self.last_id:
                await self._deliver(item)

    async def _catch_up(self, upto: int | None) -> None:
        while True:
            rows = await self.read_events(self.last_id, upto, db=self.reader)
            for event in rows:
                if event.id > self.last_id:
                    await self._deliver(event)
            if len(rows) < REPLAY_BATCH:
                return

    async def _deliver(self, event: Event) -> None:
        """Write the event to the sessions that may see it, encoded once for
        each way it is seen: the cost of a change is the screens of its ward
        (and staff), not of the hospital.

        Sessions attaching while this runs are not in the snapshot: they
        replay up to ``last_id``, which already counts this event.
        """
        if event.internal:
            await self._apply(event)  # a failed read leaves last_id as it was: the event is retried
            self.last_id = event.id
            return
        self.last_id = event.id
        audience = self.audience(event)
        frames: dict[str, tuple[Event, bytes]] = {}  # one encoding per action seen
        for start in range(0, len(audience), DELIVERY_SLICE):
            if start:
                await asyncio.sleep(0)
            for session in audience[start : start + DELIVERY_SLICE]:
                seen = event if event.prior_ward is None else seen_by(event, session.user)
                if seen is None:
                    continue
                if seen.action not in frames:
                    frames[seen.action] = (seen, event_frame(seen))
                session.push(*frames[seen.action])

    def audience(self, event: Event) -> list[Session]:
        """The sessions that may see an event: its ward's (and the ward a
        moved patient left), and those that see every ward."""
        found = set(self.everyone)
        for ward in (event.ward, event.prior_ward):
            if ward is not None:
                found |= self.by_ward.get(ward, set())
        return list(found)

    async def _apply(self, event: Event) -> None:
        """An internal event: end sockets of ended sessions, re-authorise a
        changed user's sockets. Runs before any later event is written."""
        data = orjson.loads(event.data)
        affected = list(self.by_user.get(event.pk, ()))
        if event.action == events.SESSIONS_ENDED:
            ended = set(data["sessions"])
            for session in affected:
                if session.auth_session_id in ended:
                    session.end(CLOSE_SESSION_ENDED, "session ended")
        elif event.action == events.USER_CHANGED:
            for session in affected:
                if not data["is_active"]:
                    session.end(CLOSE_SESSION_ENDED, "session ended")
                    continue
                user = replace(
                    session.user,
                    is_staff=data["is_staff"],
                    is_superuser=data["is_superuser"],
                    wards=frozenset(data.get("wards", session.user.wards)),
                )
                await self._reauthorise(session, user, event)

    async def _reauthorise(self, session: Session, user: User, event: Event) -> None:
        """Give a session its user's new rights; its screen drops the admitted
        patients it may no longer see and gets those it now may."""
        before = session.user
        changes = []  # read first: if the database fails, nothing has changed yet and the event is retried
        for sight, action in ((_gained(before, user), events.CREATE), (_gained(user, before), events.DELETE)):
            if sight is None:
                continue
            for row in await self.reader.fetchall(Q.admitted_patients_in, sight):
                if action == events.CREATE:
                    change = Event.of("patients", action, row, ward=row["ward"])
                else:
                    change = Event.deleted("patients", row["id"], ward=row["ward"])
                change.id = event.id
                changes.append(change)
        self._unindex(session)
        session.user = user
        self._index(session)
        for change in changes:
            session.push(change, event_frame(change))

    async def read_events(
        self, after: int, upto: int | None, limit: int = REPLAY_BATCH, db: Database | None = None
    ) -> list[Event]:
        rows = await (db or self.db).fetchall(
            Q.events_after, {"after": after, "upto": upto if upto is not None else 2**62, "limit": limit}
        )
        return [
            Event(r["stream"], r["action"], r["object_id"], r["data"].encode(), r["id"], r["ward"], r["prior_ward"])
            for r in rows
        ]

    # -- session expiry ----------------------------------------------------

    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_CHECK_SECONDS)
            try:
                await self.check_expiry()
            except asyncio.CancelledError:
                raise
            except ServiceUnavailable as exc:
                log.error("cannot check sessions in PostgreSQL (%s); retrying", exc.detail)
            except Exception:
                log.exception("session expiry check failed")

    async def check_expiry(self) -> None:
        """Sockets whose session may have expired: ask the database (another
        device may have used the same session meanwhile), end the expired."""
        now = time.monotonic()
        due = [s for s in self.sessions if s.deadline() <= now and not s.closing]
        if not due:
            return
        ids = sorted({s.auth_session_id for s in due})
        rows = await self.reader.fetchall(
            Q.session_states,
            {"ids": ids, "idle_seconds": self.idle_seconds, "max_age_seconds": self.max_age_seconds},
        )
        left = {r["id"]: r["seconds_left"] for r in rows}
        now = time.monotonic()
        for session in due:
            seconds = left.get(session.auth_session_id)
            if seconds is None or seconds <= 0:
                session.end(CLOSE_SESSION_ENDED, "session ended")
            else:
                session.expires_by_idle = now + seconds

    # -- sessions ----------------------------------------------------------

    def _index(self, session: Session) -> None:
        """File a session under what it may see: every ward, or its wards."""
        if session.user.sees_all:
            self.everyone.add(session)
        for ward in () if session.user.sees_all else session.user.wards:
            self.by_ward.setdefault(ward, set()).add(session)

    def _unindex(self, session: Session) -> None:
        self.everyone.discard(session)
        for ward in session.user.wards:
            mine = self.by_ward.get(ward)
            if mine is not None:
                mine.discard(session)
                if not mine:
                    del self.by_ward[ward]

    def _add(self, session: Session) -> None:
        self.sessions.add(session)
        self.by_user.setdefault(session.user.id, set()).add(session)
        self._index(session)

    async def attach(self, session: Session, since: int | None) -> None:
        """Register a session; with ``since``, first replay what it missed.

        The replay covers (since, last delivered]; everything after arrives
        live, held back in the session until the replay is written.
        """
        if since is None:
            self._add(session)
            return
        session.floor = since  # it has seen these, perhaps from a process ahead of this one
        row = await self.db.fetchone(Q.last_event_id)
        assert row is not None
        if since < row["pruned_through"] or since > row["last_id"]:
            self._add(session)
            raise ResumeTooOld()
        session.start_replay()
        upto = self.last_id
        self._add(session)  # no await since reading last_id: nothing slips between
        after = since
        try:
            while after < upto:
                batch = await self.read_events(after, upto)
                if not batch:
                    break
                for event in batch:
                    seen = None if event.internal else seen_by(event, session.user)
                    if seen is not None:
                        session.write(event_frame(seen))
                after = batch[-1].id
        finally:
            session.finish_replay()

    def detach(self, session: Session) -> None:
        self.sessions.discard(session)
        self._unindex(session)
        mine = self.by_user.get(session.user.id)
        if mine is not None:
            mine.discard(session)
            if not mine:
                del self.by_user[session.user.id]


def _gained(before: User, after: User) -> dict[str, list[int] | None] | None:
    """What ``after`` may see that ``before`` could not, as the parameters of
    admitted_patients_in (None when nothing)."""
    if after.sees_all:
        return None if before.sees_all else {"wards": None, "but": sorted(before.wards)}
    if before.sees_all:
        return None
    new = after.wards - before.wards
    return {"wards": sorted(new), "but": []} if new else None
