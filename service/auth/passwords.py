"""Password hashing and the rules a new password must pass.

Hashing is argon2id (RFC 9106 low-memory profile, argon2-cffi's defaults),
salted per password. It is slow and takes 64 MiB on purpose, so it runs in a
few dedicated threads (``Hasher``) that bound both the memory in use and the
queue of callers waiting for a turn; it never blocks the event loop.

``password_problems`` is Django's default ``AUTH_PASSWORD_VALIDATORS`` (the
``startproject`` template) with Django's English messages, in Django's order:
UserAttributeSimilarityValidator, MinimumLengthValidator,
CommonPasswordValidator, NumericPasswordValidator. The algorithms follow
``django/contrib/auth/password_validation.py`` of Django 5.2.

``common-passwords.txt.gz`` beside this file is Django 5.2's
``django/contrib/auth/common-passwords.txt.gz``, copied unchanged (sha256
3c1baed62596de36860824eb3f436d5932d37ca8b06e59df78f5a44ec175afe4). Django's
source and documentation say it is a list of 20,000 common passwords
("unhexed, lowercased and deduplicated", hence 19,640 lines) created by Royce
Williams, https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce,
and Django distributes it under its BSD 3-clause licence (Copyright (c) Django
Software Foundation and individual contributors), reproduced in
``common-passwords.LICENSE``.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import re
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..config import default_hash_concurrency

T = TypeVar("T")

_hasher = PasswordHasher()
# Verified against when the user does not exist, so that an unknown user and
# a wrong password take the same time as well as getting the same answer.
_DUMMY_HASH = _hasher.hash("not a real password")


# --- hashing, synchronous (blocking: call from a worker thread) ---------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no stored hash (unknown user) a
    dummy hash is checked so that the answer, False, costs the same."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


# --- hashing, bounded and asynchronous ---------------------------------------

DEFAULT_MAX_WAITING = 32


class HashingBusy(Exception):
    """Every hashing thread is busy and the waiting line is full: the call
    was refused at once, nothing was queued. Try again later."""


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None] = field(init=False)
    granted: bool = False  # a slot has been handed to this waiter

    def __post_init__(self) -> None:
        self.future = self.loop.create_future()


class Hasher:
    """argon2 in ``concurrency`` dedicated threads, at most ``max_waiting``
    callers waiting for one, and ``HashingBusy`` at once for any more.

    A slot is held from the moment a call is let in until its thread has
    finished, even if the caller is cancelled meanwhile: a hash the caller no
    longer wants still takes its 64 MiB until it ends. A caller cancelled
    while waiting leaves the line (or passes on a slot it was just handed).

    The bookkeeping is under a thread lock, not asyncio primitives, so one
    Hasher may serve several event loops (one per test, the CLI's
    ``asyncio.run``) one after another or at once.

    ``hash_fn`` and ``verify_fn`` exist for tests; production uses the
    defaults, the real argon2 functions above.
    """

    def __init__(
        self,
        concurrency: int,
        max_waiting: int,
        *,
        hash_fn: Callable[[str], str] = hash_password,
        verify_fn: Callable[[str | None, str], bool] = verify,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if max_waiting < 0:
            raise ValueError("max_waiting must not be negative")
        self.concurrency = concurrency
        self.max_waiting = max_waiting
        self._hash_fn = hash_fn
        self._verify_fn = verify_fn
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="argon2")
        self._lock = threading.Lock()
        self._running = 0  # slots taken: calls let in whose thread work has not ended
        self._waiting: deque[_Waiter] = deque()
        self._closed = False

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """``verify`` in a hashing thread (an unknown user, None, costs the same)."""
        return await self._run(self._verify_fn, stored_hash, password)

    async def hash(self, password: str) -> str:
        return await self._run(self._hash_fn, password)

    def close(self, wait: bool = True) -> None:
        """Refuse new calls, fail the waiting ones (RuntimeError) and shut the
        threads down, waiting for hashes in progress unless ``wait`` is False."""
        with self._lock:
            self._closed = True
            waiters, self._waiting = list(self._waiting), deque()
        for waiter in waiters:
            _call_in_loop(waiter.loop, _fail, waiter.future)
        self._pool.shutdown(wait=wait, cancel_futures=True)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        waiter = None
        with self._lock:
            if self._closed:
                raise RuntimeError("the password hasher is closed")
            if self._running < self.concurrency and not self._waiting:
                self._running += 1
            elif len(self._waiting) >= self.max_waiting:
                raise HashingBusy(f"{self._running} password hashes running and {len(self._waiting)} waiting")
            else:
                waiter = _Waiter(loop)
                self._waiting.append(waiter)
        if waiter is not None:
            await self._wait_for_slot(waiter)
        try:
            job = self._pool.submit(fn, *args)
        except BaseException:  # the pool was shut down meanwhile
            self._release()
            raise
        # The slot is freed when the thread is done, not when the caller stops
        # waiting: cancelling the caller does not stop a running hash.
        job.add_done_callback(self._job_done)
        return await asyncio.wrap_future(job, loop=loop)

    async def _wait_for_slot(self, waiter: _Waiter) -> None:
        try:
            await waiter.future
        except BaseException:  # cancelled, or the Hasher was closed
            with self._lock:
                granted = waiter.granted
                if not granted and waiter in self._waiting:
                    self._waiting.remove(waiter)
            if granted:  # handed a slot it will not use: pass it on
                self._release()
            raise

    def _job_done(self, _job: Future[Any]) -> None:
        self._release()

    def _release(self) -> None:
        """Give up a slot: hand it to the first waiter still alive, if any."""
        with self._lock:
            while self._waiting:
                waiter = self._waiting.popleft()
                if waiter.future.done():  # cancelled; it is removing itself
                    continue
                waiter.granted = True
                if _call_in_loop(waiter.loop, _wake, waiter.future):
                    return  # the slot now belongs to that waiter
                waiter.granted = False  # its event loop is gone
            self._running -= 1


def _call_in_loop(
    loop: asyncio.AbstractEventLoop, fn: Callable[[asyncio.Future[None]], None], fut: asyncio.Future[None]
) -> bool:
    try:
        loop.call_soon_threadsafe(fn, fut)
    except RuntimeError:  # the loop is closed
        return False
    return True


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
    # else it was cancelled after being granted a slot: _wait_for_slot sees
    # waiter.granted and passes the slot on.


def _fail(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(RuntimeError("the password hasher is closed"))


_default: Hasher | None = None
_default_lock = threading.Lock()


def default_hasher() -> Hasher:
    """The Hasher behind ``verify_async`` and ``hash_async``: the one given to
    ``set_default_hasher``, else one made on first use with
    ``default_hash_concurrency()`` threads (config) and ``DEFAULT_MAX_WAITING``."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Hasher(default_hash_concurrency(), DEFAULT_MAX_WAITING)
        return _default


def set_default_hasher(hasher: Hasher | None) -> Hasher | None:
    """Make ``hasher`` the one ``verify_async``/``hash_async`` use (None: make
    a default one again on next use); returns the previous one, not closed."""
    global _default
    with _default_lock:
        previous, _default = _default, hasher
        return previous


async def verify_async(stored_hash: str | None, password: str) -> bool:
    """``default_hasher().verify``; may raise HashingBusy."""
    return await default_hasher().verify(stored_hash, password)


async def hash_async(password: str) -> str:
    """``default_hasher().hash``; may raise HashingBusy."""
    return await default_hasher().hash(password)


# --- the rules for a new password (Django's default validators) --------------

MIN_LENGTH = 8
MAX_SIMILARITY = 0.7
COMMON_PASSWORDS_PATH = Path(__file__).resolve().parent / "common-passwords.txt.gz"

TOO_SIMILAR = "The password is too similar to the {verbose_name}."
TOO_SHORT = f"This password is too short. It must contain at least {MIN_LENGTH} characters."
TOO_COMMON = "This password is too common."
ENTIRELY_NUMERIC = "This password is entirely numeric."

# Django's AbstractUser fields compared, in its order, with their verbose names.
USER_ATTRIBUTES = (
    ("username", "username"),
    ("first_name", "first name"),
    ("last_name", "last name"),
    ("email", "email address"),
)


def password_problems(
    password: str, *, username: str = "", first_name: str = "", last_name: str = "", email: str = ""
) -> list[str]:
    """Why a new password is refused, in Django's words and order, or []."""
    values = {"username": username, "first_name": first_name, "last_name": last_name, "email": email}
    problems = []
    similar_to = _too_similar_to(password, [(verbose, values[name]) for name, verbose in USER_ATTRIBUTES])
    if similar_to is not None:
        problems.append(TOO_SIMILAR.format(verbose_name=similar_to))
    if len(password) < MIN_LENGTH:
        problems.append(TOO_SHORT)
    if password.lower().strip() in common_passwords():
        problems.append(TOO_COMMON)
    if password.isdigit():
        problems.append(ENTIRELY_NUMERIC)
    return problems


def _too_similar_to(password: str, attributes: list[tuple[str, str]]) -> str | None:
    """UserAttributeSimilarityValidator: the verbose name of the first
    attribute the password is too similar to (Django stops at the first)."""
    password = password.lower()
    for verbose_name, value in attributes:
        if not value:
            continue
        value_lower = value.lower()
        # The whole value and each part of it, so both "alice" and
        # "example" count for alice@example.com.
        for part in [*re.split(r"\W+", value_lower), value_lower]:
            if _exceeds_maximum_length_ratio(password, MAX_SIMILARITY, part):
                continue
            if SequenceMatcher(a=password, b=part).quick_ratio() >= MAX_SIMILARITY:
                return verbose_name
    return None


def _exceeds_maximum_length_ratio(password: str, max_similarity: float, value: str) -> bool:
    """Django's shortcut: a password ten times as long as the value can never
    be similar enough (quick_ratio is at most 2 / length ratio), so skip the
    costly comparison."""
    pwd_len = len(password)
    length_bound_similarity = max_similarity / 2 * pwd_len
    value_len = len(value)
    return pwd_len >= 10 * value_len and value_len < length_bound_similarity


@functools.cache
def common_passwords() -> frozenset[str]:
    """CommonPasswordValidator's list, read on first use (lowercase, one a line)."""
    with gzip.open(COMMON_PASSWORDS_PATH, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f)
