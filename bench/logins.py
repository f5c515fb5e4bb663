"""The logins scenario (issue 11): what a burst of logins costs a process.

A fresh database ``dengue_bench_logins`` (migrated with yoyo) gets
``parallel`` users with one argon2 hash of a shared password (written in
SQL), a reader user with a session, and 100 patients; one server process is
started on it with the default PASSWORD_HASH_CONCURRENCY (cores - 1, at most 2)
and PASSWORD_HASH_QUEUE (32).

Then, A/B interleaved for ``rounds`` rounds:

- A: wrk (16 connections, 1 thread, bench/wrk/bench.lua in "list" mode)
  runs GET /api/patients/ (the 100) for ``window`` s alone;
- B: the same while a load generator process sends waves of ``parallel``
  logins at once (POST /rest-auth/login/, one connection each), one wave
  after the other for the whole window.

Figures: wrk's p50 in A and B (and their ratio, on the medians over the
rounds), the server's RSS before the first login and its peak during the B
windows (VmRSS sampled every 5 ms, and VmHWM after a reset), the logins'
statuses (503 = the hashing queue was full) and latencies.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg2

from service.auth.passwords import hash_password
from service.auth.sessions import key_hash

from . import rest
from .clients import LoadGen
from .common import CpuSampler, RssPeak, peak_rss_kib, reset_peak_rss, rss_kib, summarize_ms
from .target import Managed, Target, fresh_database, insert_patients

DATABASE = "dengue_bench_logins"
KIB_PER_MIB = 1024


def prepare(admin_url: str, users: int) -> tuple[str, str, str, list[int]]:
    """The database URL, the shared password, the reader's session key, the patients."""
    url = fresh_database(admin_url, DATABASE)
    password = secrets.token_urlsafe(18)
    hashed = hash_password(password)
    reader = secrets.token_hex(20)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO users (username, password) SELECT 'login-' || i, %s FROM generate_series(1, %s) i",
                (hashed, users),
            )
            cur.execute(
                "INSERT INTO users (username, password, is_staff) VALUES ('reader', %s, true) RETURNING id", (hashed,)
            )
            (uid,) = cur.fetchone()
            cur.execute("INSERT INTO auth_sessions (key_hash, user_id) VALUES (%s, %s)", (key_hash(reader), uid))
            ids = insert_patients(cur)
    finally:
        conn.close()
    return url, password, reader, ids


def _wrk_p50(res: dict[str, Any]) -> dict[str, Any]:
    raw = res["raw"]
    e = raw["errors"]
    seconds = raw["duration_us"] / 1e6
    return {
        "p50_ms": round(raw["latency_us"]["p50"] / 1000, 3),
        "p99_ms": round(raw["latency_us"]["p99"] / 1000, 3),
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "errors": e["status"] + e["connect"] + e["read"] + e["write"] + e["timeout"],
    }


async def run(
    admin_url: str,
    redis_url: str,
    logdir: Path,
    extra_env: dict[str, str],
    cpu: CpuSampler | None,
    parallel: int = 40,
    rounds: int = 3,
    window: float = 5.0,
    connections: int = 16,
) -> dict[str, Any]:
    url, password, reader, ids = await asyncio.to_thread(prepare, admin_url, parallel)
    managed = Managed(admin_url, redis_url, logdir / "logins", extra_env)
    managed.attach(url)
    gen: LoadGen | None = None
    old_pid = cpu.pid if cpu else None
    if cpu:
        cpu.databases.add(DATABASE)
    try:
        pid = await asyncio.to_thread(managed.start_server)
        if cpu:
            cpu.retarget(pid)
        target = Target(f"http://127.0.0.1:{managed.port}", token=reader, server_pid=pid, patient_ids=ids)
        gen = await LoadGen.start("logins")
        if cpu:
            cpu.client_pids.add(gen.pid)
        credentials = [{"username": f"login-{i}", "password": password} for i in range(1, parallel + 1)]
        await rest.wrk(target, "list", connections, 2, {}, 1)  # warm-up, dropped
        await asyncio.sleep(1.0)
        rss_base = rss_kib(pid) or 0
        hwm_ok = reset_peak_rss(pid)
        a: list[dict[str, Any]] = []
        b: list[dict[str, Any]] = []
        statuses: Counter[str] = Counter()
        latencies: list[int] = []
        waves = 0
        peaks: list[int] = []
        for rnd in range(rounds):
            t0 = time.time()
            alone = _wrk_p50(await rest.wrk(target, "list", connections, window, {}, 1))
            alone["cpu"] = cpu.breakdown(t0, time.time()) if cpu else None
            a.append(alone)
            await asyncio.sleep(0.5)
            t0 = time.time()
            with RssPeak(pid) as peak:
                logins_task = asyncio.create_task(
                    gen.call(
                        "login_waves",
                        timeout=window + 120,
                        url=f"{target.base_url}/rest-auth/login/",
                        credentials=credentials,
                        parallel=parallel,
                        duration=window + 0.5,
                    )
                )
                await asyncio.sleep(0.25)
                beside = _wrk_p50(await rest.wrk(target, "list", connections, window, {}, 1))
                logins = await logins_task
            beside["cpu"] = cpu.breakdown(t0, time.time()) if cpu else None
            peaks.append(peak.peak)
            statuses.update(logins["statuses"])
            latencies += logins["latencies_us"]
            waves += len(logins["waves"])
            beside["logins"] = logins["statuses"]
            beside["waves"] = len(logins["waves"])
            b.append(beside)
            print(
                f"  round {rnd + 1}: GET /api/patients/ p50 alone {alone['p50_ms']} ms, beside logins"
                f" {beside['p50_ms']} ms; logins {logins['statuses']} in {len(logins['waves'])} waves;"
                f" RSS peak {peak.peak / KIB_PER_MIB:.1f} MiB"
                f" (before the first login {rss_base / KIB_PER_MIB:.1f} MiB)",
                flush=True,
            )
            await asyncio.sleep(0.5)
        hwm = peak_rss_kib(pid) if hwm_ok else None
        top = max([*peaks, hwm or 0])
        a50 = statistics.median(x["p50_ms"] for x in a)
        b50 = statistics.median(x["p50_ms"] for x in b)
        lat = summarize_ms(latencies)
        return {
            "parallel": parallel,
            "rounds": rounds,
            "window_s": window,
            "connections": connections,
            "hash_concurrency": extra_env.get("PASSWORD_HASH_CONCURRENCY", "default (cores - 1, at most 2)"),
            "hash_queue": extra_env.get("PASSWORD_HASH_QUEUE", "default (32)"),
            "alone": a,
            "beside": b,
            "p50_alone_ms": a50,
            "p50_beside_ms": b50,
            "p50_ratio": round(b50 / a50, 2) if a50 else None,
            "rss_before_kib": rss_base,
            "rss_peak_kib": top,
            "rss_growth_mib": round((top - rss_base) / KIB_PER_MIB, 1),
            "rss_peaks_kib": peaks,
            "vm_hwm_kib": hwm,
            "rss_after_kib": rss_kib(pid),
            "logins": dict(statuses),
            "logins_503": statuses.get("503", 0),
            "waves": waves,
            "login_p50_ms": lat["p50_ms"],
            "login_p99_ms": lat["p99_ms"],
            "login_max_ms": lat["max_ms"],
        }
    finally:
        if gen:
            await gen.stop()
        managed.close()
        if cpu:
            cpu.retarget(old_pid)
