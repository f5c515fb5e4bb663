"""Small helpers shared by the orchestrator: statistics, /proc readings, ports."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import statistics
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted sequence (None if empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize_ms(values_us: Iterable[float]) -> dict[str, float | int | None]:
    """count, p50, p99, max in milliseconds from microsecond samples."""
    values = sorted(values_us)
    ms = lambda v: None if v is None else round(v / 1000.0, 3)  # noqa: E731
    return {
        "count": len(values),
        "p50_ms": ms(percentile(values, 50)),
        "p90_ms": ms(percentile(values, 90)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(values[-1] if values else None),
    }


def median(values: Iterable[Any]) -> Any:
    vals = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not vals:
        return None
    return statistics.median(vals)


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB (None when it is gone or unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def open_files_limit(pid: int) -> int | None:
    """The soft 'Max open files' of a process."""
    try:
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        return None
    return None


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def _proc_times() -> dict[int, tuple[str, int, int]]:
    """pid -> (comm, utime, stime) in clock ticks, for every process."""
    out: dict[int, tuple[str, int, int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        head, _, rest = raw.rpartition(b")")
        comm = head.partition(b"(")[2].decode(errors="replace")
        fields = rest.split()
        out[int(name)] = (comm, int(fields[11]), int(fields[12]))
    return out


def _machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        cols = [int(x) for x in f.readline().split()[1:]]
    idle = cols[3] + (cols[4] if len(cols) > 4 else 0)
    total = sum(cols[:8])
    return total - idle, total


class CpuSampler:
    """Samples, every ``interval`` s in the background, the server's CPU
    (user and system) and the whole machine's, split by who used it:
    server, load generators (clients, wrk, pgbench, this orchestrator),
    postgres, redis and "other": the rest of the machine's busy time (other
    people's jobs on a shared host, including short-lived processes). ``share`` and ``breakdown`` read any
    wall-clock window afterwards, in cores (1.0 = one CPU busy)."""

    def __init__(self, pid: int | None, interval: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, dict[int, tuple[str, int, int]], tuple[int, int]]] = []
        self.client_pids: set[int] = set()
        self.labels: dict[int, str] = {}  # other known pids (e.g. the reminder worker)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def retarget(self, pid: int | None) -> None:
        self.pid = pid

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(OSError):
                self.samples.append((time.time(), _proc_times(), _machine_busy()))
            if len(self.samples) > 4000:
                del self.samples[:2000]
            await asyncio.sleep(self.interval)

    def _window(self, start: float, end: float) -> tuple[Any, Any] | None:
        inside = [s for s in self.samples if start - self.interval / 2 <= s[0] <= end + self.interval / 2]
        if len(inside) < 2:
            return None
        return inside[0], inside[-1]

    def share(self, start: float, end: float) -> float | None:
        """The server's CPU in [start, end], in cores."""
        b = self.breakdown(start, end)
        return None if b is None else b.get("server")

    def breakdown(self, start: float, end: float) -> dict[str, Any] | None:
        w = self._window(start, end)
        if w is None or self.pid is None:
            return None
        (t0, p0, m0), (t1, p1, m1) = w
        wall = t1 - t0
        if wall <= 0:
            return None
        me = os.getpid()
        others: dict[str, int] = {}
        groups: dict[str, float] = {
            "server": 0.0,
            "server_sys": 0.0,
            "clients": 0.0,
            "postgres": 0.0,
            "redis": 0.0,
            "other": 0.0,
        }
        for pid, (comm, u1, s1) in p1.items():
            before = p0.get(pid)
            if before is None or before[0] != comm:
                continue
            used = (u1 - before[1]) + (s1 - before[2])
            if used <= 0:
                continue
            if pid == self.pid:
                groups["server"] += used
                groups["server_sys"] += s1 - before[2]
            elif pid in self.labels:
                groups[self.labels[pid]] = groups.get(self.labels[pid], 0.0) + used
            elif pid in self.client_pids or pid == me or comm in ("wrk", "pgbench", "redis-benchmark", "py-spy"):
                groups["clients"] += used
            elif comm == "postgres":
                groups["postgres"] += used
            elif comm.startswith("redis-server"):
                groups["redis"] += used
            else:
                groups["other"] += used
                others[comm] = others.get(comm, 0) + used
        out: dict[str, Any] = {k: round(v / CLK_TCK / wall, 3) for k, v in groups.items()}
        out["other_top"] = [
            [c, round(v / CLK_TCK / wall, 3)] for c, v in sorted(others.items(), key=lambda kv: -kv[1])[:4]
        ]
        busy = (m1[0] - m0[0]) / CLK_TCK / wall
        out["machine"] = round(busy, 3)
        # "other" is the rest of the machine's busy time: it includes processes
        # too short-lived to be seen in two samples (test suites, browsers...)
        known = sum(v for k, v in out.items() if k not in ("other", "server_sys", "machine", "other_top"))
        out["other_seen"] = out["other"]
        out["other"] = round(max(0.0, busy - known), 3)
        return out
