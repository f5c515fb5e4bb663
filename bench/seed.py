"""A realistic archive for the scale scenario, seeded with set-based SQL.

The model (issue 13): one 40-bed dengue ward (ward 1). A patient is
admitted every 4.5 h and stays 5-10 days (uniform), so the ward holds about
40 patients at any time; the newest 40 are still admitted, everyone before
them is dismissed. Each patient has a report (observation round) every 4 h
from admission to dismissal (to "now" for the admitted), and every 2 h in
between during the 24-h critical phase (hours 48-72 of the stay): about 51
reports a patient. Values follow the phase (febrile, critical, recovery);
every report has its "+" history row written as record_report_history()
writes it (history columns, then the report's), and one in 25 was edited
once (a "~" row). Notifications are what the rules would raise on those
values (critical phase, high fever, low platelets, low SpO2, narrow pulse
pressure, warning signs, hematocrit rise) plus an observation-due reminder
for 3 % of rounds; all are acknowledged except the last 12 h of the
admitted patients'. Events are not seeded (they are pruned after 7 days).

Sizes: A = 1,000 patients / ~51k reports, B = 10,000 / ~515k,
C = 40,000 / ~2.06M. Everything is INSERT ... SELECT over generate_series
in a database of its own (``dengue_bench_scale_<N>``), migrated with yoyo
like any other; the secondary indexes of the three big tables are dropped
for the load and built again afterwards (the same definitions, read from
pg_indexes), foreign-key triggers are skipped (session_replication_role =
replica: the rows are consistent by construction, their ward included, which
the triggers of 0013 would otherwise set), then VACUUM ANALYZE.
A later run finds the database by name and a ``bench_seed`` row of the
same size and reuses it; if it was seeded more than an hour ago, the 40
admitted patients' rows are moved forward in time so that their reports
are again in the last 72 h.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from service.auth.passwords import hash_password
from service.auth.sessions import key_hash
from service.setup_db import database_on

from .target import fresh_database

SEED_VERSION = 2  # 2: rows carry their ward (0013)
WARD = 1
BEDS = 40
ADMISSION_EVERY_H = 4.5
NURSE = "bench-nurse"
STAFF = "bench-staff"
BIG_TABLES = ("reports", "report_history", "notifications")


def database_name(patients: int) -> str:
    return f"dengue_bench_scale_{patients}"


def _connect(url: str) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


def existing_seed(admin_url: str, patients: int) -> dict[str, Any] | None:
    """The bench_seed row of an earlier seed of this size, if it is complete."""
    try:
        conn = _connect(database_on(admin_url, database_name(patients)))
    except psycopg2.OperationalError:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('bench_seed') IS NOT NULL")
            row = cur.fetchone()
            if not row or not row[0]:
                return None
            cur.execute(
                "SELECT patients, reports, history, notifications, ref, seconds, version, seeded_at"
                " FROM bench_seed ORDER BY seeded_at DESC LIMIT 1"
            )
            found = cur.fetchone()
    finally:
        conn.close()
    if found is None or found[0] != patients or found[6] != SEED_VERSION:
        return None
    keys = ("patients", "reports", "history", "notifications", "ref", "seconds", "version", "seeded_at")
    return dict(zip(keys, found, strict=True))


# The report's values as SQL expressions of the generated row "o" (hours
# since admission h, phase, the patient's base values p.*).
REPORT_VALUES = """
    o.pid, o.t,
    least(30, 2 + floor(o.h / 24))::int,
    round((CASE o.phase WHEN 'febrile' THEN 37.8 + random() * 1.5
                        WHEN 'critical' THEN 36.5 + random() * 1.5
                        ELSE 36.4 + random() * 0.8 END)::numeric, 1),
    (70 + random() * 50)::int,
    (16 + random() * 10)::int,
    o.sys,
    o.sys - CASE WHEN o.phase = 'critical' AND random() < 0.03 THEN 15 ELSE (25 + random() * 20)::int END,
    (ARRAY['soft', 'normal', 'liquid', 'NPO'])[1 + (o.rid %% 4)::int],
    (100 + random() * 500)::int,
    CASE WHEN o.phase = 'critical' THEN (200 + random() * 600)::int ELSE (random() * 200)::int END,
    0,
    CASE WHEN o.h %% 8 = 0 THEN (800 + random() * 1200)::int END,
    (100 + random() * 400)::int,
    NULL, NULL, NULL,
    CASE WHEN o.h %% 8 = 0 THEN (600 + random() * 1000)::int END,
    CASE WHEN random() < 0.3 THEN (random() * 6)::int END,
    NULL, NULL,
    (1 + random() * 4)::int,
    CASE WHEN o.h = 0 THEN o.weight END,
    CASE WHEN o.h = 0 THEN o.height END,
    CASE WHEN random() < 0.04 THEN 92 + (random() * 2)::int ELSE 95 + (random() * 5)::int END,
    CASE o.phase WHEN 'critical' THEN (o.hct0 * (1.05 + random() * 0.17))::int
                 ELSE (o.hct0 * (0.95 + random() * 0.1))::int END,
    CASE o.phase WHEN 'febrile' THEN (120 + random() * 130)::int
                 WHEN 'critical' THEN (75 + random() * 100)::int
                 ELSE (100 + random() * 110)::int END,
    round((2 + random() * 6)::numeric, 2),
    o.phase,
    CASE WHEN o.phase = 'critical' THEN 2 ELSE 4 END,
    CASE WHEN o.phase = 'critical' AND random() < 0.05
         THEN (ARRAY['abdominal pain', 'persistent vomiting', 'mucosal bleed', 'lethargy'])[1 + (o.rid %% 4)::int]
         ELSE '' END,
    CASE WHEN random() < 0.2 THEN 'Drinking well; family at the bedside.' ELSE '' END,
    '',
    o.nurse,
    o.t + interval '5 minutes',
    o.t + CASE WHEN o.rid %% 25 = 7 THEN interval '25 minutes' ELSE interval '5 minutes' END,
    %(ward)s
"""

REPORT_COLUMNS = (
    "patient, time, day_of_fever, fever, pulse, respirations, bp_systolic, bp_diastolic, diet, oral_fluids, "
    "parenteral_fluids, other_fluids, intake_8h, urine_output, uf, emesis, drainage, output_8h, pain_score, "
    "abdominal_circumference, stools, urine_count, weight, height, o2_saturation, hematocrit, platelet_count, "
    "wbc_count, status, monitoring_interval, warning_signs, additional_info, medical_advice, created_by, "
    "created_at, updated_at, ward"
)

FIRST_NAMES = [
    "Anh", "Bao", "Chi", "Dung", "Hoa", "Huong", "Khanh", "Lan", "Linh", "Mai", "Minh", "Nam", "Ngoc",
    "Phuong", "Quang", "Thao", "Thu", "Trang", "Tuan", "Van", "Siti", "Nurul", "Ahmad", "Rina", "Dewi",
    "Budi", "Maria", "Jose", "Ana", "Luis", "Priya", "Ravi",
]  # fmt: skip
LAST_NAMES = [
    "Nguyen", "Tran", "Le", "Pham", "Hoang", "Phan", "Vu", "Dang", "Bui", "Do", "Ho", "Ngo", "Duong", "Ly",
    "Santos", "Reyes", "Cruz", "Bautista", "Garcia", "Lim", "Tan", "Wijaya", "Sari", "Kumar", "Perera",
    "Silva", "Fernando", "Rahman", "Hassan", "Ismail", "Ong", "Chua", "Lee",
]  # fmt: skip


def _index_definitions(cur: Any) -> list[tuple[str, str]]:
    """(name, CREATE INDEX ...) of the big tables' indexes that are not constraints."""
    cur.execute(
        """
        SELECT i.indexname, i.indexdef
          FROM pg_indexes i
         WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
         ORDER BY i.tablename, i.indexname""",
        (list(BIG_TABLES),),
    )
    return [(r[0], r[1]) for r in cur.fetchall()]


def _report_columns(cur: Any) -> list[str]:
    cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'reports' ORDER BY ordinal_position"
    )
    return [r[0] for r in cur.fetchall()]


def seed(admin_url: str, patients: int, log: Any = print) -> dict[str, Any]:
    """Drop, create, migrate and fill ``dengue_bench_scale_<patients>``; returns its bench_seed row."""
    if patients < BEDS + 1:
        raise ValueError(f"--patients must be more than {BEDS}")
    t0 = time.monotonic()
    name = database_name(patients)
    url = fresh_database(admin_url, name)
    conn = _connect(url)
    steps: dict[str, float] = {}

    def step(label: str, sql: str, params: Any = None) -> None:
        s = time.monotonic()
        with conn.cursor() as cur:
            cur.execute(sql, params if params is not None else {})
        steps[label] = round(time.monotonic() - s, 1)
        log(f"    seed: {label} ({steps[label]} s)")

    try:
        with conn.cursor() as cur:
            cur.execute(
                "SET synchronous_commit = off; SET maintenance_work_mem = '1GB'; SET work_mem = '256MB';"
                " SET session_replication_role = replica"
            )
            ref = dt.datetime.now(dt.UTC).replace(microsecond=0)
            hashed = hash_password(secrets.token_urlsafe(24))  # nobody logs in with it: sessions are made below
            cur.execute(
                "INSERT INTO users (username, password, first_name, last_name) VALUES (%s, %s, 'Ward', 'Nurse')"
                " RETURNING id",
                (NURSE, hashed),
            )
            nurse = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO users (username, password, is_staff) VALUES (%s, %s, true) RETURNING id", (STAFF, hashed)
            )
            cur.execute("INSERT INTO user_wards (user_id, ward) VALUES (%s, %s)", (nurse, WARD))
            indexes = _index_definitions(cur)
            for index_name, _ in indexes:
                cur.execute(f'DROP INDEX "{index_name}"')
            columns = _report_columns(cur)
        params = {
            "n": patients,
            "ref": ref,
            "beds": BEDS,
            "every": ADMISSION_EVERY_H,
            "ward": WARD,
            "nurse": nurse,
            "first": FIRST_NAMES,
            "last": LAST_NAMES,
        }
        step("setseed", "SELECT setseed(0.42)")
        step(
            "patients",
            """
            INSERT INTO patients (id, first_name, last_name, admission_date, dismissal_date, ward,
                                  created_at, updated_at)
            SELECT i,
                   (%(first)s::text[])[1 + (i * 7) %% cardinality(%(first)s::text[])],
                   (%(last)s::text[])[1 + (i * 13 + i / 97) %% cardinality(%(last)s::text[])],
                   adm,
                   dis,
                   %(ward)s,
                   adm - interval '10 minutes',
                   coalesce(dis, adm)
              FROM (SELECT i, adm,
                           CASE WHEN i > %(n)s - %(beds)s THEN NULL
                                ELSE least(adm + make_interval(hours => 120 + floor(random() * 121)::int),
                                           %(ref)s::timestamptz - interval '1 hour') END AS dis
                      FROM (SELECT i, %(ref)s::timestamptz
                                      - make_interval(secs => ((%(n)s - i) * %(every)s + 1) * 3600) AS adm
                              FROM generate_series(1, %(n)s) AS i) a) b""",
            params,
        )
        step(
            "reports",
            f"""
            INSERT INTO reports (id, {REPORT_COLUMNS})
            SELECT row_number() OVER (ORDER BY o.t, o.pid), {REPORT_VALUES}
              FROM (SELECT s.*, (s.pid * 100 + s.h) AS rid,
                           CASE WHEN s.h < 48 THEN 'febrile' WHEN s.h < 72 THEN 'critical' ELSE 'recovery' END AS phase,
                           (100 + (s.pid * 37) %% 30) AS sys
                      FROM (SELECT p.id AS pid, p.admission_date + make_interval(hours => g.h) AS t, g.h,
                                   40 + (p.id * 11) %% 50 AS weight, 145 + (p.id * 7) %% 40 AS height,
                                   38 + (p.id * 3) %% 7 AS hct0, %(nurse)s::bigint AS nurse
                              FROM patients p
                             CROSS JOIN LATERAL (
                                   SELECT 4 * k AS h
                                     FROM generate_series(0, floor(extract(epoch FROM
                                          coalesce(p.dismissal_date, %(ref)s::timestamptz) - p.admission_date)
                                          / 3600 / 4)::int) AS k
                                   UNION ALL
                                   SELECT 50 + 4 * k FROM generate_series(0, 5) AS k
                                    WHERE p.admission_date + make_interval(hours => 50 + 4 * k)
                                          <= coalesce(p.dismissal_date, %(ref)s::timestamptz)) AS g) s) o
             ORDER BY o.t, o.pid""",
            params,
        )
        history_values = ", ".join(f"r.{c}" if c != "updated_at" else "r.created_at" for c in columns)
        step(
            "history +",
            f"""
            INSERT INTO report_history
            SELECT row_number() OVER (ORDER BY r.created_at, r.id), r.created_at, NULL, '+', r.created_by,
                   {history_values}
              FROM reports r ORDER BY r.created_at, r.id""",
        )
        edited_values = ", ".join(f"r.{c}" for c in columns)
        step(
            "history ~",
            f"""
            INSERT INTO report_history
            SELECT (SELECT max(history_id) FROM report_history) + row_number() OVER (ORDER BY r.updated_at, r.id),
                   r.updated_at, CASE WHEN r.id %% 2 = 0 THEN 'Typo in the pulse' END, '~', r.created_by,
                   {edited_values}
              FROM reports r WHERE r.id %% 25 = 7 ORDER BY r.updated_at, r.id""",
        )
        step(
            "notifications",
            """
            INSERT INTO notifications (type, severity, patient, report, message, created_at,
                                       acknowledged_at, acknowledged_by, ward)
            SELECT n.type, n.severity, n.patient, n.report, n.message, n.at,
                   CASE WHEN p.dismissal_date IS NULL AND n.at > %(ref)s::timestamptz - interval '12 hours' THEN NULL
                        ELSE n.at + make_interval(mins => 5 + (n.report %% 85)::int) END,
                   CASE WHEN p.dismissal_date IS NULL AND n.at > %(ref)s::timestamptz - interval '12 hours' THEN NULL
                        ELSE %(nurse)s::bigint END,
                   p.ward
              FROM (
                SELECT r.patient, r.id AS report, r.created_at AS at, f.type, f.severity, f.message
                  FROM reports r
                  JOIN patients pp ON pp.id = r.patient
                 CROSS JOIN LATERAL (VALUES
                   ('critical_phase', 'critical', r.time = pp.admission_date + interval '50 hours',
                    'The patient has entered the critical phase: watch closely for plasma leakage and shock.'),
                   ('warning_signs', 'critical', r.warning_signs <> '',
                    'Warning signs recorded: ' || r.warning_signs || '. A doctor must review the patient now.'),
                   ('narrow_pulse_pressure', 'critical', r.bp_systolic - r.bp_diastolic <= 20,
                    'Narrow pulse pressure: ' || r.bp_systolic || '/' || r.bp_diastolic
                    || ' mmHg. A sign of shock: assess now.'),
                   ('low_o2_saturation', 'warning', r.o2_saturation < 95,
                    'Low oxygen saturation: ' || r.o2_saturation || ' %% (below 95 %%).'),
                   ('hematocrit_rise', 'warning', r.hematocrit * 100 >= (38 + (r.patient * 3) %% 7) * 120,
                    'Hematocrit ' || r.hematocrit || ' %% is 20 %% or more above the first recorded value.'),
                   ('low_platelets', 'warning', r.platelet_count < 100,
                    'Platelets ' || r.platelet_count || ' x10³/µL (below 100). Watch for bleeding.'),
                   ('high_fever', 'warning', r.fever >= 39,
                    'High fever: ' || r.fever || ' °C (39.00 °C or more).'),
                   ('observation_due', 'info', r.id %% 33 = 5,
                    'Observation due for this patient.')
                 ) AS f (type, severity, hit, message)
                 WHERE f.hit
              ) n
              JOIN patients p ON p.id = n.patient
             ORDER BY n.at, n.report, n.type""",
            params,
        )
        step(
            "reminders",
            """
            INSERT INTO reminders (patient, report, run_at)
            SELECT DISTINCT ON (r.patient) r.patient, r.id, r.time + make_interval(hours => r.monitoring_interval)
              FROM reports r JOIN patients p ON p.id = r.patient
             WHERE p.dismissal_date IS NULL
             ORDER BY r.patient, r.time DESC, r.id DESC""",
        )
        step(
            "sequences",
            """
            SELECT setval('patients_id_seq', (SELECT max(id) FROM patients)),
                   setval('reports_id_seq', (SELECT max(id) FROM reports)),
                   setval('report_history_history_id_seq', (SELECT max(history_id) FROM report_history))""",
        )
        s = time.monotonic()
        with conn.cursor() as cur:
            for _, definition in indexes:
                cur.execute(definition)
        steps["indexes"] = round(time.monotonic() - s, 1)
        log(f"    seed: {len(indexes)} indexes built again ({steps['indexes']} s)")
        step("vacuum analyze", "VACUUM (ANALYZE)")
        with conn.cursor() as cur:
            cur.execute(
                "SELECT (SELECT count(*) FROM reports), (SELECT count(*) FROM report_history),"
                " (SELECT count(*) FROM notifications), (SELECT count(*) FROM notifications"
                " WHERE acknowledged_at IS NULL)"
            )
            reports, history, notifications, open_notifications = cur.fetchone()
            seconds = round(time.monotonic() - t0, 1)
            cur.execute(
                """CREATE TABLE bench_seed (patients int, reports bigint, history bigint, notifications bigint,
                                            ref timestamptz, seconds float8, version int, steps jsonb,
                                            seeded_at timestamptz DEFAULT now())"""
            )
            cur.execute(
                "INSERT INTO bench_seed (patients, reports, history, notifications, ref, seconds, version, steps)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    patients,
                    reports,
                    history,
                    notifications,
                    ref,
                    seconds,
                    SEED_VERSION,
                    psycopg2.extras.Json(steps),
                ),
            )
    finally:
        conn.close()
    log(
        f"    seeded {patients:,} patients, {reports:,} reports, {history:,} history rows, "
        f"{notifications:,} notifications ({open_notifications} open) in {seconds} s"
    )
    return {
        "patients": patients,
        "reports": reports,
        "history": history,
        "notifications": notifications,
        "open_notifications": open_notifications,
        "ref": ref.isoformat(),
        "seconds": seconds,
        "steps": steps,
        "reused": False,
    }


def refresh(url: str, found: dict[str, Any], log: Any = print) -> dict[str, Any]:
    """A reused seed: move the admitted patients' rows forward to now (if an
    hour or more has passed), so that their reports are in the last 72 h."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    shift = now - found["ref"]
    if shift >= dt.timedelta(hours=1):
        conn = _connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("BEGIN; SET LOCAL session_replication_role = replica")
                params = {"shift": shift, "now": now}
                cur.execute(
                    "CREATE TEMP TABLE admitted ON COMMIT DROP AS SELECT id FROM patients WHERE dismissal_date IS NULL"
                )
                for sql in (
                    "UPDATE patients SET admission_date = admission_date + %(shift)s,"
                    " created_at = created_at + %(shift)s, updated_at = updated_at + %(shift)s"
                    " WHERE id IN (SELECT id FROM admitted)",
                    "UPDATE reports SET time = time + %(shift)s, created_at = created_at + %(shift)s,"
                    " updated_at = updated_at + %(shift)s WHERE patient IN (SELECT id FROM admitted)",
                    "UPDATE notifications SET created_at = created_at + %(shift)s,"
                    " acknowledged_at = acknowledged_at + %(shift)s WHERE patient IN (SELECT id FROM admitted)",
                    "UPDATE reminders SET run_at = run_at + %(shift)s WHERE patient IN (SELECT id FROM admitted)",
                    "UPDATE bench_seed SET ref = %(now)s",
                ):
                    cur.execute(sql, params)
                # report_history is append-only (a trigger refuses updates): the
                # admitted patients' history keeps its dates; it is not what the board reads.
                cur.execute("COMMIT")
                cur.execute("ANALYZE patients, reports, notifications")
        finally:
            conn.close()
        log(f"    reused the seed of {found['seeded_at']:%Y-%m-%d %H:%M}; admitted patients moved forward by {shift}")
    return {
        **{k: v for k, v in found.items() if k not in ("ref", "seeded_at")},
        "ref": now.isoformat() if shift >= dt.timedelta(hours=1) else found["ref"].isoformat(),
        "seeded_at": found["seeded_at"].isoformat(),
        "reused": True,
    }


def prepare(admin_url: str, patients: int, log: Any = print) -> tuple[str, dict[str, Any]]:
    """The seeded database's URL and its description (seeded now or reused)."""
    url = database_on(admin_url, database_name(patients))
    found = existing_seed(admin_url, patients)
    if found is not None:
        return url, refresh(url, found, log)
    log(f"  seeding {database_name(patients)} ({patients:,} patients; C = 40,000 takes minutes)")
    return url, seed(admin_url, patients, log)


def new_session(url: str, username: str) -> str:
    """A session key for a bench user (what a login would give, without the argon2 hash)."""
    key = secrets.token_hex(20)
    conn = _connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO auth_sessions (key_hash, user_id, client)"
                " SELECT %s, id, 'bench' FROM users WHERE username = %s RETURNING id",
                (key_hash(key), username),
            )
            if cur.fetchone() is None:
                raise RuntimeError(f"no user {username!r} in the seeded database")
    finally:
        conn.close()
    return key
