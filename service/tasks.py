"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger("service.tasks")


async def cancel_all(tasks: Iterable[asyncio.Task], rounds: int = 10) -> None:
    """Cancel the tasks and wait until they have finished.

    One cancel() is not always enough: a library may swallow the
    CancelledError (aiopg's timeouts on Python 3.11 do, in a race), and a
    plain gather() would then wait forever, hanging the shutdown. So cancel
    again every second until every task is done, and give up loudly.
    """
    pending = {task for task in tasks if not task.done()}
    for _ in range(rounds):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=1)
    if pending:
        log.warning("tasks still running at shutdown: %s", ", ".join(t.get_name() for t in pending))
