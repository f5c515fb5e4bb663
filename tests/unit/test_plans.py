"""Plans that do not degrade (issue 13, point 5).

Each list query has optional filters (``%(x)s IS NULL OR col = %(x)s``).
Planned with its values a NULL filter drops out and a given one uses its
index; a generic plan, which PostgreSQL may switch a prepared statement to
after five runs, cannot. So the lists are not prepared ("-- plan: each
call", service/sqlfiles.py): each call sends its text with its values, as
psycopg2 binds them, and is planned for them. Here each list query is run
ten times on one connection, with and without its filter, against a few
thousand analysed rows, and then explained with its filter; and the same
query, prepared, is shown to lose its filter's index under a generic plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from service.db import Database, create_pool
from service.sqlfiles import Q, Query, as_prepared

from ..seed import T0, seed_audit, seed_history, seed_notifications, seed_reports

PATIENT = 77  # one of 600 patients with ten reports each


@pytest.fixture
def analysed(sql: Any) -> dict[str, Any]:
    """3,000 patients (one in ten admitted); 6,000 reports over 600 of them,
    each with a history row and a notification; one patient in 50 in a
    second, small ward (2); statistics up to date, so
    that the planner's choices are the same on every run."""
    sql(
        "INSERT INTO patients (first_name, last_name, admission_date, dismissal_date, ward) "
        "SELECT 'First' || g, 'Last' || g, at, CASE WHEN g %% 10 <> 0 THEN at + interval '3 days' END, 1 "
        "  FROM generate_series(1, 3000) g, LATERAL (SELECT %(t0)s::timestamptz + (g / 3) * interval '1 hour') t (at) "
        " ORDER BY g",
        {"t0": T0},
    )
    seed_reports(sql, 6000, patients=600)
    seed_history(sql)
    seed_notifications(sql)
    # a small second ward among the first one's archive: one patient in 50
    # (their reports, history and notifications follow them there)
    sql("INSERT INTO wards (name) VALUES ('Small ward')")
    sql("UPDATE patients SET ward = 2 WHERE id % 50 = 0")
    sql("VACUUM ANALYZE patients, reports, report_history, notifications")
    rows = sql("SELECT time, id FROM reports WHERE patient = %s ORDER BY time DESC, id DESC", (PATIENT,))
    assert len(rows) == 10
    ((admitted_at, admitted_id),) = sql(
        "SELECT admission_date, id FROM patients WHERE dismissal_date IS NULL ORDER BY admission_date DESC, id DESC "
        "OFFSET 150 LIMIT 1"
    )
    # a keyset in the middle of the patient's rows, and of the admitted patients
    return {"key": rows[5][0], "id": rows[5][1], "admitted_key": admitted_at, "admitted_id": admitted_id}


def page(**filters: Any) -> dict[str, Any]:
    return {"wards": None, "ward": None, "after_key": None, "after_id": None, "limit": 101, "offset": 0, **filters}


def back(key: Any, pk: int, **filters: Any) -> dict[str, Any]:
    return {"wards": None, "ward": None, "before_key": key, "before_id": pk, "limit": 101, **filters}


def counted(**filters: Any) -> dict[str, Any]:
    return {"wards": None, "ward": None, "bound": 10_001, **filters}


NO_REPORT_FILTERS = {"patient": None, "since": None, "until": None}
NO_HISTORY_FILTERS = {"patient": None, "report": None, "since": None, "until": None}
NO_NOTIFICATION_FILTERS = {"patient": None, "acknowledged": None, "admitted": None}
NO_PATIENT_FILTERS = {"admitted": None, "search": None}


def cases(at: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any], str]]:
    """(query, its parameters with the filter, without it, the filter's index)."""
    k, i = at["key"], at["id"]
    ak, ai = at["admitted_key"], at["admitted_id"]
    mine = {"patient": PATIENT}
    ward = {"wards": [1]}  # a user who is not staff: their wards
    small = {"wards": [2]}  # a nurse of the small ward, among the big one's archive
    return [
        ("list_patients", page(admitted=True, search=None), page(**NO_PATIENT_FILTERS), "patients_admitted_idx"),
        (
            "list_patients",
            page(admitted=True, search=None, **ward),
            page(**NO_PATIENT_FILTERS, **ward),
            "patients_admitted_idx",
        ),
        (
            "list_patients",
            page(admitted=True, search=None, after_key=ak, after_id=ai),
            page(**NO_PATIENT_FILTERS, after_key=ak, after_id=ai),
            "patients_admitted_idx",
        ),
        (
            "list_patients_back",
            back(ak, ai, admitted=True, search=None),
            back(ak, ai, **NO_PATIENT_FILTERS),
            "patients_admitted_idx",
        ),
        ("count_patients", counted(admitted=True, search=None), counted(**NO_PATIENT_FILTERS), "patients_admitted_idx"),
        (
            "list_reports",
            page(**{**NO_REPORT_FILTERS, **mine}),
            page(**NO_REPORT_FILTERS),
            "reports_patient_time_idx",
        ),
        (
            "list_reports",
            page(**{**NO_REPORT_FILTERS, **mine, "since": "2024-01-02T00:00:00Z"}, **ward),
            page(**NO_REPORT_FILTERS, **ward),
            "reports_patient_time_idx",
        ),
        (
            "list_reports",
            page(**{**NO_REPORT_FILTERS, **mine}, after_key=k, after_id=i),
            page(**NO_REPORT_FILTERS, after_key=k, after_id=i),
            "reports_patient_time_idx",
        ),
        (
            "list_reports_back",
            back(k, i, **{**NO_REPORT_FILTERS, **mine}),
            back(k, i, **NO_REPORT_FILTERS),
            "reports_patient_time_idx",
        ),
        (
            "count_reports",
            counted(**{**NO_REPORT_FILTERS, **mine}),
            counted(**NO_REPORT_FILTERS),
            "reports_patient_time_idx",
        ),
        ("list_reports", page(**NO_REPORT_FILTERS, **small), page(**NO_REPORT_FILTERS), "reports_ward_time_idx"),
        (
            "list_reports",  # staff's ?ward=
            page(**{**NO_REPORT_FILTERS, "since": "2024-01-02T00:00:00Z"}, ward=2),
            page(**NO_REPORT_FILTERS),
            "reports_ward_time_idx",
        ),
        ("count_reports", counted(**NO_REPORT_FILTERS, **small), counted(**NO_REPORT_FILTERS), "reports_ward_time_idx"),
        (
            "list_history",
            page(**{**NO_HISTORY_FILTERS, **mine}),
            page(**NO_HISTORY_FILTERS),
            "report_history_patient_idx",
        ),
        (
            "list_history",
            page(**{**NO_HISTORY_FILTERS, **mine, "until": "2024-12-31T00:00:00Z"}, **ward),
            page(**NO_HISTORY_FILTERS, **ward),
            "report_history_patient_idx",
        ),
        (
            "list_history",
            page(**NO_HISTORY_FILTERS, **small),
            page(**NO_HISTORY_FILTERS),
            "report_history_ward_order_idx",
        ),
        (
            "list_history_back",
            back(k, i, **{**NO_HISTORY_FILTERS, **mine}),
            back(k, i, **NO_HISTORY_FILTERS),
            "report_history_patient_idx",
        ),
        (
            "count_history",
            counted(**{**NO_HISTORY_FILTERS, **mine}),
            counted(**NO_HISTORY_FILTERS),
            "report_history_patient_idx",
        ),
        (
            "list_notifications",
            page(**{**NO_NOTIFICATION_FILTERS, **mine}),
            page(**NO_NOTIFICATION_FILTERS),
            "notifications_patient_idx",
        ),
        (
            "list_notifications",
            page(**{**NO_NOTIFICATION_FILTERS, **mine, "acknowledged": False}, **ward),
            page(**NO_NOTIFICATION_FILTERS, **ward),
            "notifications_patient_idx",
        ),
        (
            "list_notifications",
            page(**NO_NOTIFICATION_FILTERS, **small),
            page(**NO_NOTIFICATION_FILTERS),
            "notifications_ward_order_idx",
        ),
        (
            "list_notifications",  # the board's open notifications
            page(**{**NO_NOTIFICATION_FILTERS, "acknowledged": False}, **small),
            page(**NO_NOTIFICATION_FILTERS),
            "notifications_ward_open_idx",
        ),
        (
            "list_notifications_back",
            back(k, i, **{**NO_NOTIFICATION_FILTERS, **mine}),
            back(k, i, **NO_NOTIFICATION_FILTERS),
            "notifications_patient_idx",
        ),
        (
            "count_notifications",
            counted(**{**NO_NOTIFICATION_FILTERS, **mine}),
            counted(**NO_NOTIFICATION_FILTERS),
            "notifications_patient_idx",
        ),
    ]


@pytest.fixture
def conn(database_url: str) -> Iterator[Any]:
    connection = psycopg2.connect(database_url)
    connection.autocommit = True
    yield connection
    connection.close()


def prepared_form(name: str) -> Query:
    return as_prepared(getattr(Q, name))


def run_ten_times_then_explain(cur: Any, query: Query, filtered: dict[str, Any], unfiltered: dict[str, Any]) -> str:
    """Run a query ten times (with and without its filter, as lists are
    used), then EXPLAIN it with the filter: prepared first if it is."""
    cur.execute("DEALLOCATE ALL")
    if query.prepare is not None:
        cur.execute(query.prepare)
    for n in range(10):
        cur.execute(query.execute, filtered if n % 2 else unfiltered)
        cur.fetchall()
    cur.execute("EXPLAIN " + query.execute, filtered)
    return "\n".join(row[0] for row in cur.fetchall())


def test_each_list_query_keeps_its_filters_index(conn, analysed) -> None:
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")  # as db.py's session setup
        for name, filtered, unfiltered, index in cases(analysed):
            assert getattr(Q, name).each_call, name
            plan = run_ten_times_then_explain(cur, getattr(Q, name), filtered, unfiltered)
            assert f" on {index} " in plan or f"using {index} " in plan, f"{name} {filtered}:\n{plan}"


def test_the_generic_plan_cannot_use_the_filters_index(conn, analysed) -> None:
    """Why the lists are not prepared: the one plan for every value of the
    parameters (which PostgreSQL may switch a prepared statement to after
    five runs) keeps "$n IS NULL OR ..." as a filter, so no filter's index
    serves it."""
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'; SET plan_cache_mode = force_generic_plan")
        for name, filtered, unfiltered, index in cases(analysed):
            plan = run_ten_times_then_explain(cur, prepared_form(name), filtered, unfiltered)
            assert index not in plan, f"{name} {filtered}:\n{plan}"
            assert "IS NULL" in plan  # the optional filters stayed in the plan


def test_search_can_use_the_trigram_index_only_in_a_custom_plan(conn, analysed) -> None:
    """At a few thousand rows a scan is cheaper than the trigram index, so
    scans are turned off: what is left shows whether the query's search
    condition can use patients_name_trgm_idx at all."""
    filtered = page(admitted=None, search="%first1234%")
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'; SET enable_seqscan = off; SET enable_indexscan = off")
        plan = run_ten_times_then_explain(cur, Q.list_patients, filtered, page(**NO_PATIENT_FILTERS))
        assert "Bitmap Index Scan on patients_name_trgm_idx" in plan, plan
        cur.execute("SET plan_cache_mode = force_generic_plan")
        plan = run_ten_times_then_explain(cur, prepared_form("list_patients"), filtered, page(**NO_PATIENT_FILTERS))
        assert "patients_name_trgm_idx" not in plan, plan


async def test_the_services_own_connections_plan_each_call(settings, analysed) -> None:
    """The same through db.py: a pool of one connection (so every call runs
    on it), the queries run by Database.fetchall, then explained on that
    connection; the lists are never prepared there, other queries are."""
    pool = await create_pool(settings.database_url, minsize=1, maxsize=1)
    try:
        db = Database(pool)
        await db.fetchone(Q.get_patient, {"id": PATIENT, "wards": None})
        for name, filtered, unfiltered, index in cases(analysed):
            query = getattr(Q, name)
            for n in range(10):
                await db.fetchall(query, filtered if n % 2 else unfiltered)
            async with pool.acquire() as connection, connection.cursor() as cur:
                await cur.execute("EXPLAIN " + query.execute, filtered)
                plan = "\n".join(row[0] for row in await cur.fetchall())
            assert f" on {index} " in plan or f"using {index} " in plan, f"{name} {filtered}:\n{plan}"
        async with pool.acquire() as connection, connection.cursor() as cur:
            await cur.execute("SELECT name FROM pg_prepared_statements")
            assert {row[0] for row in await cur.fetchall()} == {"dq_get_patient"}
    finally:
        pool.close()
        await pool.wait_closed()


def test_notifications_report_has_a_full_index(sql) -> None:
    """Deleting a report sets notifications.report to NULL (ON DELETE SET
    NULL): a full index on the column, not only the one of open ones."""
    assert sql(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'notifications' AND indexname = %s",
        ("notifications_report_idx",),
    ) == [("CREATE INDEX notifications_report_idx ON public.notifications USING btree (report)",)]


def test_the_foreign_key_action_of_a_report_delete_can_use_it(conn, analysed) -> None:
    """The statement the ON DELETE SET NULL trigger runs (planned for any
    report: a generic plan) finds a report's notifications by that index."""
    with conn.cursor() as cur:
        cur.execute("SET plan_cache_mode = force_generic_plan")
        cur.execute("PREPARE fk_action(bigint) AS UPDATE ONLY notifications SET report = NULL WHERE $1 = report")
        cur.execute("EXPLAIN EXECUTE fk_action(1)")
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "notifications_report_idx" in plan, plan


ORDER_INDEXES = [
    # (query, its parameters without filters, the index of its order)
    ("list_patients", NO_PATIENT_FILTERS, "patients_admission_idx"),
    ("list_reports", NO_REPORT_FILTERS, "reports_time_idx"),
    ("list_history", NO_HISTORY_FILTERS, "report_history_order_idx"),
    ("list_notifications", NO_NOTIFICATION_FILTERS, "notifications_order_idx"),
    ("list_audit", {"user": None}, "audit_log_at_idx"),  # an index on (at DESC, id DESC), whatever its name
]


@pytest.mark.parametrize("name, filters, index", ORDER_INDEXES, ids=[c[0] for c in ORDER_INDEXES])
def test_a_page_at_any_depth_reads_the_lists_order_index_not_a_sort(conn, sql, analysed, name, filters, index):
    """O(page) at any depth (issue 13, point 3): the first page and one in
    the middle of thousands of rows walk an index in the list's order and
    stop after the page, rather than sorting the whole table."""
    seed_audit(sql, 6000)
    sql("VACUUM ANALYZE audit_log")
    table, key, pk = {
        "list_patients": ("patients", "admission_date", "id"),
        "list_reports": ("reports", "time", "id"),
        "list_history": ("report_history", "history_date", "history_id"),
        "list_notifications": ("notifications", "created_at", "id"),
        "list_audit": ("audit_log", "at", "id"),
    }[name]
    ((middle_key, middle_id),) = sql(
        f"SELECT {key}, {pk} FROM {table} ORDER BY {key} DESC, {pk} DESC "
        f"OFFSET (SELECT count(*) / 2 FROM {table}) LIMIT 1"
    )
    params = {k: v for k, v in page(**filters).items() if name != "list_audit" or k != "wards"}
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        for at in ({}, {"after_key": middle_key, "after_id": middle_id}):
            plan = run_ten_times_then_explain(cur, getattr(Q, name), {**params, **at}, {**params, **at})
            sorted_rows = [int(m) for m in re.findall(r"Sort  \(cost=\S+ rows=(\d+)", plan)]
            assert all(rows <= 101 for rows in sorted_rows), f"{name} {at}: sorts more than a page\n{plan}"
            assert f"Seq Scan on {table}" not in plan, f"{name} {at}:\n{plan}"
            assert "Index Scan" in plan and (index in plan or name == "list_audit"), f"{name} {at}:\n{plan}"
