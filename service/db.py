"""PostgreSQL access through aiopg: the pool, reads and transactions.

Reads run in autocommit. Writes run in ``async with db.transaction() as tx``:
the change, its history and its events are one transaction, and events are
handed to the publisher only after COMMIT has succeeded.

Whatever the driver raises when a connection cannot be had or used (no
connection free within the acquire timeout, a refused or dropped
connection, a closed handle, a statement past statement_timeout) leaves
this module as one error, ``DatabaseUnavailable`` (503); SQL errors
(constraint violations, programming errors) pass through unchanged. A
connection that failed is closed, never handed to the next request.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar, Token
from decimal import Decimal
from types import TracebackType
from typing import Any

import aiopg
import psycopg2
import psycopg2.extensions
from psycopg2.extensions import AsIs

from .config import Settings
from .errors import DatabaseUnavailable
from .events import Event
from .sqlfiles import Q, Query
from .tasks import cancel_all

log = logging.getLogger("service.db")

Row = dict[str, Any]
Params = Mapping[str, Any] | None
AfterCommit = Callable[[Sequence[Event]], None]

DEFAULTS = Settings()
# Beyond the server's statement_timeout, how long the client waits for an
# answer before it gives the connection up (the server may be unreachable,
# so that its own timeout never answers).
CLIENT_TIMEOUT_MARGIN = 5.0
TIMED_OUT = "The database took too long to answer. Try again shortly."
NO_CONNECTION = "No database connection became free in time. Try again shortly."


def _session_setup(statement_timeout: float) -> Callable[[aiopg.Connection], Awaitable[None]]:
    # (Lists with optional filters are planned with their values on every
    # call because they are not prepared: "-- plan: each call", sqlfiles.)
    # JIT off: on the big archive's list plans, whose estimated cost passes
    # jit_above_cost, compiling added ~270 ms to queries that run in
    # milliseconds without it; nothing here runs long enough to gain.
    # statement_timeout bounds every statement (DB_STATEMENT_TIMEOUT): set
    # with SET rather than in the DSN's options, which would override any
    # PGOPTIONS the operator set.
    setup = f"SET TIME ZONE 'UTC'; SET jit = off; SET statement_timeout = {max(1, round(statement_timeout * 1000))}"

    async def on_connect(conn: aiopg.Connection) -> None:
        async with conn.cursor() as cur:
            await cur.execute(setup)

    return on_connect


async def create_pool(
    dsn: str,
    minsize: int,
    maxsize: int,
    name: str = "dengue-ward",
    *,
    statement_timeout: float = DEFAULTS.db_statement_timeout,
) -> aiopg.Pool:
    try:
        return await aiopg.create_pool(
            dsn,
            minsize=minsize,
            maxsize=maxsize,
            # aiopg's own bound on connecting and on waiting for a statement's
            # answer; DB_ACQUIRE_TIMEOUT (Database) and statement_timeout come first.
            timeout=statement_timeout + CLIENT_TIMEOUT_MARGIN,
            enable_hstore=False,
            enable_uuid=False,
            on_connect=_session_setup(statement_timeout),
            # Idle connections are closed by Database.recycle: aiopg's
            # pool_recycle only looks when a connection is acquired, and then
            # closes and reconnects inside that request, holding the pool's lock.
            pool_recycle=-1,
            application_name=name,
        )
    except _DRIVER_FAILURES as exc:
        raise DatabaseUnavailable() from exc


async def open_database(
    settings: Settings, minsize: int, maxsize: int, name: str = "dengue-ward", recycle: bool = True
) -> Database:
    """A pool on settings.database_url with the settings' timeouts; its
    idle connections are closed after DB_POOL_RECYCLE (unless ``recycle``
    is false). Close it with ``await db.close()``."""
    pool = await create_pool(
        settings.database_url, minsize, maxsize, name, statement_timeout=settings.db_statement_timeout
    )
    db = Database(pool, acquire_timeout=settings.db_acquire_timeout)
    if recycle:
        db.start_recycling(settings.db_pool_recycle)
    return db


# What the driver (aiopg, psycopg2, the event loop under them) raises when a
# connection cannot be had or used. OperationalError is psycopg2's class for
# failures of the database rather than of the statement: a lost connection,
# a refused one, too many clients, admin shutdown, query_canceled (57014,
# which statement_timeout raises), serialization failures and deadlocks.
# InterfaceError is a connection already closed; RuntimeError is a closed
# handle of the event loop (aiopg under uvloop: aio-libs/aiopg#909) or a
# file descriptor reused meanwhile; TimeoutError is aiopg's own bound.
_DRIVER_FAILURES = (psycopg2.OperationalError, psycopg2.InterfaceError, OSError, RuntimeError, TimeoutError)


def _failure(exc: BaseException) -> DatabaseUnavailable | None:
    """The 503 to raise for what a driver call raised, or None (a genuine error)."""
    if isinstance(exc, psycopg2.extensions.QueryCanceledError):
        return DatabaseUnavailable(TIMED_OUT)
    if isinstance(exc, asyncio.CancelledError):
        # aiopg turns query_canceled (statement_timeout) into CancelledError;
        # a cancellation of the task itself (the client hung up) stays one.
        task = asyncio.current_task()
        if isinstance(exc.__context__, psycopg2.extensions.QueryCanceledError) and (
            task is None or not task.cancelling()
        ):
            return DatabaseUnavailable(TIMED_OUT)
        return None
    if isinstance(exc, TimeoutError):
        return DatabaseUnavailable(TIMED_OUT)
    if isinstance(exc, _DRIVER_FAILURES):
        return DatabaseUnavailable()
    return None


class _Guard:
    """Around driver calls on one connection: a failure becomes
    DatabaseUnavailable, and a connection it left unusable is closed."""

    __slots__ = ("db", "conn")

    def __init__(self, db: Database, conn: Any) -> None:
        self.db = db
        self.conn = conn

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            return
        failure = _failure(exc)
        if failure is None:
            return
        if _broken(self.conn, exc):
            self.db.discard(self.conn)
        cause = exc.__context__ if isinstance(exc, asyncio.CancelledError) else exc
        raise failure from cause


def _broken(conn: Any, exc: BaseException) -> bool:
    """Whether a connection is unusable after ``exc``: anything but an error
    the server answered on a connection still open (57014, 40001, ...)."""
    if conn.closed:
        return True
    if isinstance(exc, asyncio.CancelledError):
        return False  # query_canceled: the server answered
    return not (isinstance(exc, psycopg2.Error) and exc.pgcode is not None)


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
    if isinstance(sql, Query) and sql.each_call and params:
        params = _as_literals(params)
    await cur.execute(prefix + await prepared(cur, sql), params)


def _as_literals(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters of a query sent as its text (psycopg2 writes the values
    into it): a negative integer goes in parentheses, since PostgreSQL reads
    "-9223372036854775808::bigint" as -(9223372036854775808::bigint), out of
    range, where a prepared statement's parameter was the number itself."""
    return {k: AsIs(f"({v})") if _negative_number(v) else v for k, v in params.items()}


def _negative_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool) and value < 0


def rows_of(cur: Any, rows: Iterable[Sequence[Any]]) -> list[Row]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in rows]


class Database:
    """The pool plus what happens after a commit (handing events on)."""

    def __init__(
        self,
        pool: aiopg.Pool,
        after_commit: AfterCommit | None = None,
        acquire_timeout: float = DEFAULTS.db_acquire_timeout,
    ) -> None:
        self.pool = pool
        # Called with the committed events; must not block (it only queues them).
        self.after_commit = after_commit
        self.acquire_timeout = acquire_timeout
        self._recycler: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._flush_again = False
        self._clear_idle = False

    def connection(self) -> _Connection:
        """``async with db.connection() as conn``: a pooled connection, waited
        for at most ``acquire_timeout``; closed instead of pooled if it broke."""
        return _Connection(self)

    async def fetchone(self, sql: str, params: Params = None) -> Row | None:
        async with self.connection() as conn:
            with _Guard(self, conn):
                async with conn.cursor() as cur:
                    await run(cur, sql, params)
                    row = await cur.fetchone()
                    return None if row is None else rows_of(cur, [row])[0]

    async def fetchall(self, sql: str, params: Params = None) -> list[Row]:
        async with self.connection() as conn:
            with _Guard(self, conn):
                async with conn.cursor() as cur:
                    await run(cur, sql, params)
                    return rows_of(cur, await cur.fetchall())

    async def execute(self, sql: str, params: Params = None) -> int:
        async with self.connection() as conn:
            with _Guard(self, conn):
                async with conn.cursor() as cur:
                    await run(cur, sql, params)
                    return int(cur.rowcount)

    def transaction(self, shared: bool = False) -> AbstractAsyncContextManager[Tx]:
        """A new transaction; inside a ``shared`` one (idempotent requests) the
        same task joins it instead, so the request's reply can be stored in
        the transaction that made the change."""
        outer = _shared.get()
        if outer is not None and outer.db is self:
            return _Joined(outer)
        return Tx(self, shared)

    # -- broken connections and idle ones ----------------------------------

    def discard(self, conn: Any, failed: bool = True) -> None:
        """Close a connection that will not be pooled again, and wake every
        request waiting for a connection: aiopg does not wake them when a
        closed connection comes back, so they would wait out their timeout.
        When the connection ``failed`` (not merely was cancelled), the pool's
        idle connections most likely went with it (a restart or a crash of
        the server drops them all): they are closed too."""
        _close(conn)
        self._clear_idle = self._clear_idle or failed
        self._flush_again = True
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush(), name="db-pool-flush")

    async def _flush(self) -> None:
        while self._flush_again:
            self._flush_again = False
            clear, self._clear_idle = self._clear_idle, False
            try:
                if clear:
                    await self.pool.clear()
                async with self.pool._cond:
                    self.pool._cond.notify_all()
            except Exception:
                log.warning("could not clear the pool after a failed connection", exc_info=True)

    def start_recycling(self, idle_seconds: float) -> None:
        """Close idle connections (beyond the pool's minimum) once they have
        been unused for ``idle_seconds``: after a burst each process gives
        its connections back to PostgreSQL, for other processes to use."""
        if self._recycler is None:
            self._recycler = asyncio.get_running_loop().create_task(self._recycle(idle_seconds), name="db-pool-recycle")

    async def _recycle(self, idle_seconds: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(idle_seconds / 2)
            try:
                closed = await self.close_idle(idle_seconds, loop.time())
                if closed:
                    log.debug("closed %d connection(s) idle for %ss", closed, idle_seconds)
            except Exception:
                log.warning("could not close idle connections", exc_info=True)

    async def close_idle(self, idle_seconds: float, now: float) -> int:
        """Close the free connections unused for ``idle_seconds``, keeping
        the pool's minimum; how many were closed."""
        pool = self.pool
        closed = 0
        async with pool._cond:
            for conn in list(pool._free):
                if pool.size <= pool.minsize:
                    break
                if conn.closed or now - conn.last_usage > idle_seconds:
                    pool._free.remove(conn)
                    _close(conn)
                    closed += 1
        return closed

    async def close(self) -> None:
        """Stop recycling and close the pool (waiting for connections in use)."""
        await cancel_all(t for t in (self._recycler, self._flusher) if t is not None)
        self.pool.close()
        await self.pool.wait_closed()


def _close(conn: Any) -> None:
    """Close a connection once. aiopg's close() removes the socket's reader
    from the event loop by its file descriptor each time it is called: a
    second call, after the descriptor was reused by another socket, would
    take that socket's reader away."""
    if not conn.closed:
        conn.close()


class _Connection:
    """One pooled connection for the length of an ``async with``."""

    __slots__ = ("db", "conn")

    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: Any = None

    async def __aenter__(self) -> Any:
        try:
            # A cancelled acquire gives nothing back half-made: aiopg closes a
            # connection whose connect or setup was cancelled, and a waiter
            # cancelled in the queue has taken no connection.
            async with asyncio.timeout(self.db.acquire_timeout):
                self.conn = await self.db.pool.acquire()
        except TimeoutError as exc:
            # aiopg's own timeout is longer: this is ours, the pool stayed full.
            raise DatabaseUnavailable(NO_CONNECTION) from exc
        except _DRIVER_FAILURES as exc:
            raise DatabaseUnavailable() from exc
        return self.conn

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            # aiopg closes a connection left inside a transaction instead of pooling it.
            await self.db.pool.release(conn)
        except Exception:
            log.warning("could not release a connection; closed it", exc_info=True)
            _close(conn)
        if conn.closed:
            # a failure was handled where it happened (_Guard); here it is a
            # connection aiopg closed itself, e.g. a statement cancelled when
            # the client hung up
            self.db.discard(conn, failed=False)


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
        self._conn_ctx = self.db.connection()
        conn = await self._conn_ctx.__aenter__()
        try:
            with _Guard(self.db, conn):
                self._cur = await conn.cursor()
        except BaseException as exc:
            await self._conn_ctx.__aexit__(type(exc), exc, exc.__traceback__)
            raise
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
                    with _Guard(self.db, self._cur.connection):
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
        with _Guard(self.db, self._cur.connection):
            await run(self._cur, sql, params, prefix)

    async def fetchone(self, sql: str, params: Params = None) -> Row | None:
        await self._run(sql, params)
        with _Guard(self.db, self._cur.connection):
            row = await self._cur.fetchone()
        return None if row is None else rows_of(self._cur, [row])[0]

    async def fetchall(self, sql: str, params: Params = None) -> list[Row]:
        await self._run(sql, params)
        with _Guard(self.db, self._cur.connection):
            return rows_of(self._cur, await self._cur.fetchall())

    async def execute(self, sql: str, params: Params = None) -> int:
        await self._run(sql, params)
        return int(self._cur.rowcount)

    async def later(self, sql: str, params: Params = None) -> None:
        """Run a statement whose result nobody reads, in this transaction but
        only with COMMIT: one round trip fewer. Its error still fails the
        commit and rolls everything back."""
        if not self._begun:
            await self._run(sql, params)
            return
        with _Guard(self.db, self._cur.connection):
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
        conn = self._cur.connection
        if conn.closed:
            return  # nothing to roll back on: the server already did
        try:
            await self._cur.execute("ROLLBACK")
        except asyncio.CancelledError:
            _close(conn)  # cancelled mid-ROLLBACK: the connection's state is unknown
            raise
        except Exception as exc:
            log.warning("rollback failed (%s: %s); the connection is discarded", type(exc).__name__, exc)
            _close(conn)
