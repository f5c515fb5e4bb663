"""``python -m service dev`` (what scripts/run runs): the reminder worker
beside the server is started again when it exits, and stopped with it."""

from __future__ import annotations

import os
import re
import signal
import sys

import pytest

from ..servers import _http_ok, free_port, service_env, spawn, wait_until

pytestmark = pytest.mark.slow


def worker_pids(log: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"reminder worker [^\s:]+:(\d+) started", log)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_dev_restarts_a_worker_that_died_and_stops_it_on_exit(settings) -> None:
    port = free_port()
    env = service_env(settings, HOST="127.0.0.1", PORT=str(port))
    with spawn([sys.executable, "-m", "service", "dev"], env, "dev") as dev:
        wait_until(lambda: _http_ok(f"http://127.0.0.1:{port}/healthz"), 20, "the server")
        wait_until(lambda: len(worker_pids(dev.log())) == 1, 20, "the worker")
        (first,) = worker_pids(dev.log())
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: len(worker_pids(dev.log())) == 2, 20, "a new worker")
        assert "the reminder worker exited (status -9); starting it again in 1s" in dev.log()
        second = worker_pids(dev.log())[1]
        assert second != first and alive(second)
        dev.proc.send_signal(signal.SIGTERM)
        assert dev.proc.wait(20) == 0, dev.log()
        # the server waited for its worker to stop
        assert not alive(second)
        assert re.search(rf"reminder worker [^\s:]+:{second} stopped", dev.log()), dev.log()
