"""Seeding thousands of rows at once with SQL (generate_series), for the
tests of lists, pagination and plans.

Keys repeat on purpose (three patients share an admission date, two
reports a time, ...), so that page and chunk boundaries fall inside runs of
equal keys and the id must break the tie.
"""

from __future__ import annotations

from typing import Any

T0 = "2024-01-01T00:00:00Z"


def seed_patients(sql: Any, count: int, *, ward: int = 1, dismissed_every: int = 4, first_name: str = "First") -> None:
    """``count`` patients of ``ward``, three to an admission hour; every
    ``dismissed_every``-th is dismissed (0: none)."""
    sql(
        "INSERT INTO patients (first_name, last_name, admission_date, dismissal_date, ward) "
        "SELECT %(first)s || g, 'Last' || g, %(t0)s::timestamptz + (g / 3) * interval '1 hour', "
        "       CASE WHEN %(every)s > 0 AND g %% %(every)s = 0 "
        "            THEN %(t0)s::timestamptz + (g / 3) * interval '1 hour' + interval '3 days' END, "
        "       %(ward)s "
        "  FROM generate_series(1, %(n)s) g ORDER BY g",
        {"first": first_name, "t0": T0, "every": dismissed_every, "ward": ward, "n": count},
    )


def seed_reports(sql: Any, count: int, *, patients: int, text: int = 0) -> None:
    """``count`` reports spread over the first ``patients`` patients (by id),
    two to a time; ``text``: characters in each of the three free texts."""
    sql(
        "INSERT INTO reports (patient, time, status, monitoring_interval, warning_signs, additional_info, "
        "                     medical_advice) "
        "SELECT p.first + g %% %(patients)s, %(t0)s::timestamptz + (g / 2) * interval '10 minutes', "
        "       'febrile', 4, repeat('w', %(text)s), repeat('a', %(text)s), repeat('m', %(text)s) "
        "  FROM generate_series(0, %(n)s - 1) g, (SELECT min(id) AS first FROM patients) p ORDER BY g",
        {"t0": T0, "patients": patients, "n": count, "text": text},
    )


def seed_history(sql: Any) -> None:
    """One "+" history row per report, made a minute after its time."""
    sql(
        "INSERT INTO report_history "
        "SELECT nextval('report_history_history_id_seq'), r.time + interval '1 minute', NULL, '+', NULL, r.* "
        "  FROM reports r ORDER BY r.id"
    )


def seed_notifications(sql: Any) -> None:
    """One notification per report, at its time; every third acknowledged."""
    sql(
        "INSERT INTO notifications (type, severity, patient, report, message, created_at, acknowledged_at) "
        "SELECT 'warning_signs', 'critical', r.patient, r.id, 'Seeded ' || r.id, r.time, "
        "       CASE WHEN r.id %% 3 = 0 THEN r.time + interval '5 minutes' END "
        "  FROM reports r ORDER BY r.id",
        {},  # (with parameters, "%%" is "%")
    )


def seed_users(sql: Any, count: int) -> None:
    sql(
        "INSERT INTO users (username, password, email, date_joined) "
        "SELECT 'seeded' || g, 'not a hash', 'seeded' || g || '@example.com', "
        "       %(t0)s::timestamptz + (g / 3) * interval '1 minute' "
        "  FROM generate_series(1, %(n)s) g ORDER BY g",
        {"t0": T0, "n": count},
    )


def seed_wards(sql: Any, count: int) -> None:
    sql(
        "INSERT INTO wards (name, created_at) "
        "SELECT 'Ward ' || g, %(t0)s::timestamptz + (g / 3) * interval '1 minute' "
        "  FROM generate_series(1, %(n)s) g ORDER BY g",
        {"t0": T0, "n": count},
    )


def seed_audit(sql: Any, count: int) -> None:
    sql(
        "INSERT INTO audit_log (at, actor, action, target_type, target_id, after) "
        "SELECT %(t0)s::timestamptz + (g / 3) * interval '1 minute', NULL, 'ward.create', 'ward', g, "
        "       jsonb_build_object('name', 'Ward ' || g) "
        "  FROM generate_series(1, %(n)s) g ORDER BY g",
        {"t0": T0, "n": count},
    )


def count_of(sql: Any, table: str) -> int:
    ((count,),) = sql(f"SELECT count(*) FROM {table}")  # a table name of ours, not input
    return int(count)
