"""Observation-due reminders with real worker processes on real PostgreSQL
and Redis: fired once, pushed live, taken over after a dead worker's lease,
moved by newer reports."""

from __future__ import annotations

import datetime as dt
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest

from ..helpers import PATIENT, create_patient, create_report, next_frame
from ..servers import Process, server, service_env, spawn, wait_until

pytestmark = pytest.mark.slow


@contextmanager
def worker(settings: Any, **env: str) -> Iterator[Process]:
    with spawn([sys.executable, "-m", "service", "worker"], service_env(settings, **env), "worker") as process:
        wait_until(lambda: "reminder worker" in process.log() and "started" in process.log(), 15, "the worker to start")
        yield process


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def due_in(seconds: float, interval_hours: int = 1) -> str:
    """A report time whose reminder (time + interval) falls due in ``seconds``."""
    return iso(dt.datetime.now(dt.UTC) - dt.timedelta(hours=interval_hours) + dt.timedelta(seconds=seconds))


def observation_due(sql: Any) -> list[tuple[Any, ...]]:
    return sql("SELECT patient, report FROM notifications WHERE type = 'observation_due' ORDER BY id")


async def test_reminder_due_in_a_second_fires_once_and_reaches_a_client(settings, alice, sql) -> None:
    with server(settings) as srv, worker(settings) as w:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(f"ws://127.0.0.1:{srv.port}/ws/?token={alice.token}") as ws,
        ):
            async with http.post(f"{srv.url}/api/patients/", json=PATIENT, headers=alice.headers) as resp:
                patient = await resp.json()
            body = {"patient": patient["id"], "time": due_in(1.0), "status": "febrile", "monitoring_interval": 1}
            async with http.post(f"{srv.url}/api/reports/", json=body, headers=alice.headers) as resp:
                report = await resp.json()
            frame = await next_frame(ws, lambda f: f["stream"] == "notifications", timeout=15)
            note = frame["payload"]["data"]
            assert frame["payload"]["action"] == "notification"
            assert (note["type"], note["patient"], note["report"]) == ("observation_due", patient["id"], report["id"])
            assert "Observation due for Cy Ng (every 1 h)" in note["message"]
        assert sql("SELECT fired_at IS NOT NULL FROM reminders WHERE patient = %s", (patient["id"],)) == [(True,)]
        assert observation_due(sql) == [(patient["id"], report["id"])]
        wait_until(lambda: "reminder fired" in w.log(), 15, "the log line")  # written after the commit
        assert w.log().count("reminder fired") == 1


async def test_two_workers_fire_each_due_reminder_exactly_once(client, settings, alice, sql) -> None:
    patients = [await create_patient(client, alice, first_name=f"P{i}") for i in range(30)]
    past_due = iso(dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))  # fires at once
    for patient in patients:
        await create_report(client, alice, patient["id"], time=past_due, monitoring_interval=1)
    with worker(settings) as first, worker(settings) as second:
        wait_until(
            lambda: sql("SELECT count(*) FROM reminders WHERE fired_at IS NULL") == [(0,)], 20, "every reminder to fire"
        )
        # Each worker logs what it fired after its commit.
        wait_until(lambda: (first.log() + second.log()).count("reminder fired") >= 30, 15, "the log lines")
        logs = first.log() + second.log()
    fired = observation_due(sql)
    assert sorted(p for p, _ in fired) == sorted(p["id"] for p in patients)
    assert logs.count("reminder fired") == 30


async def test_a_killed_workers_task_is_taken_over_after_its_lease(client, settings, alice, sql) -> None:
    patient = await create_patient(client, alice)
    await create_report(client, alice, patient["id"], time=due_in(-1), monitoring_interval=1)
    with worker(settings, REMINDER_LEASE_SECONDS="2", REMINDER_TEST_HOLD_CLAIM_SECONDS="60") as doomed:
        wait_until(lambda: sql("SELECT locked_by FROM reminders")[0][0] is not None, 15, "the claim")
        ((holder, lease_end),) = sql("SELECT locked_by, locked_until FROM reminders")
        doomed.proc.send_signal(signal.SIGKILL)
        doomed.proc.wait(5)
    assert holder.endswith(f":{doomed.proc.pid}")
    assert observation_due(sql) == []
    with worker(settings, REMINDER_LEASE_SECONDS="2") as rescuer:
        wait_until(lambda: len(observation_due(sql)) == 1, 15, "the takeover")
        wait_until(lambda: "reminder fired" in rescuer.log(), 15, "the log line")  # written after the commit
    ((fired_at, attempts, locked_by),) = sql("SELECT fired_at, attempts, locked_by FROM reminders")
    assert fired_at >= lease_end and attempts == 2 and locked_by is None
    assert len(observation_due(sql)) == 1


async def test_a_newer_report_moves_the_reminder(client, settings, alice, sql) -> None:
    patient = await create_patient(client, alice)
    with worker(settings) as w:
        older = await create_report(client, alice, patient["id"], time=due_in(1.5), monitoring_interval=1)
        newer = await create_report(client, alice, patient["id"], time=due_in(3.0), monitoring_interval=1)
        wait_until(lambda: observation_due(sql) != [], 15, "the moved reminder to fire")
        wait_until(lambda: "reminder fired" in w.log(), 15, "the log line")  # written after the commit
        assert w.log().count("reminder fired") == 1
    assert observation_due(sql) == [(patient["id"], newer["id"])]
    assert older["id"] != newer["id"]


async def test_schedule_follows_reports_and_dismissal(client, alice, sql) -> None:
    patient = await create_patient(client, alice)
    first = await create_report(client, alice, patient["id"], time="2024-05-03T08:00:00Z", monitoring_interval=4)
    second = await create_report(client, alice, patient["id"], time="2024-05-03T10:00:00Z", monitoring_interval=6)

    def reminder() -> list[tuple[Any, ...]]:
        return sql("SELECT report, to_char(run_at AT TIME ZONE 'UTC', 'HH24:MI') FROM reminders")

    assert reminder() == [(second["id"], "16:00")]
    # an older report edited: the latest still decides
    await client.patch(f"/api/reports/{first['id']}/", json={"monitoring_interval": 1}, headers=alice.headers)
    assert reminder() == [(second["id"], "16:00")]
    # the latest deleted: back to the remaining latest report
    await client.delete(f"/api/reports/{second['id']}/", headers=alice.headers)
    assert reminder() == [(first["id"], "09:00")]
    # dismissed: no reminder; admitted again: back
    await client.patch(
        f"/api/patients/{patient['id']}/", json={"dismissal_date": "2024-05-04T08:00:00Z"}, headers=alice.headers
    )
    assert reminder() == []
    await client.patch(f"/api/patients/{patient['id']}/", json={"dismissal_date": None}, headers=alice.headers)
    assert reminder() == [(first["id"], "09:00")]
    # no report left: none
    await client.delete(f"/api/reports/{first['id']}/", headers=alice.headers)
    assert reminder() == []
    # the patient deleted: reminders and notifications go with them
    await create_report(client, alice, patient["id"], warning_signs="pain")
    await client.delete(f"/api/patients/{patient['id']}/", headers=alice.headers)
    assert reminder() == [] and sql("SELECT count(*) FROM notifications") == [(0,)]
