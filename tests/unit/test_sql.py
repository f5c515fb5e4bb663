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


def test_only_queries_marked_as_scripts_go_unprepared() -> None:
    assert [name for name in NAMES if getattr(Q, name).prepare is None] == ["commit_with_events"]
    assert "-- name: commit_with_events#" in (SQL_DIR / "events.sql").read_text()


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
