"""The orchestrator's side of the load-generating processes (bench/loadgen.py)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import orjson

from .common import ROOT


class LoadGen:
    """One ``python -m bench.loadgen`` process, driven line by line."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls, name: str) -> LoadGen:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.loadgen",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            limit=1 << 28,
        )
        return cls(proc, name)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def call(self, op: str, timeout: float = 120.0, **args: Any) -> dict[str, Any]:
        async with self._lock:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(orjson.dumps({"op": op, **args}) + b"\n")
            await self.proc.stdin.drain()
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"load generator {self.name} exited (code {self.proc.returncode})")
        result = orjson.loads(line)
        if not result.get("ok"):
            raise RuntimeError(f"load generator {self.name}: {op} failed: {result.get('error')}")
        return result

    async def stop(self) -> None:
        if self.proc.returncode is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(b'{"op":"exit"}\n')
                await self.proc.stdin.drain()
                await asyncio.wait_for(self.proc.wait(), 10)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                self.proc.kill()
                await self.proc.wait()


class Clients:
    """A group of load generators used together (sockets spread evenly)."""

    def __init__(self, gens: list[LoadGen]) -> None:
        self.gens = gens

    @classmethod
    async def start(cls, count: int, prefix: str = "client") -> Clients:
        return cls(list(await asyncio.gather(*(LoadGen.start(f"{prefix}{i}") for i in range(count)))))

    def split(self, n: int) -> list[int]:
        k = len(self.gens)
        return [n // k + (1 if i < n % k else 0) for i in range(k)]

    async def all(
        self, op: str, per_gen: list[dict[str, Any]] | None = None, timeout: float = 180.0, **args: Any
    ) -> list[dict[str, Any]]:
        per_gen = per_gen or [{} for _ in self.gens]
        return list(
            await asyncio.gather(
                *(g.call(op, timeout=timeout, **args, **extra) for g, extra in zip(self.gens, per_gen, strict=True))
            )
        )

    async def connect(
        self, n: int, port: int, path: str, parallel: int = 32, timeout: float = 30, deadline: float = 120
    ) -> dict[str, Any]:
        """Open ``n`` more sockets in total, spread over the processes."""
        shares = self.split(n)
        results = await self.all(
            "connect",
            [{"n": s} for s in shares],
            timeout=deadline + 60,
            port=port,
            path=path,
            parallel=parallel,
            timeout_s=timeout,
            deadline=deadline,
        )
        errors: dict[str, int] = {}
        for r in results:
            for k, v in r["errors"].items():
                errors[k] = errors.get(k, 0) + v
        return {
            "connected": sum(r["connected"] for r in results),
            "failed": sum(r["failed"] for r in results),
            "open": sum(r["open"] for r in results),
            "seconds": max(r["seconds"] for r in results),
            "errors": errors,
        }

    async def close_all(self) -> None:
        await self.all("close_all")

    async def stop(self) -> None:
        await asyncio.gather(*(g.stop() for g in self.gens))
