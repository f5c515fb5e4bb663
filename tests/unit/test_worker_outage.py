"""The reminder worker's back-off and outage log lines (service/reminders/worker.py)."""

from __future__ import annotations

import logging

import psycopg2
import pytest

from service.reminders.worker import Outage, describe, is_outage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_back_off_doubles_up_to_the_cap_and_starts_again_after_recovery() -> None:
    outage = Outage(5.0, Clock())
    down = psycopg2.OperationalError("connection refused")
    assert [outage.failed(down) for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    outage.recovered()
    assert outage.failed(down) == 0.5
    assert Outage(0.2, Clock()).failed(down) == 0.2


def test_logs_the_first_failure_then_once_a_minute_then_the_recovery(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    outage = Outage(5.0, clock)
    down = psycopg2.OperationalError("server closed the connection unexpectedly\n\tThis probably means ...")
    with caplog.at_level(logging.INFO, logger="service.worker"):
        for _ in range(150):  # five minutes of attempts every 2 s
            outage.failed(down)
            clock.now += 2.0
        outage.recovered()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines[0] == (
        "ERROR",
        "database unavailable (OperationalError: server closed the connection unexpectedly); "
        "retrying with back-off up to 5.0s",
    )
    assert caplog.records[0].exc_info is None  # an outage, not a bug: no traceback
    still = [message for level, message in lines if level == "WARNING"]
    assert still == [
        f"database still unavailable for {s}s ({s // 2 + 1} attempts; OperationalError: server closed "
        "the connection unexpectedly)"
        for s in (60, 120, 180, 240)
    ]
    assert lines[-1] == ("INFO", "database available again after 300s (150 failed attempts): firing what fell due")
    assert len(lines) == 6


def test_a_bug_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise KeyError("seconds")
    except KeyError as exc:
        bug = exc
    with caplog.at_level(logging.ERROR, logger="service.worker"):
        Outage(5.0, Clock()).failed(bug)
    assert caplog.records[0].exc_info is not None


def test_what_counts_as_an_outage() -> None:
    assert is_outage(psycopg2.OperationalError("x"))
    assert is_outage(ConnectionRefusedError())
    assert is_outage(TimeoutError())
    wrapped = RuntimeError("database unavailable")
    wrapped.__cause__ = psycopg2.InterfaceError("connection already closed")
    assert is_outage(wrapped)
    assert not is_outage(RuntimeError("unable to perform operation"))
    assert describe(RuntimeError("")) == "RuntimeError"
    assert describe(psycopg2.OperationalError("first\nsecond")) == "OperationalError: first"
