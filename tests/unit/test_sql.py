"""The named queries in sql/: each one PostgreSQL can prepare, as service.db does."""

from __future__ import annotations

import pytest

from service.sqlfiles import SQL_DIR, Q, Query, parse

NAMES = Q.names()


def test_queries_are_loaded() -> None:
    assert {"insert_report", "list_patients", "claim_due_reminders"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_single_statement_query_prepares(sql, name: str) -> None:
    query = getattr(Q, name)
    if query.prepare is None:
        assert query.execute == query  # run as it is
        if query.each_call:  # one statement, planned with its values: explain it with all of them NULL
            sql("EXPLAIN " + query, dict.fromkeys(query.params))
        return
    sql(query.prepare)
    try:
        described = sql("SELECT parameter_types FROM pg_prepared_statements WHERE name = %s", (f"dq_{name}",))
        assert len(described) == 1
    finally:
        sql(f"DEALLOCATE dq_{name}")


def test_parameters_are_numbered_in_first_use_order() -> None:
    query = Query("demo", "SELECT %(b)s::int + %(a)s::int + %(b)s::int WHERE 'x' LIKE 'x%%';")
    assert query.prepare == "PREPARE dq_demo AS SELECT $1::int + $2::int + $1::int WHERE 'x' LIKE 'x%'"
    assert query.execute == "EXECUTE dq_demo(%(b)s, %(a)s)"


def test_only_scripts_and_lists_planned_each_call_go_unprepared() -> None:
    unprepared = [name for name in NAMES if getattr(Q, name).prepare is None]
    scripts = [name for name in unprepared if not getattr(Q, name).each_call]
    assert scripts == ["commit_with_events"]
    assert "-- name: commit_with_events#" in (SQL_DIR / "events.sql").read_text()
    # every list with optional filters is planned with its values; nothing else is
    each_call = {name for name in unprepared if getattr(Q, name).each_call}
    lists = {name for name in NAMES if name.startswith(("list_", "count_")) and name != "list_sessions"}
    assert each_call == lists | {"admitted_patients_in"}


def test_a_query_planned_each_call_is_sent_as_its_text() -> None:
    (query,) = parse("-- name: some_list\n-- plan: each call\nSELECT %(a)s::int WHERE %(b)s IS NULL\n").values()
    assert query.each_call and query.prepare is None and query.execute == query
    assert query.params == ("a", "b")


def test_comments_neither_split_statements_nor_add_parameters() -> None:
    query = Query("c", "-- fired or not; %(ghost)s\nSELECT %(a)s::int -- trailing; note\n;")
    assert query.prepare == "PREPARE dq_c AS SELECT $1::int"
    assert query.execute == "EXECUTE dq_c(%(a)s)"


def test_a_script_is_run_as_it_is() -> None:
    (query,) = parse("-- name: two#\nSELECT 1; SELECT 2;\n").values()
    assert query.name == "two" and query.prepare is None and query.execute == "SELECT 1; SELECT 2;"


def test_several_statements_without_the_script_mark_are_refused() -> None:
    with pytest.raises(ValueError, match="holds several statements: name it 'two#'"):
        parse("-- name: two\nSELECT 1; SELECT 2;\n", "demo.sql")
