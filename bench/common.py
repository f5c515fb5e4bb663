"""Small helpers shared by the orchestrator: statistics, /proc readings, ports."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import statistics
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Load generators the harness runs as other programs (Chromium: the scale scenario's board).
# (Anything else started by the harness is found by its parent process.)
CLIENT_COMMANDS = ("wrk", "pgbench", "redis-benchmark", "py-spy")


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


def reset_peak_rss(pid: int) -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class RssPeak:
    """The highest VmRSS of a process, sampled every ``interval`` s in a thread."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = rss_kib(self.pid)
            if rss is not None and rss > self.peak:
                self.peak = rss
            time.sleep(self.interval)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


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


def _proc_times() -> dict[int, tuple[str, int, int, int]]:
    """pid -> (comm, utime, stime, ppid), times in clock ticks, for every process."""
    out: dict[int, tuple[str, int, int, int]] = {}
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
        out[int(name)] = (comm, int(fields[11]), int(fields[12]), int(fields[1]))
    return out


_PG_DATABASE: dict[int, str] = {}


def _postgres_database(pid: int) -> str:
    """The database a PostgreSQL backend serves, from its process title
    ("postgres: 15/main: <user> <database> <client> <state>"); "" for the
    server's own processes (checkpointer, WAL writer, autovacuum...)."""
    if pid not in _PG_DATABASE:
        if len(_PG_DATABASE) > 10_000:
            _PG_DATABASE.clear()
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            title = ""
        parts = title.split(": ", 2)
        words = parts[2].split() if len(parts) == 3 else []
        _PG_DATABASE[pid] = words[1] if len(words) >= 3 and "(" in words[2] else ""
    return _PG_DATABASE[pid]


def neighbours(seconds: float = 1.0, top: int = 8) -> list[dict[str, Any]]:
    """What else is using the machine: the busiest processes over ``seconds``
    that this harness did not start (CPU in cores, and their command line)."""
    me = os.getpid()
    p0 = _proc_times()
    time.sleep(seconds)
    p1 = _proc_times()

    def ours(pid: int) -> bool:
        seen = 0
        while pid > 1 and seen < 64:
            if pid == me:
                return True
            pid = p1.get(pid, ("", 0, 0, 0))[3]
            seen += 1
        return False

    rows = []
    for pid, (comm, u1, s1, _) in p1.items():
        before = p0.get(pid)
        if before is None or before[0] != comm or ours(pid):
            continue
        used = (u1 + s1 - before[1] - before[2]) / CLK_TCK / seconds
        if used >= 0.02:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                cmd = comm
            rows.append({"pid": pid, "cpu": round(used, 2), "cmd": cmd.strip()[:110] or comm})
    return sorted(rows, key=lambda r: -r["cpu"])[:top]


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
    people's jobs on a shared host, including short-lived processes). The
    harness's own children (curl, Chromium, the load generators) count as
    load generators; PostgreSQL backends serving other databases than this
    run's (``databases``) count as "other" (``other_postgres``).
    ``share`` and ``breakdown`` read any wall-clock window afterwards, in
    cores (1.0 = one CPU busy)."""

    def __init__(self, pid: int | None, interval: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, dict[int, tuple[str, int, int, int]], tuple[int, int]]] = []
        self.client_pids: set[int] = set()
        self.labels: dict[int, str] = {}  # other known pids (e.g. the reminder worker)
        self.servers: set[int] = set() if pid is None else {pid}
        # The databases this run uses: backends of any other database are someone else's.
        self.databases: set[str] = set()
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
        """The server to account for from now on (every server so far stays "server")."""
        self.pid = pid
        if pid is not None:
            self.servers.add(pid)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(OSError):
                self.samples.append((time.time(), _proc_times(), _machine_busy()))
            if len(self.samples) > 4000:
                del self.samples[:2000]
            await asyncio.sleep(self.interval)

    def _window(self, start: float, end: float) -> list[Any] | None:
        inside = [s for s in self.samples if start - self.interval / 2 <= s[0] <= end + self.interval / 2]
        return inside if len(inside) >= 2 else None

    def share(self, start: float, end: float) -> float | None:
        """The server's CPU in [start, end], in cores."""
        b = self.breakdown(start, end)
        return None if b is None else b.get("server")

    def breakdown(self, start: float, end: float) -> dict[str, Any] | None:
        """CPU in cores over [start, end] by group, summed over consecutive
        samples, so that processes started within the window (a server,
        Chromium, curl) are counted from their first sample on."""
        inside = self._window(start, end)
        if inside is None or not self.servers:
            return None
        wall = inside[-1][0] - inside[0][0]
        if wall <= 0:
            return None
        me = os.getpid()
        mine: dict[int, bool] = {me: True, 0: False, 1: False}
        others: dict[str, int] = {}
        groups: dict[str, float] = {
            "server": 0.0,
            "server_sys": 0.0,
            "clients": 0.0,
            "postgres": 0.0,
            "redis": 0.0,
            "other": 0.0,
            "other_postgres": 0.0,
        }
        for (_, p0, _), (_, p1, _) in zip(inside, inside[1:], strict=False):

            def descends(pid: int, p1: dict[int, tuple[str, int, int, int]] = p1) -> bool:
                """Whether a process was started (directly or not) by this harness."""
                chain = []
                while pid not in mine:
                    chain.append(pid)
                    entry = p1.get(pid)
                    pid = entry[3] if entry else 0
                for p in chain:
                    mine[p] = mine[pid]
                return mine[pid]

            for pid, (comm, u1, s1, _) in p1.items():
                before = p0.get(pid)
                if before is None or before[0] != comm:
                    continue
                used = (u1 - before[1]) + (s1 - before[2])
                if used <= 0:
                    continue
                if pid in self.servers:
                    groups["server"] += used
                    groups["server_sys"] += s1 - before[2]
                elif pid in self.labels:
                    groups[self.labels[pid]] = groups.get(self.labels[pid], 0.0) + used
                elif pid in self.client_pids or comm in CLIENT_COMMANDS or descends(pid):
                    groups["clients"] += used
                elif comm == "postgres":
                    database = _postgres_database(pid)
                    if database and database not in self.databases:
                        groups["other_postgres"] += used
                        others["postgres (other databases)"] = others.get("postgres (other databases)", 0) + used
                    else:
                        groups["postgres"] += used
                elif comm.startswith("redis-server"):
                    groups["redis"] += used
                else:
                    groups["other"] += used
                    others[comm] = others.get(comm, 0) + used
        m0, m1 = inside[0][2], inside[-1][2]
        out: dict[str, Any] = {k: round(v / CLK_TCK / wall, 3) for k, v in groups.items()}
        out["other_top"] = [
            [c, round(v / CLK_TCK / wall, 3)] for c, v in sorted(others.items(), key=lambda kv: -kv[1])[:4]
        ]
        busy = (m1[0] - m0[0]) / CLK_TCK / wall
        out["machine"] = round(busy, 3)
        # "other" is the rest of the machine's busy time: it includes processes
        # too short-lived to be seen in two samples (test suites, browsers...)
        known = sum(
            v for k, v in out.items() if k not in ("other", "server_sys", "machine", "other_top", "other_postgres")
        )
        out["other_seen"] = out["other"]
        out["other"] = round(max(0.0, busy - known), 3)
        return out
