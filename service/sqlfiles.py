"""Loader for the named queries in ``sql/*.sql``.

A file holds any number of queries, each introduced by a comment line
``-- name: some_query``. Everything up to the next ``-- name:`` line is the
query text: one statement, which each connection prepares once. A name
ending in ``#`` (``-- name: some_script#``, aiosql's mark) says the text is
a script of several statements, run as it is and never prepared; a query
without the mark that holds several statements is refused at load time.
A query whose text has the line ``-- plan: each call`` is not prepared
either: a list with optional filters (``%(x)s IS NULL OR col = %(x)s``)
must be planned with its values, so that a filter not given drops out and
one given uses its index. A prepared statement may switch to one generic
plan for all values after five runs, which walked a whole time index for
``?patient=`` (4.5 ms -> 179 ms at 500k reports); planning every prepared
query on every call instead (plan_cache_mode = force_custom_plan) cost
every request its planning, a third of the create's PostgreSQL time.
Parameters use psycopg2's ``%(name)s`` style, so every value is sent as a
parameter and never formatted into the text.
"""

from __future__ import annotations

import re
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)(#?)\s*$", re.MULTILINE)


_PARAM = re.compile(r"%\((\w+)\)s")
_COMMENT = re.compile(r"--[^\n]*")  # our SQL has no '--' inside string literals
_EACH_CALL = re.compile(r"^--\s*plan:\s*each call\b", re.MULTILINE)


class Query(str):
    """A named query: its text (for psycopg2), and when it is one statement,
    the PREPARE/EXECUTE pair that lets each connection plan it only once."""

    name: str
    prepare: str | None  # PREPARE dq_<name> AS <text with $1..$n>
    execute: str  # EXECUTE dq_<name>(%(a)s, ...), or the text itself
    params: tuple[str, ...]  # its parameters, in order of first use
    each_call: bool  # "-- plan: each call": planned with its values every time

    def __new__(cls, name: str, text: str, script: bool = False) -> Query:
        query = super().__new__(cls, text)
        query.name = name
        query.each_call = bool(_EACH_CALL.search(text))
        code = _COMMENT.sub("", text)  # a ';' in a comment does not end a statement
        order: list[str] = []
        for param in _PARAM.findall(code):
            if param not in order:
                order.append(param)
        query.params = tuple(order)
        if script or query.each_call:
            query.prepare, query.execute = None, text
            if not script and ";" in code.rstrip().rstrip(";"):
                raise ValueError(f"query {name!r} holds several statements")
            return query
        body = _PARAM.sub(lambda m: f"${order.index(m.group(1)) + 1}", code).replace("%%", "%")
        if ";" in body.rstrip().rstrip(";"):
            raise ValueError(f"query {name!r} holds several statements: name it {name + '#'!r} to run it as a script")
        args = ", ".join(f"%({p})s" for p in order)
        query.prepare = f"PREPARE dq_{name} AS {body.strip().rstrip(';').rstrip()}"
        query.execute = f"EXECUTE dq_{name}({args})" if order else f"EXECUTE dq_{name}"
        return query


def as_prepared(query: Query) -> Query:
    """The query as it would be if it were prepared (its "plan: each call"
    dropped): what the tests and the bench show the generic-plan trap with."""
    return Query(query.name, _EACH_CALL.sub("--", query))


class Queries:
    """Attribute access to every named query: ``Q.get_patient``."""

    def __init__(self, queries: dict[str, Query]) -> None:
        self._queries = queries

    def __getattr__(self, name: str) -> Query:
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError(f"no SQL query named {name!r} in {SQL_DIR}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._queries

    def names(self) -> list[str]:
        return sorted(self._queries)


def parse(text: str, source: str = "<string>") -> dict[str, Query]:
    queries: dict[str, Query] = {}
    matches = list(_NAME.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        name, script = match.group(1), match.group(2) == "#"
        if not body:
            raise ValueError(f"{source}: query {name!r} is empty")
        if name in queries:
            raise ValueError(f"{source}: query {name!r} defined twice")
        try:
            queries[name] = Query(name, body, script)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None
    return queries


def load(directory: Path = SQL_DIR) -> Queries:
    queries: dict[str, Query] = {}
    for path in sorted(directory.glob("*.sql")):
        for name, query in parse(path.read_text(encoding="utf-8"), str(path)).items():
            if name in queries:
                raise ValueError(f"{path}: query {name!r} already defined in another file")
            queries[name] = query
    return Queries(queries)


Q = load()
