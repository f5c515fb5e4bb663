"""Optional py-spy profiles of the server process during measured windows
(``--profile``): raw collapsed stacks per scenario, and a top-functions summary."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


IDLE_LEAVES = ("_worker (concurrent/futures/thread.py",)
IDLE_WAIT = "concurrent/futures/thread.py:81)"  # work_queue.get(block=True)


def summarize(raw: Path, top: int = 15) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's raw output."""
    self_counts: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames[-1].startswith(IDLE_LEAVES) or any(IDLE_WAIT in f for f in frames):
            continue  # an idle thread-pool thread (waiting for work) that py-spy counts as busy
        total += n
        self_counts[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    pct = lambda c: round(100.0 * c / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "self": [[f, pct(c)] for f, c in self_counts.most_common(top)],
        "inclusive": [[f, pct(c)] for f, c in incl.most_common(top * 2)],
    }


class Profiler:
    def __init__(self, pid_of: Any, outdir: Path, rate: int = 99, native: bool = False) -> None:
        self.native = native
        self.pid_of = pid_of  # callable: the current server pid
        self.outdir = outdir
        self.rate = rate
        self.exe = py_spy()
        self.summaries: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._name = ""

    def begin(self, name: str, duration: float, delay: float = 0.0) -> None:
        if self.exe is None or self.pid_of() is None:
            return
        self._name = name
        self._task = asyncio.get_running_loop().create_task(self._record(name, duration, delay))

    async def _record(self, name: str, duration: float, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        self.outdir.mkdir(parents=True, exist_ok=True)
        raw = self.outdir / f"{name}.txt"
        proc = await asyncio.create_subprocess_exec(
            self.exe,
            "record",
            "--pid",
            str(self.pid_of()),
            "--duration",
            str(max(1, int(duration))),
            "--rate",
            str(self.rate),
            "--format",
            "raw",
            "--output",
            str(raw),
            *(["--native"] if self.native else []),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await proc.wait()
        if raw.exists():
            self.summaries[name] = {"file": str(raw), "seconds": duration, "rate": self.rate, **summarize(raw)}

    async def end(self) -> None:
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._task, 60)
            self._task = None
