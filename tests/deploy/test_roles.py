"""The service's PostgreSQL role (compose/production/postgres/app-role.sql),
on the real local PostgreSQL.

The init file runs as the postgres image runs it (psql as POSTGRES_USER on
POSTGRES_DB, settings in the environment), either before the migrations (a
first start: the image initialises, then the service's start script applies
the migrations as the owner) or after them (an existing database, upgraded by
hand as the README says). Either way the app role must then be able to do
everything the service does, and nothing that changes the schema.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psycopg2
import pytest
from psycopg2 import errors

from service.sqlfiles import Q

from ..conftest import ROOT, yoyo
from ..helpers import PATIENT, next_frame
from ..servers import server, service_env, spawn, wait_until
from .conftest import Roles, admin

MAINTENANCE = ROOT / "compose" / "production" / "postgres" / "maintenance"
ORDERS = ["init then migrations", "migrations then init"]


def connect(url: str) -> Any:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


def run(conn: Any, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


def migrate(roles: Roles) -> None:
    result = yoyo("apply", roles.owner_url)
    assert result.returncode == 0, result.stderr


def set_up(roles: Roles, order: str) -> None:
    steps = [roles.init, lambda: migrate(roles)]
    for step in steps if order == ORDERS[0] else reversed(steps):
        result = step()
        if result is not None:
            assert result.returncode == 0, result.stderr
            assert "app-role.sql:" in result.stdout


@pytest.fixture
def opened() -> Iterator[Any]:
    """connect(), closed at the end of the test."""
    conns: list[Any] = []

    def open_(url: str) -> Any:
        conns.append(connect(url))
        return conns[-1]

    yield open_
    for conn in conns:
        conn.close()


def test_the_init_file_creates_a_plain_login_role(roles: Roles) -> None:
    result = roles.init()
    assert result.returncode == 0, result.stderr
    attributes = admin(
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,"
        " rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid WHERE rolname = %s",
        (roles.app,),
    )
    assert attributes == [(True, False, False, False, False, False, True)]
    assert roles.app_password not in result.stdout + result.stderr
    # the tables the owner creates later are covered, and only for these privileges
    owner = connect(roles.owner_url)
    try:
        defaults = run(
            owner,
            "SELECT d.defaclobjtype::text, a.privilege_type FROM pg_default_acl d, aclexplode(d.defaclacl) a"
            " WHERE d.defaclrole = %s::regrole AND a.grantee = %s::regrole ORDER BY 1, 2",
            (roles.owner, roles.app),
        )
    finally:
        owner.close()
    assert defaults == [
        ("S", "SELECT"),
        ("S", "UPDATE"),
        ("S", "USAGE"),
        ("f", "EXECUTE"),
        ("r", "DELETE"),
        ("r", "INSERT"),
        ("r", "SELECT"),
        ("r", "UPDATE"),
    ]


@pytest.mark.parametrize("order", ORDERS)
def test_the_app_role_can_run_every_named_query(roles: Roles, order: str, opened: Any) -> None:
    """PREPARE checks no privileges; EXPLAIN EXECUTE starts the executor, which
    checks every table each query reads or writes."""
    set_up(roles, order)
    app = opened(roles.app_url)
    checked = []
    for name in Q.names():
        query = getattr(Q, name)
        if query.each_call:  # not prepared: explained with every parameter NULL
            run(app, "EXPLAIN " + query, dict.fromkeys(query.params))
            checked.append(name)
            continue
        if query.prepare is None:
            continue
        run(app, query.prepare)
        ((count,),) = run(
            app, "SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = %s", (f"dq_{name}",)
        )
        args = f"({', '.join(['NULL'] * count)})" if count else ""
        run(app, f"EXPLAIN EXECUTE dq_{name}{args}")
        run(app, f"DEALLOCATE dq_{name}")
        checked.append(name)
    assert len(checked) == len(Q.names()) - 1  # all but commit_with_events, which runs below

    # commit_with_events as db.py sends it: advisory lock, insert, COMMIT, currval
    app.autocommit = False
    with app.cursor() as cur:
        events = {"streams": ["patients"], "actions": ["create"], "pks": [1], "datas": ["{}"]}
        cur.execute(Q.commit_with_events, {**events, "wards": [1], "prior_wards": [None]})
        ((last_id,),) = cur.fetchall()
    app.commit()  # psycopg2 still counts the transaction it began as open
    app.autocommit = True
    assert run(app, "SELECT stream, action, object_id FROM events WHERE id = %s", (last_id,)) == [
        ("patients", "create", 1)
    ]


@pytest.mark.parametrize("order", ORDERS)
def test_the_app_role_reads_and_writes_rows(roles: Roles, order: str, opened: Any) -> None:
    set_up(roles, order)
    app = opened(roles.app_url)
    ((patient,),) = run(
        app,
        "INSERT INTO patients (first_name, last_name, admission_date, ward) VALUES ('Cy', 'Ng', now(), 1) RETURNING id",
    )
    run(app, "UPDATE patients SET last_name = 'Nguyen' WHERE id = %s", (patient,))
    assert run(app, "SELECT first_name, last_name FROM patients WHERE id = %s", (patient,)) == [("Cy", "Nguyen")]
    # a report and its history row: record_report_history() and its sequence
    ((report,),) = run(
        app, "INSERT INTO reports (patient, time, monitoring_interval) VALUES (%s, now(), 4) RETURNING id", (patient,)
    )
    ((history,),) = run(
        app, "SELECT (record_report_history(r, '+', NULL, NULL)).history_id FROM reports r WHERE id = %s", (report,)
    )
    assert run(app, "SELECT id FROM report_history WHERE history_id = %s", (history,)) == [(report,)]
    assert run(app, "DELETE FROM patients WHERE id = %s RETURNING id", (patient,)) == [(patient,)]
    assert run(app, "SELECT count(*) FROM reports") == [(0,)]
    assert run(app, "SELECT count(*) FROM _yoyo_migration") != [(0,)]  # /readyz reads it
    # what the worker and the event writers need besides rows
    listener = opened(roles.app_url)
    run(listener, "LISTEN dengue_reminders")
    run(app, "SELECT pg_notify('dengue_reminders', 'x')")
    wait_until(lambda: listener.poll() or bool(listener.notifies), 5, "the notification")
    assert listener.notifies[0].payload == "x"
    app.autocommit = False
    run(app, "SELECT pg_advisory_xact_lock(1684368999)")
    app.rollback()
    app.autocommit = True

    # a table a later migration adds is covered too
    run(opened(roles.owner_url), "CREATE TABLE later_migration (id bigserial PRIMARY KEY, note text)")
    assert run(app, "INSERT INTO later_migration (note) VALUES ('x') RETURNING id") == [(1,)]


SCHEMA_CHANGES = [
    "CREATE TABLE intruder (id int)",
    "CREATE VIEW intruder AS SELECT 1",
    "CREATE SCHEMA intruder",
    "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE INDEX intruder ON patients (first_name)",
    "DROP TABLE patients",
    "DROP FUNCTION record_report_history(reports, char, bigint, text)",
    "ALTER TABLE patients ADD COLUMN intruder int",
    "ALTER TABLE reports DROP CONSTRAINT reports_diastolic_not_above_systolic",
    "ALTER TABLE report_history DISABLE TRIGGER report_history_append_only",
    "ALTER SEQUENCE patients_id_seq RESTART",
    "TRUNCATE patients",
]


def test_the_app_role_cannot_change_the_schema(roles: Roles, opened: Any) -> None:
    set_up(roles, ORDERS[0])
    app = opened(roles.app_url)
    for statement in SCHEMA_CHANGES:
        with pytest.raises(errors.InsufficientPrivilege):
            run(app, statement)
            pytest.fail(f"the app role may run: {statement}")


def test_running_it_again_sets_a_new_password(roles: Roles) -> None:
    assert roles.init().returncode == 0
    (before,) = admin("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (roles.app,))
    result = roles.init(POSTGRES_APP_PASSWORD=secrets.token_urlsafe(16))
    assert result.returncode == 0, result.stderr
    (after,) = admin("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (roles.app,))
    assert after != before


def test_it_stops_without_its_settings(roles: Roles) -> None:
    for env in (
        {"POSTGRES_APP_PASSWORD": None},
        {"POSTGRES_APP_PASSWORD": ""},
        {"POSTGRES_APP_USER": None},
        {"POSTGRES_USER": None},
        {"POSTGRES_APP_USER": roles.owner},
    ):
        result = roles.init(**env)
        assert result.returncode != 0, env
        assert "set POSTGRES_USER, POSTGRES_APP_USER (another role than POSTGRES_USER) and POSTGRES_APP_PASSWORD" in (
            result.stderr
        ), env
    assert not admin("SELECT 1 FROM pg_roles WHERE rolname = %s", (roles.app,))


def test_it_refuses_an_existing_role_with_more_rights(roles: Roles) -> None:
    admin(f'CREATE ROLE "{roles.app}" LOGIN CREATEDB')
    result = roles.init()
    assert result.returncode != 0
    assert "has attributes or memberships the service must not have" in result.stderr
    admin(f'ALTER ROLE "{roles.app}" NOCREATEDB')
    admin(f'GRANT "{roles.owner}" TO "{roles.app}"')  # would inherit the owner's rights
    result = roles.init()
    assert result.returncode != 0
    admin(f'REVOKE "{roles.owner}" FROM "{roles.app}"')
    assert roles.init().returncode == 0


def test_backup_and_restore_keep_the_app_roles_rights(roles: Roles, opened: Any, tmp_path: Path) -> None:
    """The restore script recreates the database as the owner from a pg_dump,
    which carries the grants and the default privileges."""
    set_up(roles, ORDERS[0])
    app = connect(roles.app_url)
    run(app, "INSERT INTO patients (first_name, last_name, admission_date, ward) VALUES ('Cy', 'Ng', now(), 1)")
    app.close()  # the restore script refuses while anything is connected
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PG", "POSTGRES_"))},
        **roles.postgres_env(),
        "BACKUP_DIR": str(tmp_path),
    }
    backup = subprocess.run([str(MAINTENANCE / "backup")], env=env, capture_output=True, text=True, check=False)
    assert backup.returncode == 0, backup.stderr
    (name,) = [p.name for p in tmp_path.iterdir()]
    restore = subprocess.run(
        [str(MAINTENANCE / "restore"), name], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert restore.returncode == 0, restore.stdout + restore.stderr
    restored = opened(roles.app_url)
    assert run(restored, "SELECT first_name FROM patients") == [("Cy",)]
    run(restored, "INSERT INTO patients (first_name, last_name, admission_date, ward) VALUES ('Al', 'Bo', now(), 1)")
    with pytest.raises(errors.InsufficientPrivilege):
        run(restored, "CREATE TABLE intruder (id int)")
    run(opened(roles.owner_url), "CREATE TABLE later_migration (id int)")
    run(restored, "INSERT INTO later_migration VALUES (1)")


@pytest.mark.slow
async def test_the_service_and_the_worker_run_as_the_app_role(roles: Roles, settings: Any) -> None:
    """The real server and worker as the app role: createuser, login, writes
    with their events and history, a reminder fired through LISTEN/NOTIFY."""
    set_up(roles, ORDERS[0])
    own = settings.with_(database_url=roles.app_url)
    create = subprocess.run(
        [sys.executable, "-m", "service", "createuser", "nurse", "--superuser", "--password-stdin"],
        input="a long enough password\n",
        env=service_env(own),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert create.returncode == 0, create.stderr
    worker_args = [sys.executable, "-m", "service", "worker"]
    with server(own) as srv, spawn(worker_args, service_env(own), "worker") as worker:
        wait_until(lambda: "reminder worker" in worker.log() and "started" in worker.log(), 15, "the worker")
        async with aiohttp.ClientSession() as http:
            login = {"username": "nurse", "password": "a long enough password"}
            async with http.post(f"{srv.url}/rest-auth/login/", json=login) as resp:
                assert resp.status == 200, await resp.text()
                headers = {"Authorization": f"Token {(await resp.json())['key']}"}
            async with http.get(f"{srv.url}/readyz") as resp:
                assert resp.status == 200, await resp.text()
            async with http.ws_connect(f"ws://127.0.0.1:{srv.port}/ws/?token={headers['Authorization'][6:]}") as ws:
                async with http.post(f"{srv.url}/api/patients/", json=PATIENT, headers=headers) as resp:
                    assert resp.status == 201, await resp.text()
                    patient = await resp.json()
                report = {
                    "patient": patient["id"],
                    "time": "2024-05-03T12:00:00Z",
                    "monitoring_interval": 1,
                    "status": "febrile",
                }
                async with http.post(f"{srv.url}/api/reports/", json=report, headers=headers) as resp:
                    assert resp.status == 201, await resp.text()
                frame = await next_frame(
                    ws,
                    lambda f: f["stream"] == "notifications" and f["payload"]["data"]["type"] == "observation_due",
                    timeout=15,
                )
                assert frame["payload"]["data"]["patient"] == patient["id"]
            async with http.delete(f"{srv.url}/api/patients/{patient['id']}/", headers=headers) as resp:
                assert resp.status == 204, await resp.text()
        assert "permission denied" not in srv.log() + worker.log()
