"""The scale scenario (issue 13): years of one ward's data, and what the
board, the lists and the deletes cost at that size.

``python -m bench --only scale --patients 10000`` seeds (or reuses) the
archive of bench/seed.py in ``dengue_bench_scale_<N>``, starts one server
process on it and measures, in this order:

1. ``?patient=`` (GET /api/reports/?patient=<id>, whole list) on a freshly
   started server, 5 times for each of 5 patients across the archive;
2. the board in Chromium (bench/board.py) as the ward's nurse;
3. on a restarted server process (so that what the board's loads left in
   its heap cannot hide a growth), every list endpoint as a whole list,
   GET /api/reports/ first (curl, body discarded): time to the
   first byte and to the last, bytes, and the server's peak RSS over its
   RSS before (VmRSS sampled every 5 ms, and VmHWM after resetting it via
   /proc/<pid>/clear_refs), while another process GETs /healthz every
   50 ms; plus the three lists the board asks for;
4. cursor pages at depth (first, middle, last, and a "previous" page from
   the middle) and a first limit/offset page, each 10 times;
5. the whole GET /api/reports/ again until it has run ``loads`` times in
   all (every pooled connection has then executed list_reports hundreds of
   times), and ``?patient=`` again: a generic plan would show here;
6. the same in SQL: list_reports executed 10 times as whole-list chunks,
   then EXPLAIN ANALYZE of a ``?patient=`` execution, as the service sends
   it (its text, planned each call) and prepared with PostgreSQL's default
   plan_cache_mode = auto (what the service avoids);
7. deleting a report and a patient (48 reports each, made over REST).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
import psycopg2

from service.lists import Cursor
from service.sqlfiles import Q, as_prepared

from . import board, seed
from .clients import LoadGen
from .common import CpuSampler, RssPeak, peak_rss_kib, reset_peak_rss, rss_kib, summarize_ms
from .target import Managed, migrate

KIB_PER_MIB = 1024


async def curl(url: str, token: str, timeout: float = 900) -> dict[str, Any]:
    """GET with curl, the body thrown away: status, bytes, first byte, total."""
    proc = await asyncio.create_subprocess_exec(
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "--max-time",
        str(int(timeout)),
        "-H",
        f"Authorization: Token {token}",
        "-H",
        "Accept: application/json",
        "-w",
        "%{http_code} %{size_download} %{time_starttransfer} %{time_total}",
        url,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    code, size, first, total = out.decode().split()
    return {
        "status": int(code),
        "bytes": int(size),
        "first_byte_ms": round(float(first) * 1000, 1),
        "ms": round(float(total) * 1000, 1),
    }


async def timed_get(s: aiohttp.ClientSession, url: str) -> tuple[float, int, int]:
    """(ms, status, bytes) of one GET, read whole."""
    t0 = time.perf_counter()
    async with s.get(url) as r:
        body = await r.read()
    return (time.perf_counter() - t0) * 1000, r.status, len(body)


def _session(token: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        headers={"Authorization": f"Token {token}", "Accept": "application/json"},
        timeout=aiohttp.ClientTimeout(total=300),
    )


def _stats(ms: list[float]) -> dict[str, Any]:
    s = summarize_ms([x * 1000 for x in ms])
    return {"n": len(ms), "p50_ms": s["p50_ms"], "max_ms": s["max_ms"]}


async def patient_filter(base: str, token: str, patients: list[int], repeat: int = 5) -> dict[str, Any]:
    """GET /api/reports/?patient=<id> ``repeat`` times per patient."""
    per: dict[str, Any] = {}
    everything: list[float] = []
    async with _session(token) as s:
        for pid in patients:
            times = []
            for _ in range(repeat):
                ms, status, size = await timed_get(s, f"{base}/api/reports/?patient={pid}")
                if status != 200:
                    raise RuntimeError(f"?patient={pid}: {status}")
                times.append(ms)
            per[str(pid)] = {
                "p50_ms": round(statistics.median(times), 2),
                "first_ms": round(times[0], 2),
                "bytes": size,
            }
            everything += times
    return {"patients": per, **_stats(everything)}


async def full_list(
    base: str, path: str, token: str, pid: int, prober: LoadGen, cpu: CpuSampler | None
) -> dict[str, Any]:
    """A whole list through curl, with the server's RSS and /healthz beside it."""
    await asyncio.sleep(0.5)
    before = rss_kib(pid) or 0
    hwm_ok = reset_peak_rss(pid)
    await prober.call("probe_start", url=f"{base}/healthz", interval=0.05)
    t0 = time.time()
    with RssPeak(pid) as peak:
        got = await curl(base + path, token)
    t1 = time.time()
    probes = await prober.call("probe_stop")
    hwm = peak_rss_kib(pid) if hwm_ok else None
    top = max(peak.peak, hwm or 0)
    health = summarize_ms(probes["latencies_us"])
    return {
        **got,
        "rss_before_kib": before,
        "rss_peak_kib": top,
        "rss_growth_mib": round((top - before) / KIB_PER_MIB, 1),
        "rss_sampled_peak_kib": peak.peak,
        "vm_hwm_kib": hwm,
        "healthz": {
            "n": health["count"],
            "p50_ms": health["p50_ms"],
            "p99_ms": health["p99_ms"],
            "max_ms": health["max_ms"],
            "failed": probes["failed"],
        },
        "cpu": cpu.breakdown(t0, t1) if cpu and t1 - t0 > 1.5 else None,
    }


def cursor_keys(url: str, patients: int) -> dict[str, dict[str, str]]:
    """Cursors into the middle and near the end of each list (as the service
    encodes them), read from the database in each list's order."""
    specs = {
        "patients": ("patients", "admission_date", "id"),
        "reports": ("reports", "time", "id"),
        "history": ("report_history", "history_date", "history_id"),
        "notifications": ("notifications", "created_at", "id"),
    }
    out: dict[str, dict[str, str]] = {}
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            for name, (table, key, pk) in specs.items():
                cur.execute(f"SELECT count(*) FROM {table}")
                (n,) = cur.fetchone()
                cursors: dict[str, str] = {}
                for depth, offset in (("middle", n // 2), ("end", max(0, n - 50))):
                    cur.execute(
                        f"SELECT {key}, {pk} FROM {table} ORDER BY {key} DESC, {pk} DESC OFFSET %s LIMIT 1", (offset,)
                    )
                    row = cur.fetchone()
                    if row is None:
                        continue
                    cursors[depth] = Cursor(row[0].isoformat(), row[1]).encode()
                    if depth == "middle":
                        cursors["middle_back"] = Cursor(row[0].isoformat(), row[1], back=True).encode()
                out[name] = cursors
    finally:
        conn.close()
    return out


async def pages(base: str, nurse: str, staff: str, keys: dict[str, dict[str, str]], repeat: int = 10) -> dict[str, Any]:
    out: dict[str, Any] = {}
    callers = [("nurse", nurse), ("staff", staff)]
    for who, token in callers:
        async with _session(token) as s:
            for name, cursors in keys.items():
                variants = {
                    "first": "cursor=",
                    **{k: f"cursor={v}" for k, v in cursors.items()},
                    "limit100": "limit=100",
                }
                for depth, query in variants.items():
                    times = []
                    size = 0
                    for _ in range(repeat):
                        ms, status, size = await timed_get(s, f"{base}/api/{name}/?{query}")
                        if status != 200:
                            raise RuntimeError(f"/api/{name}/?{query[:40]}: {status}")
                        times.append(ms)
                    out[f"{who} {name} {depth}"] = {
                        "p50_ms": round(statistics.median(times), 2),
                        "max_ms": round(max(times), 2),
                        "bytes": size,
                        "kind": "limit/offset" if depth == "limit100" else "cursor",
                    }
    return out


def plans(url: str, patient: int) -> dict[str, Any]:
    """list_reports run 10 times as whole-list chunks, then a ?patient=
    execution EXPLAINed: as the service sends it ("each call": its text,
    planned with its values) and prepared (plan_cache_mode = auto, which
    may switch to a generic plan after five runs)."""
    base = {
        "wards": [seed.WARD],
        "patient": None,
        "ward": None,
        "since": None,
        "until": None,
        "after_key": None,
        "after_id": None,
        "limit": 1001,
        "offset": 0,
    }
    out: dict[str, Any] = {}
    for mode, query in (("each call", Q.list_reports), ("prepared, auto", as_prepared(Q.list_reports))):
        conn = psycopg2.connect(url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SET TIME ZONE 'UTC'; SET jit = off")
                if query.prepare is not None:
                    cur.execute(query.prepare)
                params = dict(base)
                for _ in range(10):
                    cur.execute(query.execute, params)
                    rows = cur.fetchall()
                    names = [d[0] for d in cur.description]
                    last = dict(zip(names, rows[-1], strict=True))
                    params = {**params, "after_key": last["time"], "after_id": last["id"]}
                one = {**base, "patient": patient}
                t0 = time.perf_counter()
                cur.execute(query.execute, one)
                cur.fetchall()
                took = (time.perf_counter() - t0) * 1000
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + query.execute, one)
                plan = [r[0] for r in cur.fetchall()]
        finally:
            conn.close()
        out[mode] = {
            "patient_ms": round(took, 2),
            "execution_ms": next((float(x.split()[2]) for x in plan if x.startswith("Execution Time")), None),
            "plan": plan[:14],
        }
    return out


REPORT = {
    "monitoring_interval": 4,
    "fever": "38.20",
    "pulse": 96,
    "respirations": 20,
    "bp_systolic": 115,
    "bp_diastolic": 80,
    "o2_saturation": 98,
    "hematocrit": 41,
    "platelet_count": 150,
    "status": "febrile",
}


async def deletes(base: str, token: str, victims: int = 3, reports: int = 48) -> dict[str, Any]:
    """Patients with ``reports`` reports each, made over REST; then a report
    delete and a patient delete, timed."""
    report_ms: list[float] = []
    patient_ms: list[float] = []
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    admitted = now - dt.timedelta(hours=4 * reports + 2)
    async with _session(token) as s:
        for v in range(victims):
            body = {
                "first_name": "Bench",
                "last_name": f"Delete-{v}",
                "admission_date": admitted.isoformat(),
                "ward": seed.WARD,
            }
            async with s.post(f"{base}/api/patients/", json=body) as r:
                if r.status != 201:
                    raise RuntimeError(f"create patient: {r.status} {await r.text()}")
                pid = (await r.json())["id"]
            ids = []
            for k in range(reports):
                at = admitted + dt.timedelta(hours=4 * k + 1)
                async with s.post(f"{base}/api/reports/", json={**REPORT, "patient": pid, "time": at.isoformat()}) as r:
                    if r.status != 201:
                        raise RuntimeError(f"create report: {r.status} {await r.text()}")
                    ids.append((await r.json())["id"])
            t0 = time.perf_counter()
            async with s.delete(f"{base}/api/reports/{ids[len(ids) // 2]}/") as r:
                await r.read()
                if r.status != 204:
                    raise RuntimeError(f"delete report: {r.status}")
            report_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            async with s.delete(f"{base}/api/patients/{pid}/") as r:
                await r.read()
                if r.status != 204:
                    raise RuntimeError(f"delete patient: {r.status}")
            patient_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "victims": victims,
        "reports_each": reports,
        "report_delete": {"p50_ms": round(statistics.median(report_ms), 2), "max_ms": round(max(report_ms), 2)},
        "patient_delete": {"p50_ms": round(statistics.median(patient_ms), 2), "max_ms": round(max(patient_ms), 2)},
    }


async def run(
    admin_url: str,
    redis_url: str,
    logdir: Path,
    extra_env: dict[str, str],
    patients: int,
    cpu: CpuSampler | None,
    loads: int = 10,
    board_runs: int = 3,
    board_timeout: float = 90.0,
) -> dict[str, Any]:
    t_start = time.time()
    t0 = time.monotonic()
    url, info = await asyncio.to_thread(seed.prepare, admin_url, patients)
    info["prepare_seconds"] = round(time.monotonic() - t0, 1)
    await asyncio.to_thread(migrate, url)
    managed = Managed(admin_url, redis_url, logdir / "scale", extra_env)
    managed.attach(url)
    prober: LoadGen | None = None
    result: dict[str, Any] = {"patients": patients, "database": seed.database_name(patients), "seed": info}
    old_pid = cpu.pid if cpu else None
    if cpu:
        cpu.databases.add(seed.database_name(patients))
    try:
        pid = await asyncio.to_thread(managed.start_server)
        if cpu:
            cpu.retarget(pid)
        base = f"http://127.0.0.1:{managed.port}"
        nurse = await asyncio.to_thread(seed.new_session, url, seed.NURSE)
        staff = await asyncio.to_thread(seed.new_session, url, seed.STAFF)
        prober = await LoadGen.start("prober")
        if cpu:
            cpu.client_pids.add(prober.pid)
        print(f"  server pid {pid} on {seed.database_name(patients)}", flush=True)
        picks = sorted({1, patients // 4, patients // 2, 3 * patients // 4, patients})
        result["patient_before"] = await patient_filter(base, nurse, picks)
        print(f"  ?patient= on a fresh server: p50 {result['patient_before']['p50_ms']} ms", flush=True)

        admitted_id = patients

        async def touch() -> None:
            async with _session(nurse) as s, s.patch(f"{base}/api/patients/{admitted_id}/", json={}) as r:
                await r.read()

        result["board"] = await board.measure(base, nurse, seed.BEDS, board_runs, board_timeout, touch)

        since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=72)).replace(microsecond=0).isoformat()
        since = since.replace("+00:00", "Z")
        # A fresh process for the whole lists, the reports first: the board's
        # loads above may have grown its heap, which would hide the growth.
        pid = await asyncio.to_thread(managed.restart_server)
        if cpu:
            cpu.retarget(pid)
        result["server_restarted_for_lists"] = True
        endpoints = [
            ("reports", "/api/reports/", nurse),
            ("patients", "/api/patients/", nurse),
            ("history", "/api/history/", nurse),
            ("notifications", "/api/notifications/", nurse),
            ("users", "/api/users/", staff),
            ("wards", "/api/wards/", staff),
            ("audit", "/api/audit/", staff),
            ("board: admitted patients", f"/api/patients/?admitted=true&ward={seed.WARD}", nurse),
            ("board: reports of 72 h", f"/api/reports/?ward={seed.WARD}&since={since}", nurse),
            ("board: open notifications", f"/api/notifications/?acknowledged=false&ward={seed.WARD}", nurse),
        ]
        lists: dict[str, Any] = {}
        for name, path, token in endpoints:
            r = await full_list(base, path, token, pid, prober, cpu)
            lists[name] = {"path": path, **r}
            print(
                f"  {name:<28} {r['status']} {r['bytes']:>13,} B  first byte {r['first_byte_ms']:>8} ms"
                f"  all {r['ms']:>9} ms  RSS +{r['rss_growth_mib']} MiB  /healthz p99 {r['healthz']['p99_ms']}"
                f" max {r['healthz']['max_ms']} ms ({r['healthz']['n']} probes)",
                flush=True,
            )
        result["lists"] = lists

        keys = await asyncio.to_thread(cursor_keys, url, patients)
        result["pages"] = await pages(base, nurse, staff, keys)
        worst = max(
            (v for v in result["pages"].values() if v["kind"] == "cursor"), key=lambda v: v["p50_ms"], default=None
        )
        print(f"  cursor pages: worst p50 {worst and worst['p50_ms']} ms", flush=True)

        more = []
        for _ in range(max(0, loads - 1)):
            more.append(await curl(base + "/api/reports/", nurse))
        result["reports_loads"] = {
            "count": 1 + len(more),
            "ms": [lists["reports"]["ms"]] + [m["ms"] for m in more],
        }
        result["patient_after"] = await patient_filter(base, nurse, picks)
        print(
            f"  ?patient= after {1 + len(more)} whole /api/reports/: p50 {result['patient_after']['p50_ms']} ms"
            f" (before {result['patient_before']['p50_ms']} ms)",
            flush=True,
        )
        result["plans"] = await asyncio.to_thread(plans, url, picks[len(picks) // 2])
        print(
            "  list_reports ?patient= after 10 whole-list executions, in SQL: "
            + ", ".join(f"{k} {v['execution_ms']} ms" for k, v in result["plans"].items()),
            flush=True,
        )
        result["deletes"] = await deletes(base, nurse)
        d = result["deletes"]
        print(
            f"  delete: report p50 {d['report_delete']['p50_ms']} ms, patient ({d['reports_each']} reports)"
            f" p50 {d['patient_delete']['p50_ms']} ms",
            flush=True,
        )
        result["cpu"] = cpu.breakdown(t_start + info["prepare_seconds"], time.time()) if cpu else None
    finally:
        if prober:
            await prober.stop()
        managed.close()
        if cpu:
            cpu.retarget(old_pid)
    return result
