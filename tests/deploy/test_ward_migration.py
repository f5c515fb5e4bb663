"""Migration 0009 on a database with data (issue 14, point 2): one ward is
made, every existing patient and user is put in it, and the rollback gives
the old schema back with the data."""

from __future__ import annotations

from typing import Any

import psycopg2

from ..conftest import yoyo


def run(url: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def columns(url: str, table: str) -> list[str]:
    rows = run(url, "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
    return [name for (name,) in rows]


def test_existing_patients_and_users_go_to_the_one_ward(scratch_database) -> None:
    url = scratch_database("ward_migration")
    before = yoyo("apply", url, "-r", "0008_idempotency_keys")
    assert before.returncode == 0, before.stderr
    assert "ward" not in columns(url, "patients")
    run(
        url,
        "INSERT INTO users (username, password, email, is_staff, is_superuser) VALUES "
        "('nurse', 'x', 'n@example.com', false, false), ('boss', 'x', 'b@example.com', true, true)",
    )
    run(
        url,
        "INSERT INTO patients (first_name, last_name, admission_date) VALUES "
        "('Ann', 'Ay', now()), ('Bea', 'By', now() - interval '1 day')",
    )

    after = yoyo("apply", url)
    assert after.returncode == 0, after.stderr
    assert run(url, "SELECT id, name FROM wards") == [(1, "Dengue ward")]
    assert run(url, "SELECT first_name, ward FROM patients ORDER BY id") == [("Ann", 1), ("Bea", 1)]
    assert run(
        url, "SELECT u.username, uw.ward FROM user_wards uw JOIN users u ON u.id = uw.user_id ORDER BY u.id"
    ) == [
        ("nurse", 1),
        ("boss", 1),
    ]
    assert run(url, "SELECT count(*) FROM audit_log") == [(0,)]
    assert run(
        url, "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'patients' AND column_name = 'ward'"
    ) == [("NO",)]

    back = yoyo("rollback", url, "-r", "0009_wards")
    assert back.returncode == 0, back.stderr
    assert "ward" not in columns(url, "patients")
    assert run(url, "SELECT first_name FROM patients ORDER BY id") == [("Ann",), ("Bea",)]
    assert run(url, "SELECT to_regclass('wards'), to_regclass('user_wards'), to_regclass('audit_log')") == [
        (None, None, None)
    ]
    again = yoyo("apply", url)
    assert again.returncode == 0, again.stderr
    assert run(url, "SELECT ward FROM patients ORDER BY id") == [(1,), (1,)]
