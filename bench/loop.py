"""The loop scenario (issue 16): what serving on asyncio's own event loop
costs against uvloop.

The service runs on asyncio's loop because aiopg under uvloop answered a
PostgreSQL restart with 500s (aio-libs/aiopg#909). This measures the price.

A fresh database ``dengue_bench_loop`` (migrated with yoyo) gets a staff
user with a session (written in SQL) and 100 patients. Two server
processes serve it, started together: ``python -m service serve`` (asyncio)
and the same under ``uvloop.install()``; while one is measured the other
idles. A/B interleaved for ``rounds`` rounds, the order swapped every round
(A B, B A, ...), each loop in turn gets the same workload:

- wrk, 16 connections, 1 thread: GET /api/patients/ (the 100), GET
  /api/patients/<id>/, POST /api/reports/ (bench/wrk/bench.lua's list,
  retrieve and create modes; a warm-up window, then the measured one);
- fan-out: ``fanout`` sockets (of the one user: WS_MAX_SOCKETS_PER_USER is
  raised to fit), one PATCH every 100 ms (the fan-out scenario of
  bench/realtime.py).

Figures per loop: medians over the rounds of req/s and p99 (wrk) and of the
fan-out's p50/p99 delay; the ratios asyncio / uvloop.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg2

from service.auth.passwords import hash_password
from service.auth.sessions import key_hash

from . import realtime, rest
from .clients import Clients, LoadGen
from .common import CpuSampler
from .target import Managed, Target, fresh_database, insert_patients

DATABASE = "dengue_bench_loop"
LOOPS = ("asyncio", "uvloop")
SERVE = {
    "asyncio": [sys.executable, "-m", "service", "serve"],
    "uvloop": [
        sys.executable,
        "-c",
        "import sys, uvloop; uvloop.install(); from service.__main__ import main; sys.exit(main(['serve']))",
    ],
}
WRK_MODES = ("list", "retrieve", "create")
CONNECTIONS = 16


def prepare(admin_url: str) -> tuple[str, str, list[int]]:
    """The database URL, the staff user's session key, the patients."""
    url = fresh_database(admin_url, DATABASE)
    key = secrets.token_hex(20)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO users (username, password, is_staff, is_superuser) VALUES ('bench', %s, true, true)"
                " RETURNING id",
                (hash_password(secrets.token_urlsafe(18)),),
            )
            (uid,) = cur.fetchone()
            cur.execute("INSERT INTO auth_sessions (key_hash, user_id) VALUES (%s, %s)", (key_hash(key), uid))
            ids = insert_patients(cur)
    finally:
        conn.close()
    return url, key, ids


async def _measure(
    target: Target,
    cpu: CpuSampler | None,
    clients: Clients,
    writer: LoadGen,
    fanout: int,
    warmup: float,
    duration: float,
) -> dict[str, Any]:
    env = {"BENCH_TIME": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out: dict[str, Any] = {}
    for mode in WRK_MODES:
        if warmup > 0:
            await rest.wrk(target, mode, CONNECTIONS, warmup, env, 1)
        t0 = time.time()
        res = await rest.wrk(target, mode, CONNECTIONS, duration, env, 1)
        raw, e = res["raw"], res["raw"]["errors"]
        seconds = raw["duration_us"] / 1e6
        out[mode] = {
            "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
            "p50_ms": round(raw["latency_us"]["p50"] / 1000, 3),
            "p99_ms": round(raw["latency_us"]["p99"] / 1000, 3),
            "errors": e["status"] + e["connect"] + e["read"] + e["write"] + e["timeout"],
            "cpu": cpu.breakdown(t0, time.time()) if cpu else None,
        }
    fan = await realtime.fanout(target, clients, writer, cpu or CpuSampler(None), [fanout], warmup, duration)
    f = fan[f"fanout_n{fanout}"]
    out["fanout"] = {
        k: f.get(k) for k in ("subscribers", "p50_ms", "p99_ms", "max_ms", "delivered", "expected", "server_cpu")
    }
    return out


def _median(rounds: list[dict[str, Any]], loop: str, section: str, key: str) -> float | None:
    values = [r[loop][section][key] for r in rounds if r[loop][section].get(key) is not None]
    return round(statistics.median(values), 3) if values else None


async def run(
    admin_url: str,
    redis_url: str,
    logdir: Path,
    extra_env: dict[str, str],
    cpu: CpuSampler | None,
    rounds: int = 3,
    fanout: int = 1000,
    client_procs: int = 4,
    warmup: float = 2.0,
    duration: float = 10.0,
) -> dict[str, Any]:
    url, key, ids = await asyncio.to_thread(prepare, admin_url)
    # one user holds every fan-out socket
    env = {"WS_MAX_SOCKETS_PER_USER": str(fanout + 50), **extra_env}
    servers = {loop: Managed(admin_url, redis_url, logdir / f"loop-{loop}", env) for loop in LOOPS}
    clients: Clients | None = None
    writer: LoadGen | None = None
    old_pid = cpu.pid if cpu else None
    if cpu:
        cpu.databases.add(DATABASE)
    try:
        targets: dict[str, Target] = {}
        for loop, managed in servers.items():
            managed.attach(url)
            managed.serve = SERVE[loop]
            managed.channel += f"-{loop}"  # neither server hears the other's events
            pid = await asyncio.to_thread(managed.start_server)
            targets[loop] = Target(f"http://127.0.0.1:{managed.port}", token=key, server_pid=pid, patient_ids=ids)
        clients = await Clients.start(client_procs, prefix="loop")
        writer = await LoadGen.start("loop-writer")
        if cpu:
            cpu.client_pids.update([g.pid for g in clients.gens] + [writer.pid])
        results: list[dict[str, Any]] = []
        for rnd in range(rounds):
            order = LOOPS if rnd % 2 == 0 else LOOPS[::-1]
            one: dict[str, Any] = {"order": list(order)}
            for loop in order:
                target = targets[loop]
                if cpu:
                    cpu.retarget(target.server_pid)
                one[loop] = await _measure(target, cpu, clients, writer, fanout, warmup, duration)
                m = one[loop]
                print(
                    f"  round {rnd + 1} {loop:<8} list {m['list']['rps']:>7.1f} req/s (p99 {m['list']['p99_ms']} ms)"
                    f"  retrieve {m['retrieve']['rps']:>7.1f} (p99 {m['retrieve']['p99_ms']})"
                    f"  create {m['create']['rps']:>6.1f} (p99 {m['create']['p99_ms']})"
                    f"  fan-out {fanout}: p50 {m['fanout']['p50_ms']} ms p99 {m['fanout']['p99_ms']} ms",
                    flush=True,
                )
            results.append(one)
        medians: dict[str, Any] = {}
        for loop in LOOPS:
            medians[loop] = {
                **{f"{mode}_{k}": _median(results, loop, mode, k) for mode in WRK_MODES for k in ("rps", "p99_ms")},
                "fanout_p50_ms": _median(results, loop, "fanout", "p50_ms"),
                "fanout_p99_ms": _median(results, loop, "fanout", "p99_ms"),
                "errors": sum(r[loop][mode]["errors"] for r in results for mode in WRK_MODES),
            }
        a, b = medians["asyncio"], medians["uvloop"]
        ratios = {k: round(a[k] / b[k], 3) for k in a if k != "errors" and a[k] and b[k]}
        return {
            "rounds": rounds,
            "connections": CONNECTIONS,
            "fanout": fanout,
            "window_s": duration,
            "results": results,
            "medians": medians,
            "ratios": ratios,  # asyncio / uvloop: req/s below 1 and delays above 1 mean asyncio is slower
        }
    finally:
        if clients:
            await clients.stop()
        if writer:
            await writer.stop()
        for managed in servers.values():
            managed.close()
        if cpu:
            cpu.retarget(old_pid)
