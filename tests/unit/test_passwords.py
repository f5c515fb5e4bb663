"""Password rules (Django's default validators, exact messages) and the
bounded argon2 Hasher: concurrency, the waiting line, HashingBusy and
cancellation."""

from __future__ import annotations

import asyncio
import os
import threading
from difflib import SequenceMatcher

import pytest

from service.auth import passwords
from service.auth.passwords import Hasher, HashingBusy, common_passwords, password_problems

SHORT = "This password is too short. It must contain at least 8 characters."
COMMON = "This password is too common."
NUMERIC = "This password is entirely numeric."
TIMEOUT = 10


def similar(verbose_name: str) -> str:
    return f"The password is too similar to the {verbose_name}."


# --- MinimumLengthValidator ------------------------------------------------------


@pytest.mark.parametrize(
    "password, problems",
    [
        ("", [SHORT]),
        ("qzx7!kw", [SHORT]),  # 7
        ("qzx7!kwp", []),  # 8
        ("qzx7!kwpv", []),  # 9
        ("éèçàüöñß", []),  # characters, not bytes
    ],
)
def test_minimum_length(password, problems) -> None:
    assert password_problems(password) == problems


# --- CommonPasswordValidator -----------------------------------------------------


def test_the_common_list() -> None:
    common = common_passwords()
    assert isinstance(common, frozenset) and len(common) >= 10_000
    assert common_passwords() is common  # read once
    assert {"password", "12345678", "qwerty", "iloveyou"} <= common
    assert all(p == p.lower().strip() for p in common)


@pytest.mark.parametrize(
    "password, problems",
    [
        ("password", [COMMON]),
        ("Password", [COMMON]),  # compared in lower case
        ("  PASSWORD \n", [COMMON]),  # and stripped
        ("iloveyou", [COMMON]),
        ("qwerty", [SHORT, COMMON]),
        ("password-qzx", []),
    ],
)
def test_common(password, problems) -> None:
    assert password_problems(password) == problems


# --- NumericPasswordValidator ----------------------------------------------------


@pytest.mark.parametrize(
    "password, problems",
    [
        ("12345678", [COMMON, NUMERIC]),
        ("1234567", [SHORT, COMMON, NUMERIC]),  # Django's order: length, common, numeric
        ("90817263544", [NUMERIC]),
        ("9081726354a", []),
        ("٣٤٥٦٧٨٩٠١٢", [NUMERIC]),  # str.isdigit, as in Django: Arabic-Indic digits count
        ("90817 263544", []),
    ],
)
def test_numeric(password, problems) -> None:
    assert password_problems(password) == problems


# --- UserAttributeSimilarityValidator ---------------------------------------------


def test_similarity_threshold_is_0_7_of_quick_ratio() -> None:
    # 7 letters shared out of 7 + 13 characters: 2 * 7 / 20 = 0.7 exactly.
    at = "wqxzvjk123456"
    below = "wqxzvjk1234567"  # 2 * 7 / 21 = 0.667
    assert SequenceMatcher(a=at, b="wqxzvjk").quick_ratio() == 0.7
    assert password_problems(at, username="wqxzvjk") == [similar("username")]
    assert password_problems(below, username="wqxzvjk") == []


@pytest.mark.parametrize(
    "attribute, verbose_name",
    [("username", "username"), ("first_name", "first name"), ("last_name", "last name"), ("email", "email address")],
)
def test_similarity_names_the_attribute(attribute, verbose_name) -> None:
    assert password_problems("Florentina!", **{attribute: "florentina"}) == [similar(verbose_name)]
    assert password_problems("florentina!", **{attribute: "FLORENTINA"}) == [similar(verbose_name)]
    assert password_problems("unrelated words here", **{attribute: "florentina"}) == []


def test_similarity_to_a_part_of_the_value() -> None:
    """The value is split on non-word characters; each part counts."""
    email = "florentina.quist@hospital-example.org"
    assert password_problems("quist123", email=email) == [similar("email address")]
    assert password_problems("hospital1", email=email) == [similar("email address")]
    assert password_problems("Jean-Luc99", first_name="Jean-Luc") == [similar("first name")]


def test_similarity_reports_only_the_first_attribute() -> None:
    """Django raises on the first similar attribute, in the order username,
    first_name, last_name, email."""
    same = {"username": "florentina", "first_name": "florentina", "email": "florentina@example.com"}
    assert password_problems("florentina1", **same) == [similar("username")]
    assert password_problems("florentina1", first_name="x", last_name="florentina", email="florentina@x.org") == [
        similar("last name")
    ]


def test_similarity_comes_first_then_the_others() -> None:
    assert password_problems("alice", username="alice") == [similar("username"), SHORT, COMMON]
    assert password_problems("12345678", username="12345678") == [similar("username"), COMMON, NUMERIC]


def test_no_attributes_no_similarity() -> None:
    assert password_problems("florentina1") == []


def test_a_long_unrelated_password_is_accepted() -> None:
    attrs = {"username": "alice", "first_name": "Alice", "last_name": "Liddell", "email": "alice@example.com"}
    assert password_problems("correct horse battery staple", **attrs) == []
    # Ten times the length of every value: Django skips the comparison.
    assert password_problems("a" + "z" * 60, username="al") == []


def test_attributes_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        password_problems("florentina1", "florentina")  # type: ignore[misc]


# --- the Hasher with real argon2 -------------------------------------------------


async def test_real_argon2_round_trip() -> None:
    hasher = Hasher(2, 4)
    try:
        stored = await hasher.hash("correct horse battery")
        assert stored.startswith("$argon2id$")
        assert await hasher.verify(stored, "correct horse battery") is True
        assert await hasher.verify(stored, "wrong horse battery") is False
        # An unknown user is checked against the dummy hash, and never matches,
        # not even with the dummy hash's own password.
        assert await hasher.verify(None, "not a real password") is False
        assert await hasher.verify("not a hash", "x") is False
        assert passwords.needs_rehash(stored) is False
    finally:
        hasher.close()


async def test_module_wrappers_use_a_bounded_default_hasher() -> None:
    default = passwords.default_hasher()
    assert passwords.default_hasher() is default
    # one core left to serving, at most two hashing threads
    assert (default.concurrency, default.max_waiting) == (max(1, min(len(os.sched_getaffinity(0)) - 1, 2)), 32)
    stored = await passwords.hash_async("brand new password")
    assert await passwords.verify_async(stored, "brand new password")
    assert passwords.verify(stored, "brand new password")
    assert not await passwords.verify_async(None, "brand new password")


async def test_set_default_hasher() -> None:
    gate = Gate()
    gate.opened.set()
    mine = Hasher(1, 1, hash_fn=gate.hash, verify_fn=gate.verify)
    previous = passwords.set_default_hasher(mine)
    try:
        assert await passwords.hash_async("x") == "hashed x"
        assert await passwords.verify_async(None, "x") is True
    finally:
        assert passwords.set_default_hasher(previous) is mine
        mine.close()


# --- the Hasher's bounds, with a stand-in for argon2 -------------------------------


class Gate:
    """Stands in for argon2: each call blocks in its thread until ``opened``
    is set, and records how many run at once and in which threads."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self._cond = threading.Condition()
        self.active = 0
        self.peak = 0
        self.calls = 0
        self.threads: set[str] = set()

    def _enter(self) -> None:
        with self._cond:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()
        try:
            if not self.opened.wait(TIMEOUT):
                raise TimeoutError("the gate was never opened")
        finally:
            with self._cond:
                self.active -= 1
                self._cond.notify_all()

    def hash(self, password: str) -> str:
        self._enter()
        return f"hashed {password}"

    def verify(self, stored_hash: str | None, password: str) -> bool:
        self._enter()
        return True

    async def until_active(self, n: int) -> None:
        def wait() -> bool:
            with self._cond:
                return self._cond.wait_for(lambda: self.active == n, TIMEOUT)

        assert await asyncio.to_thread(wait), f"{self.active} running, expected {n}"


async def pool_drained(hasher: Hasher) -> None:
    """Wait until work already handed to a one-thread pool, and its done
    callbacks (which free slots), has finished: the pool runs jobs in order."""
    assert hasher.concurrency == 1
    await asyncio.wait_for(asyncio.wrap_future(hasher._pool.submit(lambda: None)), TIMEOUT)


@pytest.fixture
def gate():  # type: ignore[no-untyped-def]
    gate = Gate()
    yield gate
    gate.opened.set()  # never leave a thread blocked


async def test_one_slot_two_waiting_fourth_is_busy(gate) -> None:
    hasher = Hasher(1, 2, hash_fn=gate.hash, verify_fn=gate.verify)
    tasks = [asyncio.create_task(hasher.hash(f"p{i}")) for i in range(4)]
    done, _ = await asyncio.wait(tasks, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    assert done == {tasks[3]}
    with pytest.raises(HashingBusy):
        tasks[3].result()
    await gate.until_active(1)
    assert (hasher.running, hasher.waiting) == (1, 2)

    gate.opened.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks[:3]), TIMEOUT)
    assert results == ["hashed p0", "hashed p1", "hashed p2"]
    assert (gate.peak, gate.calls) == (1, 3)
    assert (hasher.running, hasher.waiting) == (0, 0)
    hasher.close()


async def test_busy_is_refused_at_once_without_queuing(gate) -> None:
    hasher = Hasher(1, 0, hash_fn=gate.hash, verify_fn=gate.verify)
    first = asyncio.create_task(hasher.verify("h", "p"))
    await gate.until_active(1)
    for _ in range(5):
        with pytest.raises(HashingBusy):
            await hasher.hash("x")
    assert (hasher.running, hasher.waiting) == (1, 0)
    gate.opened.set()
    assert await asyncio.wait_for(first, TIMEOUT) is True
    assert gate.calls == 1
    hasher.close()


async def test_never_more_than_concurrency_threads_at_once(gate) -> None:
    hasher = Hasher(2, 8, hash_fn=gate.hash, verify_fn=gate.verify)
    tasks = [asyncio.create_task(hasher.hash(f"p{i}") if i % 2 else hasher.verify("h", f"p{i}")) for i in range(10)]
    await gate.until_active(2)
    assert (hasher.running, hasher.waiting) == (2, 8)
    extra = asyncio.create_task(hasher.hash("one too many"))
    with pytest.raises(HashingBusy):
        await asyncio.wait_for(extra, TIMEOUT)

    gate.opened.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert results == [True if i % 2 == 0 else f"hashed p{i}" for i in range(10)]
    assert (gate.peak, gate.calls) == (2, 10)
    assert len(gate.threads) <= 2 and all(name.startswith("argon2") for name in gate.threads)
    assert (hasher.running, hasher.waiting) == (0, 0)
    hasher.close()


async def test_a_cancelled_waiter_frees_its_place(gate) -> None:
    hasher = Hasher(1, 1, hash_fn=gate.hash, verify_fn=gate.verify)
    running = asyncio.create_task(hasher.hash("running"))
    waiter = asyncio.create_task(hasher.hash("waiter"))
    await gate.until_active(1)
    assert (hasher.running, hasher.waiting) == (1, 1)
    with pytest.raises(HashingBusy):
        await hasher.hash("busy")

    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiter, TIMEOUT)
    assert (hasher.running, hasher.waiting) == (1, 0)
    again = asyncio.create_task(hasher.hash("again"))  # the freed place is taken, not refused
    await asyncio.sleep(0)  # not a delay: one turn of the loop, in which `again` gets in line
    assert not again.done() and hasher.waiting == 1

    gate.opened.set()
    assert await asyncio.wait_for(asyncio.gather(running, again), TIMEOUT) == ["hashed running", "hashed again"]
    assert (gate.calls, gate.peak) == (2, 1)
    assert (hasher.running, hasher.waiting) == (0, 0)
    hasher.close()


async def test_a_waiter_cancelled_just_after_being_handed_the_slot_passes_it_on(gate) -> None:
    hasher = Hasher(1, 2, hash_fn=gate.hash, verify_fn=gate.verify)
    running = asyncio.create_task(hasher.hash("running"))
    handed = asyncio.create_task(hasher.hash("handed"))
    next_ = asyncio.create_task(hasher.hash("next"))
    await gate.until_active(1)
    assert hasher.waiting == 2

    # Let the running hash end and its thread hand the slot to `handed`, while
    # this loop is blocked, so `handed` is cancelled before it can wake up.
    marker = hasher._pool.submit(lambda: None)  # runs once that hand-over is done
    gate.opened.set()
    marker.result(TIMEOUT)
    assert hasher.waiting == 1 and hasher.running == 1
    handed.cancel()

    assert await asyncio.wait_for(running, TIMEOUT) == "hashed running"
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(handed, TIMEOUT)
    assert await asyncio.wait_for(next_, TIMEOUT) == "hashed next"
    assert gate.calls == 2
    assert (hasher.running, hasher.waiting) == (0, 0)
    hasher.close()


async def test_a_cancelled_running_hash_keeps_its_slot_until_its_thread_ends(gate) -> None:
    """Cancelling the caller cannot stop argon2 in its thread, so the memory
    stays in use: the slot is freed only when the thread is done."""
    hasher = Hasher(1, 0, hash_fn=gate.hash, verify_fn=gate.verify)
    running = asyncio.create_task(hasher.hash("running"))
    await gate.until_active(1)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, TIMEOUT)
    assert hasher.running == 1
    with pytest.raises(HashingBusy):
        await hasher.hash("busy")

    gate.opened.set()
    await pool_drained(hasher)
    assert (hasher.running, hasher.waiting) == (0, 0)
    assert await asyncio.wait_for(hasher.hash("after"), TIMEOUT) == "hashed after"
    hasher.close()


async def test_close_fails_the_waiting_and_refuses_new_calls(gate) -> None:
    hasher = Hasher(1, 1, hash_fn=gate.hash, verify_fn=gate.verify)
    running = asyncio.create_task(hasher.hash("running"))
    waiter = asyncio.create_task(hasher.hash("waiter"))
    await gate.until_active(1)

    hasher.close(wait=False)
    with pytest.raises(RuntimeError, match="closed"):
        await asyncio.wait_for(waiter, TIMEOUT)
    with pytest.raises(RuntimeError, match="closed"):
        await hasher.hash("late")
    gate.opened.set()
    assert await asyncio.wait_for(running, TIMEOUT) == "hashed running"  # a started hash completes
    hasher.close()  # again, and now waiting for the threads: harmless


def test_hashing_busy_is_an_exception() -> None:
    assert issubclass(HashingBusy, Exception)


@pytest.mark.parametrize("concurrency, max_waiting", [(0, 1), (1, -1)])
def test_bounds_are_checked(concurrency, max_waiting) -> None:
    with pytest.raises(ValueError):
        Hasher(concurrency, max_waiting)
