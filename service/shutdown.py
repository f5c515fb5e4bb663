"""Graceful shutdown, the same under ``python -m service serve`` and gunicorn.

aiohttp's own shutdown starts by marking every connection as closing, and
a closing connection drops whatever bytes arrive after that: a request
whose body was still on its way when SIGTERM came never got the rest of it,
waited out the shutdown timeout and was cancelled without an answer. So the
runner here drains before aiohttp's shutdown begins:

1. stop listening (no new connections; open ones are still read);
2. close every WebSocket with 1001, so clients reconnect elsewhere;
3. wait, up to ``SHUTDOWN_TIMEOUT``, until no request is in flight (a
   middleware counts them from the moment their headers have arrived, so a
   body still arriving is waited for); a reply sent meanwhile carries
   ``Connection: close``, so a keep-alive client takes its next request
   elsewhere;
4. then aiohttp's shutdown: idle connections closed, cleanup contexts run.

With nothing in flight all of this takes milliseconds. Under ``serve`` a
second SIGTERM or SIGINT ends the wait of step 3 at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .config import Settings

log = logging.getLogger("service.shutdown")

# What aiohttp's own shutdown still allows once the drain is over: replies
# being written finish, handlers still running past SHUTDOWN_TIMEOUT are
# cancelled (aiohttp waits this long twice: for them, then for the cancel).
FINAL_SECONDS = 1.0


class InFlight:
    """Requests whose handler is running (counted by :func:`track`)."""

    def __init__(self) -> None:
        self.count = 0
        self.draining = False
        self.abandoned = False
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    def abandon(self) -> None:
        """Stop waiting for the requests in flight (a second signal)."""
        self.abandoned = True
        self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True once nothing is in flight, False if ``timeout`` ran out (or
        the wait was abandoned) first."""
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                await self._idle.wait()
            return not self.abandoned
        except TimeoutError:
            return False


IN_FLIGHT = web.AppKey("in_flight", InFlight)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def track(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count the request as in flight until its handler returns; while the
    server drains, tell the client not to send another on this connection."""
    in_flight = request.app.get(IN_FLIGHT)
    if in_flight is None:  # an app made without setup() (never in the service)
        return await handler(request)
    in_flight.enter()
    try:
        response = await handler(request)
        if in_flight.draining and not response.prepared:
            response.force_close()
        return response
    finally:
        in_flight.leave()


async def drain(runner: web.AppRunner, timeout: float) -> None:
    """Steps 1-3 of the module's docstring."""
    from .realtime import ws

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for site in list(runner.sites):
        await site.stop()
    app = runner.app
    in_flight = app.get(IN_FLIGHT)
    if in_flight is None:
        return
    in_flight.draining = True
    await ws.close_all(app)
    if in_flight.count:
        log.info("shutting down: waiting up to %.0fs for %d request(s) in flight", timeout, in_flight.count)
        if await in_flight.wait_idle(deadline - loop.time()):
            log.info("shutting down: every request in flight has been answered")
        else:
            log.warning(
                "shutting down: %d request(s) still running after %.0fs are cancelled",
                in_flight.count,
                loop.time() - deadline + timeout,
            )


class DrainingRunner(web.AppRunner):
    """An AppRunner whose cleanup drains first (see the module's docstring)."""

    def __init__(self, app: web.Application, *, drain_timeout: float, **kwargs: Any) -> None:
        kwargs.setdefault("shutdown_timeout", FINAL_SECONDS)
        super().__init__(app, **kwargs)
        self.drain_timeout = drain_timeout

    async def cleanup(self) -> None:
        if self.server is not None:  # set up
            await drain(self, self.drain_timeout)
        await super().cleanup()


def setup(app: web.Application) -> None:
    app[IN_FLIGHT] = InFlight()


async def serve(app: web.Application, settings: Settings) -> None:
    """``python -m service serve``: listen until SIGTERM or SIGINT, then drain
    and shut down."""
    runner = DrainingRunner(app, drain_timeout=settings.shutdown_timeout, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        log.info("serving on http://%s:%d", settings.host, settings.port)
        received: asyncio.Future[signal.Signals] = asyncio.get_running_loop().create_future()

        def on_signal(sig: signal.Signals) -> None:
            if not received.done():
                received.set_result(sig)
            elif IN_FLIGHT in app and not app[IN_FLIGHT].abandoned:
                log.warning("%s received again: not waiting for the requests in flight", sig.name)
                app[IN_FLIGHT].abandon()

        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, on_signal, sig)
        name = (await received).name
        log.info("%s received: shutting down (SHUTDOWN_TIMEOUT %.0fs)", name, settings.shutdown_timeout)
    finally:
        await runner.cleanup()
        log.info("server stopped")
