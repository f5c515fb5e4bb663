"""PostgreSQL access through aiopg: the pool, reads and transactions.

Reads run in autocommit. Writes run in ``async with db.transaction() as tx``:
the change, its history and its events are one transaction, and events are
handed to the publisher only after COMMIT has succeeded.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

import aiopg
import psycopg2

from .events import Event
from .sqlfiles import Q, Query

log = logging.getLogger("service.db")

Row = dict[str, Any]
Params = Mapping[str, Any] | None
AfterCommit = Callable[[Sequence[Event]], None]


async def _on_connect(conn: aiopg.Connection) -> None:
    async with conn.cursor() as cur:
        # Every execution of a prepared query is planned with its own values:
        # the lists' optional filters ("x IS NULL OR col = x") then drop out
        # and each call uses the index its filters allow. A generic plan,
        # which PostgreSQL would switch to after five runs, cannot: it walked
        # the whole time index for ?patient= (4.5 ms -> 179 ms at 500k rows).
        await cur.execute("SET TIME ZONE 'UTC'; SET plan_cache_mode = force_custom_plan")


async def create_pool(dsn: str, minsize: int, maxsize: int, name: str = "dengue-ward") -> aiopg.Pool:
    return await aiopg.create_pool(
        dsn,
        minsize=minsize,
        maxsize=maxsize,
        timeout=60.0,
        enable_hstore=False,
        enable_uuid=False,
        on_connect=_on_connect,
        application_name=name,
    )


# Names of the queries prepared on each connection (server-side prepared
# statements live as long as the connection).
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


async def prepared(cur: Any, sql: str) -> str:
    """The text to send for a query: a named single-statement query is
    prepared once per connection and then only EXECUTEd, so PostgreSQL does
    not parse and plan it again on every request."""
    if isinstance(sql, Query) and sql.prepare is not None:
        done = _prepared.setdefault(cur.connection, set())
        if sql.name not in done:
            await cur.execute(sql.prepare)
            done.add(sql.name)
        return sql.execute
    return sql


async def run(cur: Any, sql: str, params: Params, prefix: str = "") -> None:
    await cur.execute(prefix + await prepared(cur, sql), params)


def rows_of(cur: Any, rows: Iterable[Sequence[Any]]) -> list[Row]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in rows]


class Database:
    """The pool plus what happens after a commit (handing events on)."""

    def __init__(self, pool: aiopg.Pool, after_commit: AfterCommit | None = None) -> None:
        self.pool = pool
        # Called with the committed events; must not block (it only queues them).
        self.after_commit = after_commit

    async def fetchone(self, sql: str, params: Params = None) -> Row | None:
        async with self.pool.acquire() as conn, conn.cursor() as cur:
            await run(cur, sql, params)
            row = await cur.fetchone()
            return None if row is None else rows_of(cur, [row])[0]

    async def fetchall(self, sql: str, params: Params = None) -> list[Row]:
        async with self.pool.acquire() as conn, conn.cursor() as cur:
            await run(cur, sql, params)
            return rows_of(cur, await cur.fetchall())

    async def execute(self, sql: str, params: Params = None) -> int:
        async with self.pool.acquire() as conn, conn.cursor() as cur:
            await run(cur, sql, params)
            return cur.rowcount

    def transaction(self, shared: bool = False) -> AbstractAsyncContextManager[Tx]:
        """A new transaction; inside a ``shared`` one (idempotent requests) the
        same task joins it instead, so the request's reply can be stored in
        the transaction that made the change."""
        outer = _shared.get()
        if outer is not None and outer.db is self:
            return _Joined(outer)
        return Tx(self, shared)


# The shared transaction of the running task, if any (see Database.transaction).
_shared: ContextVar[Tx | None] = ContextVar("dengue_ward_shared_tx", default=None)


class _Joined:
    """A transaction that is part of an outer one: committed or rolled back
    with it (an error raised inside still reaches the outer one)."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def __aenter__(self) -> Tx:
        return self.tx

    async def __aexit__(self, *exc: object) -> None:
        return None


class Tx:
    """One transaction on one pooled connection.

    BEGIN travels with the first statement, and the event rows and the
    statements queued with ``later()`` with COMMIT, so a typical write costs
    two or three round trips. The advisory lock taken
    just before the events are inserted serialises event writers from that
    point to COMMIT: event ids are therefore committed in id order, and a
    reader that has seen id N has seen every id below it.
    """

    def __init__(self, db: Database, shared: bool = False) -> None:
        self.db = db
        self.shared = shared
        self._token: Token[Tx | None] | None = None
        self.events: list[Event] = []
        self._conn_ctx: Any = None
        self._cur: Any = None
        self._begun = False
        self._later: list[str] = []  # statements sent with COMMIT

    async def __aenter__(self) -> Tx:
        self._conn_ctx = self.db.pool.acquire()
        conn = await self._conn_ctx.__aenter__()
        self._cur = await conn.cursor()
        if self.shared:
            self._token = _shared.set(self)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _shared.reset(self._token)
            self._token = None
        try:
            if exc_type is None:
                try:
                    await self._commit()
                except BaseException:
                    await self._rollback()
                    raise
            elif self._begun:
                await self._rollback()
        finally:
            self._cur.close()
            await self._conn_ctx.__aexit__(exc_type, exc, tb)
        if exc_type is None and self.events and self.db.after_commit is not None:
            self.db.after_commit(self.events)

    async def _run(self, sql: str, params: Params) -> None:
        prefix = "" if self._begun else "BEGIN;\n"
        self._begun = True  # from here on, a failure must roll back
        await run(self._cur, sql, params, prefix)

    async def fetchone(self, sql: str, params: Params = None) -> Row | None:
        await self._run(sql, params)
        row = await self._cur.fetchone()
        return None if row is None else rows_of(self._cur, [row])[0]

    async def fetchall(self, sql: str, params: Params = None) -> list[Row]:
        await self._run(sql, params)
        return rows_of(self._cur, await self._cur.fetchall())

    async def execute(self, sql: str, params: Params = None) -> int:
        await self._run(sql, params)
        return self._cur.rowcount

    async def later(self, sql: str, params: Params = None) -> None:
        """Run a statement whose result nobody reads, in this transaction but
        only with COMMIT: one round trip fewer. Its error still fails the
        commit and rolls everything back."""
        if not self._begun:
            await self._run(sql, params)
            return
        text = self._cur.mogrify(await prepared(self._cur, sql), params)
        self._later.append(text.decode() + ";\n")

    def emit(self, event: Event) -> None:
        """Record an event; it is stored at COMMIT and published after it."""
        self.events.append(event)

    async def _commit(self) -> None:
        if not self._begun:
            return
        later = "".join(self._later)
        if not self.events:
            await self._cur.execute(later + "COMMIT")
            return
        await self._cur.execute(
            later.replace("%", "%%") + Q.commit_with_events,  # the queued text is already bound
            {
                "streams": [e.stream for e in self.events],
                "actions": [e.action for e in self.events],
                "pks": [e.pk for e in self.events],
                "datas": [e.data.decode() for e in self.events],
                "wards": [e.ward for e in self.events],
                "prior_wards": [e.prior_ward for e in self.events],
            },
        )
        (last_id,) = await self._cur.fetchone()
        first_id = last_id - len(self.events) + 1
        for offset, event in enumerate(self.events):
            event.id = first_id + offset

    async def _rollback(self) -> None:
        try:
            await self._cur.execute("ROLLBACK")
        except (psycopg2.Error, OSError):
            log.warning("rollback failed; the connection is discarded", exc_info=True)
            self._cur.connection.close()
