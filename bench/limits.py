"""The machine's limits, measured in the same run: redis-benchmark PUBLISH and
pgbench running the service's own SQL (the named queries in sql/*.sql).

Each pgbench script sends what the service sends to PostgreSQL for one
request of the REST scenarios (bench/wrk/bench.lua), round trip for round
trip, built FROM the named queries so that a changed query changes the
script:

* a single-statement query is PREPAREd once per connection and then sent as
  ``EXECUTE dq_<name>(...)``, as service/db.py does (``Query.prepare`` and
  ``Query.execute``); the first transaction of each pgbench client sets what
  every pooled connection sets (``SET TIME ZONE 'UTC'``) and PREPAREs the
  queries of its script, under ``\\if :prepared = 0`` (pgbench variables
  last as long as the client);
* a script query (``commit_with_events``) and a list planned on each call
  (``list_patients``: ``-- plan: each call``) are sent as their text;
* every ``%(name)s`` becomes the pgbench variable ``:name``: numbers drawn
  per transaction with ``\\set`` (the patient at random among 100), every
  other value defined with ``-D name=<literal>``, rendered by psycopg2 as the
  service's driver renders it (``EXECUTE`` arguments are literals there
  too); a query whose parameter names clash with another's in the same
  script reads them with a prefix (``u_``, ``c_``, ``p_``). The new report's
  ``id`` and ``history_id`` are captured with ``\\gset r_``;
* statements the service sends in one round trip are chained with ``\\;``
  into one pgbench command (-M simple): ``BEGIN`` with a transaction's first
  statement, the statements queued with ``Tx.later()`` with
  ``commit_with_events``.

The request user is what the REST scenarios log in as: a nurse of ward 1
(not staff), so the lists and reads carry ``wards = ARRAY[1]``; the session
key is looked up by its SHA-256 with the idle/max-age bounds of the
service's settings (``session_user``). The events' arrays (streams,
actions, JSON data, wards, prior wards) are built by the service's own code
(``emit_history_rows``, ``Event.of``) from a real report and patient.

* create_min  = BEGIN + insert_report, then commit_with_events (the report,
                its history row and its two events in one transaction): the
                floor of a report write, without authentication, patient
                lock, rules or reminder;
* create_full = POST /api/reports/ (service/reports/actions.py create):
                session_user; BEGIN + lock_patients; insert_report;
                rule_context; schedule_reminder (queued by Tx.later) sent with
                commit_with_events. 5 round trips;
* retrieve    = GET /api/patients/<id>/: session_user; get_patient. 2;
* list        = GET /api/patients/ (a whole list, read in chunks of
                lists.CHUNK rows: the 100 patients are one chunk):
                session_user; list_patients with no filter and no keyset. 2;
* patch       = PATCH /api/patients/<id>/ with a new last_name
                (service/patients/actions.py update): session_user;
                BEGIN + lock_patient; update_patient; schedule_reminder sent
                with commit_with_events (one patients event). 4.

Not mirrored: what only Python does (validation, serialisation, the rules'
evaluation: this body raises no rule, so no insert_notifications, as in the
REST scenario), the HTTP layer and the pool; ``Idempotency-Key`` handling
(claim_idempotency_key first, store_reply with the COMMIT), because
bench.lua sends no key; ward checks of a PATCH that changes the ward (this
one does not). The session's ``last_used`` touch is mirrored as it is:
session_user makes it itself, at most once a minute.
The WebSocket scenario's ratios divide by retrieve and list, whose
session_user round trip a socket does not make per frame.

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
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import psycopg2

from service import lists
from service.auth import sessions
from service.config import load_settings
from service.context import Context, User
from service.db import Database, Tx
from service.events import UPDATE, Event
from service.patients.actions import STREAM as PATIENTS_STREAM
from service.reminders import CHANNEL as REMINDER_CHANNEL
from service.reports.history import emit_history_rows
from service.sqlfiles import Q, Query

from .common import summarize_ms
from .target import fresh_database

LIMITS_DB = "dengue_bench_limits"
PATIENTS = 100
SESSION_KEY = "b" * 40  # a well-formed key (40 hex digits); only its SHA-256 is stored
PARAM = re.compile(r"%\((\w+)\)s")
PREPARED = re.compile(r"\bEXECUTE dq_(\w+)")

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


def _sent(query: Query, prefix: str, overrides: Mapping[str, str]) -> list[str]:
    """What the service sends for one named query (EXECUTE of its prepared
    statement, or a script's statements), comments dropped, %(x)s → :x."""
    text = query.execute if query.prepare is not None else query
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    text = PARAM.sub(lambda m: overrides.get(m.group(1), f":{prefix}{m.group(1)}"), "\n".join(lines))
    return [s.strip() for s in text.split(";") if s.strip()]


def command(
    *queries: Query,
    begin: bool = False,
    gset: str | None = None,
    prefix: str = "",
    overrides: Mapping[str, str] | None = None,
) -> str:
    """Queries sent in ONE round trip (one psycopg2 execute) → one pgbench
    command, statements chained with ``\\;``. A parameter ``x`` reads the
    variable ``:<prefix>x`` unless ``overrides`` gives its text."""
    statements = ["BEGIN"] if begin else []
    for q in queries:
        statements += _sent(q, prefix, overrides or {})
    body = "\\;\n".join(statements)
    return body + ("\n\\gset " + gset + "\n" if gset else ";\n")


def with_preparation(body: str) -> str:
    """The script, preceded by what each connection does once: the settings
    of service.db._on_connect and a PREPARE of every query it EXECUTEs."""
    names = list(dict.fromkeys(PREPARED.findall(body)))
    setup = ["SET TIME ZONE 'UTC'", "SET jit = off"]
    setup += [cast(str, getattr(Q, name).prepare) for name in names]
    return "\\if :prepared = 0\n" + "\\;\n".join(setup) + ";\n\\set prepared 1\n\\endif\n" + body


def scripts() -> dict[str, str]:
    auth = command(Q.session_user)
    patient = f"\\set patient random(1, {PATIENTS})\n"
    insert = command(Q.insert_report, gset="r_")
    report_pks = {"pks": "ARRAY[:r_id, :r_history_id]"}
    commit_report = command(Q.commit_with_events, prefix="c_", overrides=report_pks)
    raw = {
        "create_min": patient + command(Q.insert_report, begin=True, gset="r_") + commit_report,
        "create_full": auth
        + patient
        + command(Q.lock_patients, begin=True, overrides={"ids": "ARRAY[:patient]"})
        + insert
        + command(Q.rule_context, overrides={"id": ":r_id"})
        + command(
            Q.schedule_reminder,
            Q.commit_with_events,
            prefix="c_",
            overrides={**report_pks, "patient": ":patient", "channel": ":channel"},
        ),
        "retrieve": f"\\set id random(1, {PATIENTS})\n" + auth + command(Q.get_patient),
        "list": auth + command(Q.list_patients),
        "patch": f"\\set id random(1, {PATIENTS})\n"
        + auth
        + command(Q.lock_patient, begin=True)
        + command(Q.update_patient, prefix="u_", overrides={"id": ":id", "last_name": ":last_name"})
        + command(
            Q.schedule_reminder,
            Q.commit_with_events,
            prefix="p_",
            overrides={"pks": "ARRAY[:id]", "patient": ":id", "channel": ":channel"},
        ),
    }
    return {name: with_preparation(body) for name, body in raw.items()}


def event_arrays(events: Iterable[Event]) -> dict[str, list[Any]]:
    """The arrays Tx._commit passes to commit_with_events, but ``pks``: the
    scripts take those from the rows they have just written."""
    events = list(events)
    return {
        "streams": [e.stream for e in events],
        "actions": [e.action for e in events],
        "datas": [e.data.decode() for e in events],
        "wards": [e.ward for e in events],
        "prior_wards": [e.prior_ward for e in events],
    }


def parameters(
    user: User,
    now: dt.datetime,
    patient: Mapping[str, Any],
    report_events: Iterable[Event],
    patient_events: Iterable[Event],
) -> dict[str, Any]:
    """Every value the scripts take from ``-D`` (Python values, rendered by
    psycopg2 in prepare()): what the service passes for these requests."""
    settings = load_settings()
    values: dict[str, Any] = {
        **REPORT,
        "prepared": 0,  # set to 1 by each client once it has PREPAREd (with_preparation)
        # session_user
        "key_hash": sessions.key_hash(SESSION_KEY),
        **sessions.limits(settings),
        # the report create
        "actor": user.id,
        "time": now,
        "channel": REMINDER_CHANNEL,
        # get_patient, list_patients: the nurse's wards; a whole list has no filter
        "wards": user.scope(),
        "ward": None,
        "admitted": None,
        "search": None,
        "after_key": None,
        "after_id": None,
        "limit": lists.CHUNK,
        "offset": 0,
        # the patch: the locked row with the new last_name (update_patient)
        "last_name": "pgbench",
        **{f"u_{k}": patient[k] for k in PARAM.findall(Q.update_patient) if k not in ("id", "last_name")},
    }
    values.update({f"c_{k}": v for k, v in event_arrays(report_events).items()})
    values.update({f"p_{k}": v for k, v in event_arrays(patient_events).items()})
    return values


def prepare(admin_url: str) -> tuple[str, list[str]]:
    """A fresh, migrated database with one nurse of the only ward, a session
    of theirs and 100 patients (one with a report); returns its URL and the
    -D definitions."""
    url = fresh_database(admin_url, LIMITS_DB)
    settings = load_settings()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:

            def one(sql: str, params: Any = None) -> dict[str, Any]:
                cur.execute(sql, params)
                names = [d[0] for d in cur.description]
                row = cur.fetchone()
                assert row is not None, sql
                return dict(zip(names, row, strict=True))

            ward = one("SELECT min(id) AS id FROM wards")["id"]  # migration 0009 makes one
            actor = one("INSERT INTO users (username, password) VALUES ('bench', '!') RETURNING id")["id"]
            cur.execute("INSERT INTO user_wards (user_id, ward) VALUES (%s, %s)", (actor, ward))
            cur.execute(
                "INSERT INTO auth_sessions (key_hash, user_id, client) VALUES (%s, %s, 'bench')",
                (sessions.key_hash(SESSION_KEY), actor),
            )
            cur.execute(
                """INSERT INTO patients (first_name, last_name, admission_date, ward)
                   SELECT 'Bench', 'Seed-' || i, '2026-01-05T08:00:00Z', %s FROM generate_series(1, %s) i""",
                (ward, PATIENTS),
            )
            # the user as the service sees them through the session key
            key = {"key_hash": sessions.key_hash(SESSION_KEY), **sessions.limits(settings)}
            user = User.from_row(one(Q.session_user, key))
            # one real report create and patch, for the events as the service builds them
            history = one("BEGIN;\n" + Q.insert_report, {**REPORT, "patient": 1, "time": now, "actor": actor})
            cur.execute("COMMIT")
            tx = Tx(cast(Database, None))  # only collects the events (no connection)
            ctx = Context(cast(Database, None), settings, user)
            emit_history_rows(tx, [history], ctx, ward)
            current = one(Q.lock_patient, {"id": 1})
            patched = one(Q.update_patient, {**current, "last_name": "pgbench"})
            patient_event = Event.of(PATIENTS_STREAM, UPDATE, patched, ward=patched["ward"])
            cur.execute("ANALYZE")
            values = parameters(user, now, current, tx.events, [patient_event])
            defs = [f"{name}={cur.mogrify('%s', (value,)).decode()}" for name, value in values.items()]
    finally:
        conn.close()
    return url, defs


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
