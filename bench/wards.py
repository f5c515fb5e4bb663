"""The wards scenario (issue 14): a change reaches its own ward's screens
and nobody else's.

A fresh database ``dengue_bench_wards`` (migrated with yoyo) gets 20 wards,
one patient in each and, per ward, enough nurses (non-staff users of that
ward only) for its screens at WS_MAX_SOCKETS_PER_USER sockets each (the
default 50: 5 nurses for 250 screens; the setting is not raised). Their
sessions are written in SQL (what a login makes, without 100 argon2
hashes). One server process is started on it.

The load generators (bench/loadgen.py) open 250 sockets per ward, 5,000 in
all, each socket labelled with its ward. A writer process PATCHes ward 1's
patient every 100 ms over REST as one of ward 1's nurses (``last_name``
carries a sequence number and the time just before the request, as in the
fan-out scenario): 2 s of warm-up writes, then the measured ones. For each
of ward 1's sockets: delay = receipt - write start (p50/p99/max), lost and
duplicated frames. Every text frame that reaches a socket of another ward
while the writer runs (warm-up included) is counted: it must be none.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg2

from service.auth.passwords import hash_password
from service.auth.sessions import key_hash

from .clients import Clients, LoadGen
from .common import CpuSampler, rss_kib, summarize_ms
from .target import Managed, fresh_database

DATABASE = "dengue_bench_wards"
SOCKETS_PER_USER = 50  # the service's default WS_MAX_SOCKETS_PER_USER


def prepare(admin_url: str, wards: int, users_per_ward: int) -> tuple[str, dict[int, list[str]], dict[int, int]]:
    """The database, each ward's nurses' session keys, and each ward's patient."""
    url = fresh_database(admin_url, DATABASE)
    hashed = hash_password(secrets.token_urlsafe(24))
    keys: dict[int, list[str]] = {}
    patients: dict[int, int] = {}
    conn = psycopg2.connect(url)
    conn.autocommit = True
    admitted = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT min(id) FROM wards")
            (first,) = cur.fetchone()
            ward_ids = [first]
            for w in range(2, wards + 1):
                cur.execute("INSERT INTO wards (name) VALUES (%s) RETURNING id", (f"Bench ward {w}",))
                ward_ids.append(cur.fetchone()[0])
            for w, ward in enumerate(ward_ids, start=1):
                cur.execute(
                    "INSERT INTO patients (first_name, last_name, admission_date, ward)"
                    " VALUES ('Bench', %s, %s, %s) RETURNING id",
                    (f"Ward-{w}", admitted, ward),
                )
                patients[w] = cur.fetchone()[0]
                keys[w] = []
                for k in range(users_per_ward):
                    cur.execute(
                        "INSERT INTO users (username, password) VALUES (%s, %s) RETURNING id",
                        (f"nurse-w{w}-{k}", hashed),
                    )
                    (user,) = cur.fetchone()
                    cur.execute("INSERT INTO user_wards (user_id, ward) VALUES (%s, %s)", (user, ward))
                    key = secrets.token_hex(20)
                    cur.execute(
                        "INSERT INTO auth_sessions (key_hash, user_id, client) VALUES (%s, %s, 'bench')",
                        (key_hash(key), user),
                    )
                    keys[w].append(key)
            cur.execute("ANALYZE")
    finally:
        conn.close()
    return url, keys, patients


async def run(
    admin_url: str,
    redis_url: str,
    logdir: Path,
    extra_env: dict[str, str],
    cpu: CpuSampler | None,
    wards: int = 20,
    screens: int = 250,
    client_procs: int = 4,
    warmup: float = 2.0,
    duration: float = 10.0,
    period: float = 0.1,
) -> dict[str, Any]:
    per_user = int(extra_env.get("WS_MAX_SOCKETS_PER_USER", SOCKETS_PER_USER))
    users_per_ward = math.ceil(screens / per_user)
    url, keys, patients = await asyncio.to_thread(prepare, admin_url, wards, users_per_ward)
    managed = Managed(admin_url, redis_url, logdir / "wards", extra_env)
    managed.attach(url)
    clients: Clients | None = None
    writer: LoadGen | None = None
    old_pid = cpu.pid if cpu else None
    if cpu:
        cpu.databases.add(DATABASE)
    try:
        pid = await asyncio.to_thread(managed.start_server)
        if cpu:
            cpu.retarget(pid)
        clients = await Clients.start(client_procs, prefix="wards")
        writer = await LoadGen.start("wards-writer")
        if cpu:
            cpu.client_pids.update([g.pid for g in clients.gens] + [writer.pid])
        # (ward, key, sockets) spread over the load generators, round robin
        jobs: list[list[tuple[int, str, int]]] = [[] for _ in clients.gens]
        i = 0
        for w in range(1, wards + 1):
            left = screens
            for key in keys[w]:
                n = min(per_user, left)
                left -= n
                if n:
                    jobs[i % len(jobs)].append((w, key, n))
                    i += 1
        t_conn = time.time()

        async def connect_all(gen: LoadGen, mine: list[tuple[int, str, int]]) -> Counter[str]:
            failed: Counter[str] = Counter()
            for w, key, n in mine:
                r = await gen.call(
                    "connect", n=n, port=managed.port, path=f"/ws/?token={key}", group=f"w{w}", parallel=32
                )
                failed.update(r["errors"])
            return failed

        failures = await asyncio.gather(*(connect_all(g, j) for g, j in zip(clients.gens, jobs, strict=True)))
        errors: Counter[str] = Counter()
        for f in failures:
            errors.update(f)
        connect_s = round(time.time() - t_conn, 1)
        await asyncio.sleep(1.0)
        rss_before = rss_kib(pid)
        print(
            f"  {wards} wards x {screens} screens: connected in {connect_s} s"
            + (f", failures {dict(errors)}" if errors else ""),
            flush=True,
        )
        await clients.all("fanout_start", tag="fanM", watch="w1")
        warm, count = round(warmup / period), round(duration / period)
        t0 = time.time()
        out = await writer.call(
            "write_loop",
            timeout=warmup + duration + 60,
            url=f"http://127.0.0.1:{managed.port}/api/patients/{patients[1]}/",
            token=keys[1][0],
            period=period,
            warmup=warm,
            count=count,
        )
        t1 = time.time()
        writes = out["writes"]
        ok_writes = [w for w in writes if 200 <= w["status"] < 300]
        opened: Counter[str] = Counter()
        deadline = time.time() + 5.0
        while True:
            counts = await clients.all("fanout_count")
            if sum(c["delivered"] for c in counts) >= screens * len(ok_writes) or time.time() > deadline:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)  # a frame for another ward would come right behind
        stops = await clients.all("fanout_stop")
        for o in stops:
            opened.update(o["group_open"])
        delays = [d for o in stops for d in o["delays_us"]]
        per_seq: Counter[int] = Counter()
        for o in stops:
            per_seq.update({int(k): v for k, v in o["per_seq"].items()})
        ok_seqs = {w["seq"] for w in ok_writes}
        watched = opened.get("w1", 0)
        expected = watched * len(ok_writes)
        delivered = sum(v for k, v in per_seq.items() if k in ok_seqs)
        foreign: Counter[str] = Counter()
        for o in stops:
            foreign.update({g: n for g, n in o["group_other"].items() if g != "w1"})
        stats = summarize_ms(delays)
        took = {w["seq"]: (w["end_ns"] - w["start_ns"]) // 1000 for w in writes}
        after = summarize_ms(
            d - took[s] for o in stops for d, s in zip(o["delays_us"], o["seqs"], strict=True) if s in took
        )
        lateness = [(w["start_ns"] - w["slot_ns"]) / 1e6 for w in writes]
        write_ms = sorted((w["end_ns"] - w["start_ns"]) / 1e6 for w in writes)
        result = {
            "wards": wards,
            "screens_per_ward": screens,
            "users_per_ward": users_per_ward,
            "sockets_per_user": per_user,
            "sockets_open": sum(opened.values()),
            "watched_sockets": watched,
            "other_sockets": sum(v for g, v in opened.items() if g != "w1"),
            "connect_seconds": connect_s,
            "connect_errors": dict(errors),
            "writes": len(writes),
            "writes_ok": len(ok_writes),
            "expected": expected,
            "delivered": delivered,
            "lost": max(0, expected - delivered),
            "duplicates": sum(max(0, per_seq[s] - watched) for s in ok_seqs),
            "foreign_frames": sum(foreign.values()),
            "foreign_by_ward": dict(foreign),
            "p50_ms": stats["p50_ms"],
            "p90_ms": stats["p90_ms"],
            "p99_ms": stats["p99_ms"],
            "max_ms": stats["max_ms"],
            "after_response_p50_ms": after["p50_ms"],
            "after_response_p99_ms": after["p99_ms"],
            "write_p50_ms": round(write_ms[len(write_ms) // 2], 2) if write_ms else None,
            "write_max_ms": round(write_ms[-1], 2) if write_ms else None,
            "writer_max_lateness_ms": round(max(lateness), 2) if lateness else None,
            "sockets_lost": sum(o["lost_sockets"] for o in stops),
            "server_rss_kib": rss_before,
            "client_cpu_max": max((o.get("cpu_share", 0.0) for o in stops), default=None),
            "client_loop_lag_max_ms": max((o.get("max_loop_lag_ms", 0.0) for o in stops), default=None),
            "cpu": cpu.breakdown(t0 + 0.2 + warmup, t1) if cpu else None,
        }
        print(
            f"  ward 1's {watched} screens: p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms"
            f"  max {result['max_ms']} ms  delivered {delivered}/{expected}  duplicates {result['duplicates']};"
            f"  the other {result['other_sockets']} sockets got {result['foreign_frames']} frames"
            f"  (PATCH p50 {result['write_p50_ms']} ms; CPU {result['cpu']})",
            flush=True,
        )
        return result
    finally:
        if clients:
            await clients.stop()
        if writer:
            await writer.stop()
        managed.close()
        if cpu:
            cpu.retarget(old_pid)
