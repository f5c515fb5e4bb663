"""``python -m service dev`` (scripts/run): one reminder worker beside the
server, started again whenever it exits, with back-off.

The worker runs in a session of its own, so a Ctrl-C in the terminal stops
the server, which then stops the worker; any other exit of the worker (a
crash, a kill) is followed by a restart after 1 s, doubling to 30 s while it
keeps exiting within a minute of its start.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time

log = logging.getLogger("service.worker")
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 30.0
# A worker that ran this long before it exited is restarted after the first delay again.
STABLE_SECONDS = 60.0


class Supervisor:
    def __init__(self, argv: list[str] | None = None) -> None:
        self.argv = argv or [sys.executable, "-m", "service", "worker"]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        delay = FIRST_DELAY_SECONDS
        while True:
            with self._lock:
                if self._stop.is_set():
                    return
                self._process = subprocess.Popen(self.argv, start_new_session=True)
                process = self._process
            started = time.monotonic()
            code = process.wait()
            if self._stop.is_set():
                return
            if time.monotonic() - started >= STABLE_SECONDS:
                delay = FIRST_DELAY_SECONDS
            log.error("the reminder worker exited (status %s); starting it again in %.0fs", code, delay)
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, MAX_DELAY_SECONDS)

    def stop(self, timeout: float = 15.0) -> None:
        with self._lock:
            self._stop.set()
            process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
