"""WebSocket scenarios: request/response, fan-out, idle capacity, reminders."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg2

from .clients import Clients, LoadGen
from .common import CpuSampler, open_fds, open_files_limit, rss_kib, summarize_ms
from .target import Target, bounded_gather, create_patients, delete_patients, request, session


async def _wait_sessions_closed(seconds: float = 1.0) -> None:
    await asyncio.sleep(seconds)


def _clients_summary(loads: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "client_cpu_max": max((x.get("cpu_share", 0.0) for x in loads), default=None),
        "client_loop_lag_max_ms": max((x.get("max_loop_lag_ms", 0.0) for x in loads), default=None),
    }


# -- request/response over the socket ----------------------------------------


async def rr(
    target: Target,
    clients: Clients,
    cpu: CpuSampler,
    sockets: int,
    warmup: float,
    duration: float,
    profiler: Any = None,
) -> dict[str, Any]:
    conn = await clients.connect(sockets, target.port, target.ws_path)
    if conn["failed"]:
        raise RuntimeError(f"WebSocket connect failed: {conn['errors']}")
    results: dict[str, Any] = {}
    try:
        for action in ("list", "retrieve"):
            name = f"ws_{action}_k{sockets}"
            start_at = time.time() + 0.5
            shares = clients.split(sockets)
            if profiler:
                profiler.begin(name, duration, delay=0.5 + warmup)
            outs = await clients.all(
                "rr",
                [{"sockets": s} for s in shares],
                stream="patients",
                action=action,
                pks=target.patient_ids,
                start_at=start_at,
                warmup=warmup,
                duration=duration,
                timeout=warmup + duration + 60,
            )
            if profiler:
                await profiler.end()
            lat = [v for o in outs for v in o["latencies_us"]]
            errors: Counter[str] = Counter()
            for o in outs:
                errors.update(o["errors"])
            stats = summarize_ms(lat)
            results[name] = {
                "action": action,
                "sockets": sockets,
                "seconds": duration,
                "round_trips": stats["count"],
                "rps": round(stats["count"] / duration, 1),
                "p50_ms": stats["p50_ms"],
                "p90_ms": stats["p90_ms"],
                "p99_ms": stats["p99_ms"],
                "max_ms": stats["max_ms"],
                "errors": sum(errors.values()),
                "error_detail": dict(errors),
                "server_cpu": cpu.share(start_at + warmup, start_at + warmup + duration),
                "cpu": cpu.breakdown(start_at + warmup, start_at + warmup + duration),
                **_clients_summary(outs),
            }
            r = results[name]
            print(
                f"  {name:<22} {r['rps']:>9.1f} rt/s   p50 {r['p50_ms']:>8.2f} ms  p99 {r['p99_ms']:>8.2f} ms"
                f"  errors {r['errors']}  CPU {r['cpu']}  client CPU max {r['client_cpu_max']}",
                flush=True,
            )
    finally:
        await clients.close_all()
        await _wait_sessions_closed()
    return results


# -- fan-out -------------------------------------------------------------------


async def fanout(
    target: Target,
    clients: Clients,
    writer: LoadGen,
    cpu: CpuSampler,
    sizes: list[int],
    warmup: float,
    duration: float,
    period: float = 0.1,
    profiler: Any = None,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    patient = target.patient_ids[0]
    url = f"{target.base_url}/api/patients/{patient}/"
    for n in sizes:
        name = f"fanout_n{n}"
        try:
            t_conn = time.time()
            conn = await clients.connect(n, target.port, target.ws_path, parallel=32, deadline=120)
            connect_s = round(time.time() - t_conn, 2)
            if conn["failed"]:
                print(f"  {name}: {conn['failed']} of {n} sockets failed to connect: {conn['errors']}", flush=True)
            subscribers = conn["open"]
            await asyncio.sleep(1.0)
            await clients.all("fanout_start", tag="fanM")
            warm, count = round(warmup / period), round(duration / period)
            if profiler:
                profiler.begin(name, duration, delay=0.2 + warm * period)
            t0 = time.time()
            out = await writer.call(
                "write_loop",
                timeout=warmup + duration + 60,
                url=url,
                token=target.token,
                period=period,
                warmup=warm,
                count=count,
            )
            t1 = time.time()
            if profiler:
                await profiler.end()
            writes = out["writes"]
            ok_writes = [w for w in writes if 200 <= w["status"] < 300]
            expected = subscribers * len(ok_writes)
            # stragglers: wait (bounded) until everything expected has arrived
            deadline = time.time() + 5.0
            while time.time() < deadline:
                counts = await clients.all("fanout_count")
                if sum(c["delivered"] for c in counts) >= expected:
                    break
                await asyncio.sleep(0.2)
            outs = await clients.all("fanout_stop")
            delays = [d for o in outs for d in o["delays_us"]]
            per_seq: Counter[int] = Counter()
            for o in outs:
                per_seq.update({int(k): v for k, v in o["per_seq"].items()})
            ok_seqs = {w["seq"] for w in ok_writes}
            delivered = sum(v for k, v in per_seq.items() if k in ok_seqs)
            stats = summarize_ms(delays)
            # the same delay counted from the end of the writer's request (its response):
            # what the fan-out itself adds after the write's own database work
            took = {w["seq"]: (w["end_ns"] - w["start_ns"]) // 1000 for w in writes}
            after = summarize_ms(
                d - took[s] for o in outs for d, s in zip(o["delays_us"], o["seqs"], strict=True) if s in took
            )
            lateness = [(w["start_ns"] - w["slot_ns"]) / 1e6 for w in writes]
            write_ms = sorted((w["end_ns"] - w["start_ns"]) / 1e6 for w in writes)
            measured_s = (writes[-1]["end_ns"] - writes[0]["start_ns"]) / 1e9 if writes else duration
            results[name] = {
                "subscribers": subscribers,
                "requested": n,
                "connect_failed": conn["failed"],
                "connect_seconds": connect_s,
                "writes": len(writes),
                "writes_ok": len(ok_writes),
                "expected": expected,
                "delivered": delivered,
                "delivered_ratio": round(delivered / expected, 5) if expected else None,
                "lost": max(0, expected - delivered),
                "duplicates": sum(max(0, per_seq[s] - subscribers) for s in ok_seqs),
                "deliveries_per_s": round(delivered / measured_s, 1) if measured_s > 0 else None,
                "p50_ms": stats["p50_ms"],
                "p90_ms": stats["p90_ms"],
                "p99_ms": stats["p99_ms"],
                "max_ms": stats["max_ms"],
                "after_response_p50_ms": after["p50_ms"],
                "after_response_p99_ms": after["p99_ms"],
                "writer_max_lateness_ms": round(max(lateness), 2) if lateness else None,
                "writer_late_writes": sum(1 for x in lateness if x >= period * 1000 / 2),
                "writer_behind": any(x >= period * 1000 / 2 for x in lateness),
                "write_p50_ms": round(write_ms[len(write_ms) // 2], 2) if write_ms else None,
                "write_max_ms": round(write_ms[-1], 2) if write_ms else None,
                "sockets_lost": sum(o["lost_sockets"] for o in outs),
                "server_cpu": cpu.share(t0 + 0.2 + warmup, t1),
                "cpu": cpu.breakdown(t0 + 0.2 + warmup, t1),
                **_clients_summary(outs),
            }
            r = results[name]
            print(
                f"  {name:<22} p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  max {r['max_ms']} ms"
                f"  delivered {r['delivered']}/{r['expected']}  writer max late {r['writer_max_lateness_ms']} ms"
                f"  CPU {r['cpu']}  client CPU max {r['client_cpu_max']}"
                f" lag max {r['client_loop_lag_max_ms']} ms",
                flush=True,
            )
        finally:
            await clients.close_all()
            await _wait_sessions_closed(1.0 + n / 5000)
    return results


# -- idle capacity --------------------------------------------------------------


async def capacity(
    target: Target,
    clients: Clients,
    steps: list[int],
    settle: float = 2.0,
    restart: Callable[[], int] | None = None,
    profiler: Any = None,
) -> dict[str, Any]:
    """Idle authenticated sessions held, stepped up; the server's RSS at each step."""
    if restart is not None:  # a fresh process: memory freed by earlier scenarios would hide the cost
        target.server_pid = restart()
    pid = target.server_pid
    limit = open_files_limit(pid) if pid else None
    cap = None
    if limit is not None:
        used = open_fds(pid) or 0
        cap = limit - used - 200  # headroom for the pool, Redis, logs and a probe or two
        steps = sorted({min(s, cap) for s in steps})
    # warm the lazily built parts (one socket, one request) before the baseline
    await clients.connect(1, target.port, target.ws_path)
    await clients.close_all()
    await asyncio.sleep(1.0)
    base = rss_kib(pid) if pid else None
    rows: list[dict[str, Any]] = []
    held = 0
    try:
        for step in steps:
            t0 = time.time()
            conn = await clients.connect(step - held, target.port, target.ws_path, parallel=64, deadline=180)
            open_now = sum(s["open"] for s in await clients.all("status"))
            t1 = time.time()
            await asyncio.sleep(settle)
            open_after = sum(s["open"] for s in await clients.all("status"))
            held = open_after
            rss = rss_kib(pid) if pid else None
            per = round((rss - base) / open_after, 2) if (rss is not None and base is not None and open_after) else None
            rows.append(
                {
                    "target": step,
                    "open": open_after,
                    "failed": conn["failed"],
                    "errors": conn["errors"],
                    "connect_seconds": round(t1 - t0, 2),
                    "connects_per_s": round((step - (rows[-1]["open"] if rows else 0)) / (t1 - t0), 1),
                    "rss_kib": rss,
                    "kib_per_session": per,
                    "server_fds": open_fds(pid) if pid else None,
                }
            )
            print(
                f"  capacity {step:>6}: open {open_after:>6}  failed {conn['failed']}  RSS "
                f"{rss} KiB  {per} KiB/session  ({t1 - t0:.1f} s to connect)",
                flush=True,
            )
            if open_now < step or conn["failed"]:
                break
    finally:
        await clients.close_all()
        await _wait_sessions_closed(2.0)
    after = rss_kib(pid) if pid else None
    top = rows[-1] if rows else {}
    return {
        "capacity": {
            "fd_limit": limit,
            "cap": cap,
            "fresh_process": restart is not None,
            "steps": rows,
            "rss_base_kib": base,
            "rss_after_close_kib": after,
            "max_open": max((r["open"] for r in rows), default=0),
            "requested_max": max(steps, default=0),
            "kib_per_session": top.get("kib_per_session"),
        }
    }


# -- reminder lateness -----------------------------------------------------------


def _db_lateness(database_url: str, patient_ids: list[int]) -> dict[str, Any]:
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                """
                SELECT n.patient, extract(epoch FROM n.created_at - m.run_at)::float8,
                       extract(epoch FROM m.fired_at - m.run_at)::float8
                  FROM notifications n JOIN reminders m ON m.patient = n.patient
                 WHERE n.type = 'observation_due' AND n.patient = ANY(%s)""",
                (patient_ids,),
            )
            rows = cur.fetchall()
            cur.execute(
                """SELECT count(*) FROM reminders WHERE patient = ANY(%s) AND fired_at IS NOT NULL""", (patient_ids,)
            )
            (fired_rows,) = cur.fetchone()
    finally:
        conn.close()
    per_patient = Counter(r[0] for r in rows)
    stats = summarize_ms([r[1] * 1e6 for r in rows])
    return {
        "notifications": len(rows),
        "patients_notified": len(per_patient),
        "doubles": sum(1 for v in per_patient.values() if v > 1),
        "reminders_fired": fired_rows,
        "p50_ms": stats["p50_ms"],
        "p99_ms": stats["p99_ms"],
        "max_ms": stats["max_ms"],
    }


async def reminders(
    target: Target,
    listener: LoadGen,
    count: int,
    lead: float,
    spread: float,
    grace: float,
    start_worker: Callable[[], Any] | None = None,
    stop_worker: Callable[[], None] | None = None,
    profiler: Any = None,
    cpu: CpuSampler | None = None,
) -> dict[str, Any]:
    tag = f"rem{int(time.time())}"
    if start_worker is not None:
        start_worker()
    patient_ids: list[int] = []
    try:
        t_setup = time.time()
        patient_ids = await create_patients(target, [f"{tag}-{i}" for i in range(count)], parallel=16)
        conn = await listener.call("connect", n=1, port=target.port, path=target.ws_path, timeout_s=10)
        if conn["failed"]:
            raise RuntimeError(f"listener could not connect: {conn['errors']}")
        await listener.call("listen_start")
        base = time.time() + lead
        due = {pid: base + spread * i / count for i, pid in enumerate(patient_ids)}
        interval_h = 1

        def body(pid: int) -> dict[str, Any]:
            t = dt.datetime.fromtimestamp(due[pid] - interval_h * 3600, dt.UTC)
            return {
                "patient": pid,
                "time": t.isoformat().replace("+00:00", "Z"),
                "monitoring_interval": interval_h,
                "fever": "38.00",
                "o2_saturation": 98,
                "status": "febrile",
            }

        async with session(target.token) as s:
            await bounded_gather(
                [request(s, "POST", f"{target.base_url}/api/reports/", body(pid)) for pid in patient_ids], 16
            )
        created_at = time.time()
        setup_overran = created_at > base
        if profiler:
            profiler.begin("reminders", spread + 1.0, delay=max(0.0, base - time.time()))
        # wait (bounded) until every reminder has arrived, or the grace after the last due time
        end = base + spread + grace
        while time.time() < end:
            await asyncio.sleep(0.5)
            if (await listener.call("status"))["notifications"] >= count:
                await asyncio.sleep(1.0)  # a double would come right behind
                break
        if profiler:
            await profiler.end()
        got = (await listener.call("listen_stop"))["notifications"]
        await listener.call("close_all")
        wanted = set(patient_ids)
        first: dict[int, int] = {}
        per_patient: Counter[int] = Counter()
        for patient, kind, at_ns in got:
            if kind != "observation_due" or patient not in wanted:
                continue
            per_patient[patient] += 1
            first.setdefault(patient, at_ns)
        lateness_us = [(first[p] / 1e9 - due[p]) * 1e6 for p in first]
        stats = summarize_ms(lateness_us)
        result: dict[str, Any] = {
            "expected": count,
            "received": len(first),
            "lost": count - len(first),
            "doubles": sum(1 for v in per_patient.values() if v > 1),
            "early": sum(1 for x in lateness_us if x < 0),
            "p50_ms": stats["p50_ms"],
            "p90_ms": stats["p90_ms"],
            "p99_ms": stats["p99_ms"],
            "max_ms": stats["max_ms"],
            "setup_seconds": round(created_at - t_setup, 2),
            "setup_overran": setup_overran,
            "lead_seconds": lead,
            "spread_seconds": spread,
            "cpu": cpu.breakdown(base, base + spread) if cpu else None,
        }
        if target.database_url:
            result["db"] = _db_lateness(target.database_url, patient_ids)
        r = result
        print(
            f"  reminders: received {r['received']}/{r['expected']}  doubles {r['doubles']}  p50 {r['p50_ms']} ms"
            f"  p99 {r['p99_ms']} ms  max {r['max_ms']} ms"
            + (f"  (db p99 {r['db']['p99_ms']} ms, doubles {r['db']['doubles']})" if "db" in r else ""),
            flush=True,
        )
        return {"reminders": result}
    finally:
        if stop_worker is not None:
            stop_worker()
        if patient_ids:
            await delete_patients(target, patient_ids)
