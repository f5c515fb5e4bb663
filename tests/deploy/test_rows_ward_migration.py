"""Migration 0013: reports, their history and notifications carry their
patient's ward. Existing rows get it (a deleted patient's history the ward
they were in), the database keeps it right as rows are written and patients
move, even when the two race, and the rollback gives the old schema back."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg2

from ..conftest import yoyo
from .test_ward_migration import columns, run


def seed_two_wards(url: str) -> None:
    run(url, "INSERT INTO wards (name) VALUES ('Isolation ward')")  # 2, beside the migration's 1
    run(
        url,
        "INSERT INTO patients (first_name, last_name, admission_date, ward) VALUES "
        "('Ann', 'Ay', now(), 1), ('Bea', 'By', now(), 2), ('Cat', 'Cy', now(), 2)",
    )
    for patient in (1, 2, 3):
        write_report(url, patient)
    run(
        url,
        "INSERT INTO notifications (type, severity, patient, report, message) "
        "SELECT 'warning_signs', 'critical', patient, id, 'x' FROM reports",
    )


def write_report(url: str, patient: int) -> int:
    """A report and its "+" history row, as the service writes them."""
    ((report,),) = run(
        url,
        "WITH r AS (INSERT INTO reports (patient, time, monitoring_interval) VALUES (%s, now(), 4) RETURNING *) "
        "SELECT h.id FROM r, LATERAL record_report_history(r, '+', NULL, NULL) h",
        (patient,),
    )
    return int(report)


def delete_patient(url: str, patient: int) -> None:
    """As the service deletes one: their reports leave "-" history rows."""
    run(
        url,
        "WITH gone AS (DELETE FROM reports WHERE patient = %(p)s RETURNING *) "
        "SELECT h.history_id FROM gone, LATERAL record_report_history(gone, '-', NULL, 'Patient deleted') h",
        {"p": patient},
    )
    run(
        url,
        "WITH gone AS (DELETE FROM patients WHERE id = %(p)s RETURNING id, ward) "
        "INSERT INTO deleted_patients (id, ward) SELECT id, ward FROM gone",
        {"p": patient},
    )


def wards_of(url: str, table: str, key: str = "id") -> list[tuple[Any, ...]]:
    return run(url, f"SELECT {key}, ward FROM {table} ORDER BY {key}")


def test_existing_rows_get_their_patients_ward_and_the_rollback_drops_it(scratch_database) -> None:
    url = scratch_database("rows_ward")
    before = yoyo("apply", url, "-r", "0012_audit_and_users_order_indexes")
    assert before.returncode == 0, before.stderr
    seed_two_wards(url)
    # Cat is deleted: their report's "-" history row outlives them
    delete_patient(url, 3)
    assert "ward" not in columns(url, "reports")

    after = yoyo("apply", url)
    assert after.returncode == 0, after.stderr
    assert wards_of(url, "reports") == [(1, 1), (2, 2)]
    assert wards_of(url, "notifications") == [(1, 1), (2, 2)]
    assert run(url, "SELECT patient, history_type, ward FROM report_history ORDER BY history_id") == [
        (1, "+", 1),
        (2, "+", 2),
        (3, "+", 2),
        (3, "-", 2),
    ]

    back = yoyo("rollback", url, "-r", "0013_rows_carry_their_ward")
    assert back.returncode == 0, back.stderr
    for table in ("reports", "report_history", "notifications"):
        assert "ward" not in columns(url, table)
    assert run(url, "SELECT count(*) FROM report_history") == [(4,)]
    again = yoyo("apply", url)
    assert again.returncode == 0, again.stderr
    assert wards_of(url, "reports") == [(1, 1), (2, 2)]


def test_rows_follow_a_move_and_a_deleted_patients_history_keeps_their_ward(scratch_database) -> None:
    url = scratch_database("rows_ward")
    assert yoyo("apply", url).returncode == 0
    seed_two_wards(url)
    run(url, "UPDATE patients SET ward = 1 WHERE id = 2")
    assert wards_of(url, "reports") == [(1, 1), (2, 1), (3, 2)]
    assert wards_of(url, "notifications") == [(1, 1), (2, 1), (3, 2)]
    assert run(url, "SELECT DISTINCT ward FROM report_history WHERE patient = 2") == [(1,)]
    # a report given to another patient takes that patient's ward
    run(url, "UPDATE reports SET patient = 3 WHERE id = 1")
    assert wards_of(url, "reports") == [(1, 2), (2, 1), (3, 2)]
    # a deleted patient's reports go with them; their "-" history stays with their ward
    delete_patient(url, 3)
    assert run(url, "SELECT DISTINCT ward FROM report_history WHERE patient = 3 AND history_type = '-'") == [(2,)]


def waiting(url: str, count: int, timeout: float = 10.0) -> None:
    """Until ``count`` other connections wait for a lock."""
    deadline = time.monotonic() + timeout
    while run(
        url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ) != [(count,)]:
        assert time.monotonic() < deadline, "nobody waits for the lock"
        time.sleep(0.02)


def test_a_row_written_while_its_patient_moves_waits_and_lands_where_they_went(scratch_database) -> None:
    """The interleaving forced: a move of patient 2 to ward 1 is in flight
    (not committed) when another connection writes a report for them."""
    url = scratch_database("rows_ward")
    assert yoyo("apply", url).returncode == 0
    seed_two_wards(url)
    mover = psycopg2.connect(url)
    written: list[Any] = []

    def write() -> None:
        written.append(write_report(url, 2))

    try:
        with mover.cursor() as cur:
            cur.execute("UPDATE patients SET ward = 1 WHERE id = 2")
        writer = threading.Thread(target=write)
        writer.start()
        waiting(url, 1)  # the report waits for the move (FOR SHARE on the patient)
        mover.commit()
        writer.join(timeout=10)
    finally:
        mover.close()
    (report,) = written
    assert run(url, "SELECT ward FROM reports WHERE id = %s", (report,)) == [(1,)]
    assert run(url, "SELECT ward FROM report_history WHERE id = %s", (report,)) == [(1,)]
