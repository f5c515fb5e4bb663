"""The schema: yoyo apply and rollback on a real database, and its rules."""

from __future__ import annotations

import psycopg2
import pytest

from ..conftest import yoyo

APP_TABLES = {
    "users",
    "auth_sessions",
    "patients",
    "reports",
    "report_history",
    "report_history_reasons",
    "events",
    "event_horizon",
    "notifications",
    "reminders",
}


def _tables(url: str) -> set[str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            return {name for (name,) in cur.fetchall() if "yoyo" not in name}
    finally:
        conn.close()


@pytest.fixture
def scratch_url(scratch_database) -> str:
    return scratch_database("migrations")


def test_apply_rollback_apply_round_trip(scratch_url: str) -> None:
    applied = yoyo("apply", scratch_url)
    assert applied.returncode == 0, applied.stderr
    assert _tables(scratch_url) >= APP_TABLES

    rolled_back = yoyo("rollback", scratch_url, "--all")
    assert rolled_back.returncode == 0, rolled_back.stderr
    assert _tables(scratch_url) == set()

    again = yoyo("apply", scratch_url)
    assert again.returncode == 0, again.stderr
    assert _tables(scratch_url) >= APP_TABLES


def test_history_columns_mirror_report_columns(sql) -> None:
    """record_report_history() writes (history columns..., r.*): the orders must match."""

    def columns(table: str) -> list[tuple[str, str]]:
        return sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            (table,),
        )

    history = columns("report_history")
    assert [name for name, _ in history[:5]] == [
        "history_id",
        "history_date",
        "history_change_reason",
        "history_type",
        "history_user",
    ]
    assert history[5:] == columns("reports")


def test_database_refuses_out_of_range_values(sql) -> None:
    ((patient_id,),) = sql(
        "INSERT INTO patients (first_name, last_name, admission_date, ward) VALUES ('A', 'B', now(), 1) RETURNING id"
    )
    for column, value in [("fever", 46), ("pulse", -1), ("o2_saturation", 101), ("monitoring_interval", 0)]:
        with pytest.raises(psycopg2.errors.CheckViolation):
            sql(
                f"INSERT INTO reports (patient, time, monitoring_interval, {column}) VALUES (%s, now(), 4, %s)"
                if column != "monitoring_interval"
                else "INSERT INTO reports (patient, time, monitoring_interval) VALUES (%s, now(), %s)",
                (patient_id, value),
            )
    with pytest.raises(psycopg2.errors.CheckViolation):
        sql(
            "INSERT INTO reports (patient, time, monitoring_interval, bp_systolic, bp_diastolic) "
            "VALUES (%s, now(), 4, 90, 100)",
            (patient_id,),
        )
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        sql("INSERT INTO reports (patient, time, monitoring_interval) VALUES (999, now(), 4)")


def test_history_is_append_only_in_the_database(sql) -> None:
    ((patient_id,),) = sql(
        "INSERT INTO patients (first_name, last_name, admission_date, ward) VALUES ('A', 'B', now(), 1) RETURNING id"
    )
    sql(
        "WITH r AS (INSERT INTO reports (patient, time, monitoring_interval) VALUES (%s, now(), 4) RETURNING *) "
        "SELECT * FROM r, LATERAL record_report_history(r, '+', NULL, NULL)",
        (patient_id,),
    )
    sql("UPDATE report_history SET history_change_reason = 'checked'")
    with pytest.raises(psycopg2.Error, match="append-only"):
        sql("UPDATE report_history SET pulse = 10")


def test_reason_changes_are_logged_and_the_log_is_append_only(sql) -> None:
    """report_history_reasons (0006): the database logs every change of a
    reason, by whoever makes it, and refuses to rewrite or drop an entry."""
    ((patient_id,),) = sql(
        "INSERT INTO patients (first_name, last_name, admission_date, ward) VALUES ('A', 'B', now(), 1) RETURNING id"
    )
    ((history_id,),) = sql(
        "WITH r AS (INSERT INTO reports (patient, time, monitoring_interval) VALUES (%s, now(), 4) RETURNING *) "
        "SELECT h.history_id FROM r, LATERAL record_report_history(r, '+', NULL, NULL) h",
        (patient_id,),
    )
    ((user_id,),) = sql("INSERT INTO users (username, password, email) VALUES ('u', 'x', 'u@x') RETURNING id")

    def log() -> list[tuple[object, ...]]:
        return sql(
            "SELECT changed_by, previous FROM report_history_reasons WHERE history_id = %s ORDER BY id", (history_id,)
        )

    sql("UPDATE report_history SET history_change_reason = 'first'")  # outside the service: no actor
    sql("UPDATE report_history SET history_change_reason = 'first'")  # the same value: not a change
    sql(
        "BEGIN; SELECT set_config('dengue_ward.actor', %s, true); "
        "UPDATE report_history SET history_change_reason = 'second'; COMMIT",
        (str(user_id),),
    )
    sql("UPDATE report_history SET pulse = pulse")  # touches no reason: nothing logged
    assert log() == [(None, None), (user_id, "first")]

    for statement in (
        "UPDATE report_history_reasons SET previous = 'rewritten'",
        "UPDATE report_history_reasons SET changed_by = NULL",
        "UPDATE report_history_reasons SET changed_at = now() - interval '1 day'",
        "DELETE FROM report_history_reasons",
    ):
        with pytest.raises(psycopg2.errors.IntegrityConstraintViolation, match="report_history_reasons is append-only"):
            sql(statement)
    assert log() == [(None, None), (user_id, "first")]

    # The entries go only with their history row (a superuser's delete).
    sql("DELETE FROM report_history WHERE history_id = %s", (history_id,))
    assert log() == []
