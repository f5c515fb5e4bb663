"""Pruning the events table, so it never outgrows the clinical data.

The reminder worker prunes every ten minutes. The server processes check
too, every ``CHECK_SECONDS``: when the oldest event kept is older than the
retention plus ``GRACE_SECONDS`` (no worker has pruned for a while: none
runs, or they are all stuck), one of them prunes. An advisory lock lets
only one pruner run at a time, whoever it is.
"""

from __future__ import annotations

import asyncio
import logging
import random

from .db import Database
from .errors import ServiceUnavailable
from .sqlfiles import Q

log = logging.getLogger("service.housekeeping")
CHECK_SECONDS = 600.0
GRACE_SECONDS = 3600.0


async def prune_events(db: Database, retention_seconds: int) -> bool:
    """Delete events older than the retention, unless another process is at
    it; whether this one pruned."""
    async with db.transaction() as tx:
        row = await tx.fetchone(Q.try_prune_lock)
        if not row or not row["locked"]:
            return False
        pruned = await tx.fetchone(Q.prune_events, {"retention_seconds": retention_seconds})
    if pruned is not None:
        log.info("pruned events up to id %s (older than %ss)", pruned["pruned_through"], retention_seconds)
    return True


async def prune_if_neglected(db: Database, retention_seconds: int, grace: float = GRACE_SECONDS) -> bool:
    """Prune when nobody has for a while (the oldest event is past retention + grace)."""
    row = await db.fetchone(Q.oldest_event_age)
    if row is None or row["seconds"] is None or row["seconds"] < retention_seconds + grace:
        return False
    log.warning("events older than the retention are still kept: no reminder worker pruned them; pruning here")
    return await prune_events(db, retention_seconds)


async def watch(db: Database, retention_seconds: int, every: float = CHECK_SECONDS) -> None:
    """The servers' check, forever (jittered so that processes do not align)."""
    while True:
        await asyncio.sleep(every * random.uniform(0.5, 1.5))
        try:
            await prune_if_neglected(db, retention_seconds)
        except asyncio.CancelledError:
            raise
        except ServiceUnavailable as exc:
            log.warning("cannot check the events table (%s); trying again later", exc.detail)
        except Exception:
            log.exception("event pruning check failed")
