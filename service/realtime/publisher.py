"""Publish committed events to Redis without making anyone wait for it.

``submit`` is called right after COMMIT; it queues the events for a
background task and hands them to this process's hub at once, so local
screens see a change even while Redis is away. Other processes get it
through Redis; if a publish fails, they catch up from the events table when
their subscription comes back (hub.py), so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..events import Event
from ..tasks import cancel_all

log = logging.getLogger("service.realtime.publisher")
MAX_BACKLOG = 10_000


class Publisher:
    def __init__(self, redis_url: str, channel: str, local: Callable[[Sequence[Event]], None] | None = None) -> None:
        self.channel = channel
        self.local = local
        self._redis = aioredis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=2)
        self._queue: asyncio.Queue[Sequence[Event]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-publisher")

    async def close(self) -> None:
        if self._task is not None:
            try:  # let what is queued go out, but never hang a shutdown on Redis
                await asyncio.wait_for(self._queue.join(), timeout=2)
            except TimeoutError:
                log.warning(
                    "shutdown with %d event batches unpublished; other processes will read them from the events table",
                    self._queue.qsize(),
                )
            await cancel_all([self._task])
        await self._redis.aclose()

    def submit(self, events: Sequence[Event]) -> None:
        if self.local is not None:
            self.local(events)
        if self._queue.qsize() >= MAX_BACKLOG:
            self._queue.get_nowait()  # the oldest batch is in the events table anyway
            self._queue.task_done()
        self._queue.put_nowait(events)

    async def publish_now(self, events: Sequence[Event]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.publish(self.channel, event.to_message())
            await pipe.execute()

    async def _run(self) -> None:
        delay = 0.05
        while True:
            events = await self._queue.get()
            while True:
                try:
                    await self.publish_now(events)
                except (RedisError, OSError) as exc:
                    if not self._failing:
                        log.error("cannot publish to Redis (%s); retrying", exc)
                        self._failing = True
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                if self._failing:
                    log.info("publishing to Redis again")
                    self._failing = False
                delay = 0.05
                self._queue.task_done()
                break
