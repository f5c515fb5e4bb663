"""bench/limits.py's pgbench scripts are built from the named queries in
sql/: when a query is renamed or gains a parameter, the scripts must follow,
or pgbench runs SQL with a ``:name`` nobody defined (pgbench leaves it in
the text, PostgreSQL refuses it, and the limits section dies mid-run). This
checks them without running pgbench: every variable a script reads is
defined before it by ``\\set``, ``\\gset`` or the ``-D`` definitions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from bench import limits
from service.context import User
from service.sqlfiles import Q

SCRIPTS = limits.scripts()
VARIABLE = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
LITERAL = re.compile(r"'(?:[^']|'')*'")
META = re.compile(r"^\\(\w+)\s*(.*)$")
# What each \gset of the scripts captures: the columns of this table's rows
# (insert_report returns the history row record_report_history() wrote).
GSET_TABLES = {"insert_report": "report_history"}


def definitions() -> set[str]:
    """The names prepare() passes with -D (the same function builds them)."""
    user = User(1, "bench", "", "", "", True, False, False, frozenset({1}))
    patient = {name: None for name in limits.PARAM.findall(Q.update_patient)}
    return set(limits.parameters(user, dt.datetime.now(dt.UTC), patient, [], []))


def columns(sql: Any, table: str) -> list[str]:
    rows = sql("SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
    assert rows, table
    return [name for (name,) in rows]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_variable_is_defined_before_it_is_read(sql: Any, name: str) -> None:
    defined = definitions()
    pending: list[str] = []  # the SQL lines of the command being read
    for line in SCRIPTS[name].splitlines():
        meta = META.match(line)
        if meta is None:
            pending.append(line)
            used = set(VARIABLE.findall(LITERAL.sub("''", line)))
            assert used <= defined, f"{name}: {sorted(used - defined)} read but never defined"
            continue
        word, args = meta.groups()
        if word in ("if", "elif"):
            used = set(VARIABLE.findall(args))
            assert used <= defined, f"{name}: \\{word} reads {sorted(used - defined)}"
        elif word == "set":
            variable, expression = args.split(None, 1)
            used = set(VARIABLE.findall(expression))
            assert used <= defined, f"{name}: \\set {variable} reads {sorted(used - defined)}"
            defined.add(variable)
        elif word == "gset":
            executed = re.findall(r"EXECUTE dq_(\w+)", "\n".join(pending))
            assert executed, f"{name}: \\gset after no EXECUTE"
            table = GSET_TABLES[executed[-1]]
            defined |= {args.strip() + column for column in columns(sql, table)}
        else:
            assert word in ("endif", "else"), f"{name}: unexpected meta-command \\{word}"
        pending = []


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_executed_query_is_prepared_first(name: str) -> None:
    script = SCRIPTS[name]
    setup, _, body = script.partition("\\endif\n")
    for query in re.findall(r"EXECUTE dq_(\w+)", body):
        assert f"PREPARE dq_{query} AS " in setup
        prepared = getattr(Q, query)
        assert prepared.prepare is not None and prepared.prepare in setup


def test_the_scripts_mirror_the_requests_round_trips() -> None:
    """One pgbench command per round trip the service makes (see the module
    docstring); a change here means the service's requests changed too."""
    trips = {name: len(re.findall(r"(?<!\\);\n|\\gset", s.partition("\\endif\n")[2])) for name, s in SCRIPTS.items()}
    assert trips == {"create_min": 2, "create_full": 5, "retrieve": 2, "list": 2, "patch": 4}
    assert "EXECUTE dq_session_user(" in SCRIPTS["create_full"]
    assert "EXECUTE dq_lock_patients(ARRAY[:patient])" in SCRIPTS["create_full"]


def test_the_diagnostic_variants_change_their_script() -> None:
    for _, key, _, change in limits.DIAGNOSTIC:
        if change is not None:
            assert change(SCRIPTS[key]) != SCRIPTS[key]
