"""The machine's limits, measured in the same run: redis-benchmark PUBLISH and
pgbench running the service's own SQL (the named queries in sql/*.sql).

The pgbench scripts are built FROM those queries: each ``%(name)s`` parameter
becomes a pgbench variable ``:name``. Numbers are set with ``\\set`` (the
patient at random among 100 for every transaction); strings, NULLs and
arrays, which ``\\set`` cannot hold, are defined with ``-D name=<literal>``,
the literal rendered by psycopg2 exactly as the service's driver sends it.
Values the service takes from a row it has just written (the new report's
id and history_id) are captured with ``\\gset r_``. pgbench runs in simple
query mode (-M simple), and the statements that the service sends in one
round trip are chained with ``\\;`` into one pgbench command, so the round
trips match. The service itself PREPAREs its single-statement queries
(service/db.py); pgbench cannot prepare chained commands, so it parses and
plans each statement every time and the service can beat its figure:

* create_min  = what the brief names: BEGIN + insert_report, then
                commit_with_events (the report, its history row and its two
                events in one transaction);
* create_full = the whole transaction of POST /api/reports/: the above plus
                rule_context, then schedule_reminder sent with the COMMIT
                (notifications.sql, reminders.sql), as service/reports/actions.py
                and Tx.later() do, preceded by the token lookup that
                authenticates the request;
* retrieve    = user_by_token + get_patient (GET /api/patients/<id>/);
* list        = user_by_token + list_patients (GET /api/patients/);
* patch       = user_by_token + lock_patient, update_patient, then
                schedule_reminder with commit_with_events (PATCH /api/patients/<id>/).

They run against a separate database (``dengue_bench_limits``, migrated the
same way) so that their events never reach the server under test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg2

from service import jsonutil
from service.reminders import CHANNEL as REMINDER_CHANNEL
from service.sqlfiles import Q

from .common import summarize_ms
from .target import fresh_database

LIMITS_DB = "dengue_bench_limits"
PATIENTS = 100
TOKEN = "b" * 40
PARAM = re.compile(r"%\((\w+)\)s")

# The body of a created report (the same as bench/wrk/bench.lua sends), as
# the service's validation hands it to the SQL: every field present.
REPORT = {
    "day_of_fever": 3,
    "fever": Decimal("38.50"),
    "pulse": 92,
    "respirations": 20,
    "bp_systolic": 120,
    "bp_diastolic": 80,
    "diet": "soft",
    "oral_fluids": 500,
    "parenteral_fluids": 250,
    "other_fluids": 0,
    "intake_8h": None,
    "urine_output": 400,
    "uf": None,
    "emesis": None,
    "drainage": None,
    "output_8h": None,
    "pain_score": None,
    "abdominal_circumference": None,
    "stools": None,
    "urine_count": None,
    "weight": None,
    "height": None,
    "o2_saturation": 98,
    "hematocrit": 40,
    "platelet_count": 150,
    "wbc_count": Decimal("5.20"),
    "status": "febrile",
    "monitoring_interval": 24,
    "warning_signs": "",
    "additional_info": "bench",
    "medical_advice": "",
}


def _statement_chain(sql: str, overrides: dict[str, str]) -> list[str]:
    """One named query → its statements, comments dropped, %(x)s → :x."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    text = "\n".join(lines)
    text = PARAM.sub(lambda m: overrides.get(m.group(1), f":{m.group(1)}"), text)
    return [s.strip() for s in text.split(";") if s.strip()]


def command(
    *queries: str, begin: bool = False, gset: str | None = None, overrides: dict[str, str] | None = None
) -> str:
    """Queries sent in ONE round trip (psycopg2 execute of a multi-statement
    string) → one pgbench command, statements chained with ``\\;``."""
    statements = ["BEGIN"] if begin else []
    for q in queries:
        statements += _statement_chain(q, overrides or {})
    body = "\\;\n".join(statements)
    return body + ("\n\\gset " + gset + "\n" if gset else ";\n")


def dumps_str(value: Any) -> str:
    return jsonutil.dumps(value).decode()


def scripts() -> dict[str, str]:
    pks = {"pks": "ARRAY[:r_id, :r_history_id]", "channel": f"'{REMINDER_CHANNEL}'"}
    auth = command(Q.user_by_token)
    insert = f"\\set patient random(1, {PATIENTS})\n" + command(Q.insert_report, begin=True, gset="r_")
    commit = command(Q.commit_with_events, overrides=pks)
    return {
        "create_min": insert + commit,
        "create_full": auth
        + insert
        + command(Q.rule_context, overrides={"id": ":r_id"})
        + command(Q.schedule_reminder, Q.commit_with_events, overrides=pks),
        "retrieve": f"\\set id random(1, {PATIENTS})\n" + auth + command(Q.get_patient),
        "list": auth + command(Q.list_patients),
        "patch": f"\\set id random(1, {PATIENTS})\n\\set patient :id\n"
        + auth
        + command(Q.lock_patient, begin=True)
        + command(Q.update_patient)
        + command(
            Q.schedule_reminder,
            Q.commit_with_events,
            overrides={
                "pks": "ARRAY[:id]",
                "streams": ":p_streams",
                "actions": ":p_actions",
                "datas": ":p_datas",
                "channel": f"'{REMINDER_CHANNEL}'",
            },
        ),
    }


def prepare(admin_url: str) -> tuple[str, list[str]]:
    """A fresh, migrated database with one user, its token and 100 patients
    (each with one report); returns its URL and the -D definitions."""
    url = fresh_database(admin_url, LIMITS_DB)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO users (username, password) VALUES ('bench', '!') RETURNING id")
            (actor,) = cur.fetchone()
            cur.execute("INSERT INTO auth_tokens (key, user_id) VALUES (%s, %s)", (TOKEN, actor))
            cur.execute(
                """INSERT INTO patients (first_name, last_name, admission_date)
                           SELECT 'Bench', 'Seed-' || i, '2026-01-05T08:00:00Z' FROM generate_series(1, %s) i""",
                (PATIENTS,),
            )
            # one real report create, to get the events' JSON as the service builds it
            params = {**REPORT, "patient": 1, "time": now, "actor": actor}
            cur.execute("BEGIN;\n" + Q.insert_report, params)
            names = [d[0] for d in cur.description]
            history = dict(zip(names, cur.fetchone(), strict=True))
            cur.execute("COMMIT")
            report = {
                k: v
                for k, v in history.items()
                if k not in ("history_id", "history_date", "history_change_reason", "history_type", "history_user")
            }
            report_json = dumps_str(
                {
                    **report,
                    "intake_total": 750,
                    "output_total": 400,
                    "fluid_balance": 350,
                    "shift": "D",
                    "pk": report["id"],
                }
            )
            # a new history row is broadcast with its (empty) change-reason log
            history_json = dumps_str({**history, "history_change_reason_log": [], "pk": history["history_id"]})
            patient_json = dumps_str(
                {
                    "id": 1,
                    "first_name": "Bench",
                    "last_name": "Seed-1",
                    "admission_date": "2026-01-05T08:00:00Z",
                    "dismissal_date": None,
                    "created_at": now.isoformat(),
                    "updated_at": now.isoformat(),
                    "pk": 1,
                }
            )
            cur.execute("ANALYZE")

            def lit(value: Any) -> str:
                return cur.mogrify("%s", (value,)).decode()

            defs = {name: lit(value) for name, value in REPORT.items()}
            defs.update(
                {
                    "actor": str(actor),
                    "key": lit(TOKEN),
                    "time": lit(now),
                    "limit": "NULL",
                    "offset": "0",
                    "streams": lit(["reports", "history"]),
                    "actions": lit(["create", "create"]),
                    "datas": lit([report_json, history_json]),
                    "p_streams": lit(["patients"]),
                    "p_actions": lit(["update"]),
                    "p_datas": lit([patient_json]),
                    "first_name": lit("Bench"),
                    "last_name": lit("pgbench"),
                    "admission_date": lit(dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC)),
                    "dismissal_date": "NULL",
                }
            )
    finally:
        conn.close()
    return url, [f"{k}={v}" for k, v in defs.items()]


async def _run(args: list[str], timeout: float) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(errors="replace")


async def pgbench(
    url: str, name: str, script: str, defs: list[str], clients: int, threads: int, seconds: float, workdir: Path
) -> dict[str, Any]:
    parts = urlsplit(url)
    path = workdir / f"{name}.sql"
    path.write_text(script)
    prefix = workdir / f"log_{name}"
    args = [
        "pgbench",
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
        "-n",
        "-M",
        "simple",
        "-c",
        str(clients),
        "-j",
        str(threads),
        "-T",
        f"{seconds:g}",
        "-f",
        str(path),
        "--log",
        f"--log-prefix={prefix}",
        *[x for d in defs for x in ("-D", d)],
        parts.path.lstrip("/"),
    ]
    code, out = await _run(args, seconds + 60)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    processed = re.search(r"number of transactions actually processed: (\d+)", out)
    samples: list[float] = []
    for log in workdir.glob(f"log_{name}.*"):
        for line in log.read_text().splitlines():
            cols = line.split()
            if len(cols) >= 3 and cols[2].isdigit():
                samples.append(float(cols[2]))
    stats = summarize_ms(samples)
    aborted = "aborted" in out
    return {
        "tps": float(tps.group(1)) if tps else None,
        "latency_avg_ms": float(lat.group(1)) if lat else None,
        "p50_ms": stats["p50_ms"],
        "p99_ms": stats["p99_ms"],
        "transactions": int(processed.group(1)) if processed else None,
        "failed": int(failed.group(1)) if failed else None,
        "aborted": aborted,
        "exit": code,
        "clients": clients,
        "threads": threads,
        "seconds": seconds,
        **({"output": out[-2000:]} if (code or aborted or not tps) else {}),
    }


async def redis_publish(redis_url: str, requests: int, clients: int) -> dict[str, Any]:
    parts = urlsplit(redis_url)
    args = [
        "redis-benchmark",
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 6379),
        "-q",
        "-n",
        str(requests),
        "-c",
        str(clients),
        "--csv",
        "PUBLISH",
        "bench:ch",
        "hello",
    ]
    code, out = await _run(args, 120)
    rows = [line for line in out.splitlines() if line.startswith('"PUBLISH')]
    if not rows:
        return {"error": out[-500:], "exit": code}
    cols = [c.strip('"') for c in rows[-1].split('","')]
    return {
        "rps": float(cols[1]),
        "avg_ms": float(cols[2]),
        "p50_ms": float(cols[4]),
        "p99_ms": float(cols[6]),
        "requests": requests,
        "clients": clients,
    }


LOCK = "SELECT pg_advisory_xact_lock(1684368999)\\;\n"
# (result name, script, clients, transformation) -- the limits of every run
STANDARD = [
    ("create_min", "create_min", 16, None),
    ("create_full", "create_full", 16, None),
    ("retrieve", "retrieve", 16, None),
    ("list", "list", 16, None),
    ("patch", "patch", 16, None),
]
# --diagnose: where the report create's time goes (not limits of the service's SQL as it is)
DIAGNOSTIC = [
    ("create_full_c4", "create_full", 4, None),
    ("create_full_c10", "create_full", 10, None),
    ("create_full_nolock", "create_full", 16, lambda s: s.replace(LOCK, "")),
    ("create_full_sync_off", "create_full", 16, lambda s: "SET synchronous_commit = off;\n" + s),
]


async def run(
    admin_url: str, redis_url: str, seconds: float, publish_requests: int, diagnose: bool = False, cpu: Any = None
) -> dict[str, Any]:
    missing = [tool for tool in ("pgbench", "redis-benchmark") if not shutil.which(tool)]
    results: dict[str, Any] = {}
    if "redis-benchmark" not in missing:
        results["redis_publish"] = await redis_publish(redis_url, publish_requests, 16)
        print(f"  redis PUBLISH            {results['redis_publish'].get('rps')} req/s", flush=True)
    if "pgbench" not in missing:
        url, defs = await asyncio.to_thread(prepare, admin_url)
        built = scripts()
        with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as tmp:
            for name, key, clients, change in STANDARD + (DIAGNOSTIC if diagnose else []):
                script = change(built[key]) if change else built[key]
                if change and script == built[key]:
                    continue  # the SQL changed under us; the variant would measure nothing new
                t0 = time.time()
                r = await pgbench(url, name, script, defs, clients, min(clients, 2), seconds, Path(tmp))
                t1 = time.time()
                if cpu is not None and (b := cpu.breakdown(t0 + 1, t1 - 1)) and r.get("tps"):
                    r["cpu"] = b
                    r["postgres_cpu_ms_per_tx"] = round(1000 * b["postgres"] / r["tps"], 3)
                results[f"pgbench_{name}"] = r
                print(
                    f"  pgbench {name:<16} {r['tps']} tps  avg {r['latency_avg_ms']} ms  p99 {r['p99_ms']} ms"
                    + ("  ABORTED" if r["aborted"] else ""),
                    flush=True,
                )
    if missing:
        results["missing_tools"] = missing
    return {"limits": results, "pgbench_scripts": scripts()}
