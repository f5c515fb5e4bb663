"""REST scenarios through wrk (bench/wrk/bench.lua)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import time
from typing import Any

import orjson

from .common import BENCH_DIR, CpuSampler
from .target import Target

LUA = BENCH_DIR / "wrk" / "bench.lua"
MODES = ("list", "retrieve", "create", "patch")
APT_HINT = "wrk is missing: install it with  apt-get install -y wrk  (Debian/Ubuntu package 'wrk')"


def check_wrk() -> str | None:
    """None when wrk is installed, else the message to print."""
    return None if shutil.which("wrk") else APT_HINT


async def wrk(
    target: Target, mode: str, connections: int, seconds: float, env_extra: dict[str, str], threads: int
) -> dict[str, Any]:
    path = "/api/reports/" if mode == "create" else "/api/patients/"
    # wrk takes whole seconds only
    args = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"{target.base_url}{path}",
    ]
    env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_TOKEN": target.token,
        "BENCH_IDS": ",".join(map(str, target.patient_ids)),
        **env_extra,
    }
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), seconds + 60)
    text = out.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("BENCH_JSON "):
            return {"raw": orjson.loads(line[len("BENCH_JSON ") :]), "text": text}
    raise RuntimeError(f"wrk gave no result (exit {proc.returncode}):\n{text}")


async def run(
    target: Target, cpu: CpuSampler, concurrencies: list[int], warmup: float, duration: float, profiler: Any = None
) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    env = {"BENCH_TIME": now.isoformat().replace("+00:00", "Z")}
    results: dict[str, Any] = {}
    for mode in MODES:
        for conns in concurrencies:
            threads = 1 if conns <= 16 else 2
            if warmup > 0:
                await wrk(target, mode, conns, warmup, env, threads)
            name = f"rest_{mode}_c{conns}"
            if profiler:
                profiler.begin(name, duration)
            t0 = time.time()
            res = await wrk(target, mode, conns, duration, env, threads)
            t1 = time.time()
            if profiler:
                await profiler.end()
            raw = res["raw"]
            e = raw["errors"]
            seconds = raw["duration_us"] / 1e6
            socket_errors = e["connect"] + e["read"] + e["write"] + e["timeout"]
            results[name] = {
                "mode": mode,
                "connections": conns,
                "threads": threads,
                "seconds": round(seconds, 3),
                "requests": raw["requests"],
                "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
                "p50_ms": round(raw["latency_us"]["p50"] / 1000, 3),
                "p90_ms": round(raw["latency_us"]["p90"] / 1000, 3),
                "p99_ms": round(raw["latency_us"]["p99"] / 1000, 3),
                "max_ms": round(raw["latency_us"]["max"] / 1000, 3),
                "non_2xx": e["status"],
                "socket_errors": socket_errors,
                "errors": e["status"] + socket_errors,
                "error_detail": e,
                "server_cpu": cpu.share(t0, t1),
                "cpu": cpu.breakdown(t0, t1),
            }
            r, b = results[name], results[name]["cpu"] or {}
            if r["rps"] and b:  # CPU per request: where the 2 cores go
                r["server_cpu_ms_per_req"] = round(1000 * b["server"] / r["rps"], 3)
                r["postgres_cpu_ms_per_req"] = round(1000 * b["postgres"] / r["rps"], 3)
            print(
                f"  {name:<22} {results[name]['rps']:>9.1f} req/s  p50 {results[name]['p50_ms']:>8.2f} ms"
                f"  p99 {results[name]['p99_ms']:>8.2f} ms  errors {results[name]['errors']}"
                f"  CPU {results[name]['cpu']}",
                flush=True,
            )
    return results
