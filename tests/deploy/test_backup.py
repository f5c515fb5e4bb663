"""The postgres maintenance scripts (compose/production/postgres/maintenance),
run on the host against the real local PostgreSQL.

In the compose stacks they run inside the postgres container with the
POSTGRES_* variables of .envs/*/.postgres and BACKUP_DIR=/backups; here they
get the same variables pointing at a scratch database on 127.0.0.1, owned by a
dedicated role that is not a superuser (CREATEDB, LOGIN), and BACKUP_DIR in
pytest's tmp_path. The role has a password, passed as POSTGRES_PASSWORD as in
the containers (the host's trust auth ignores it; inside local.yml's service
container, where these tests can run too, PostgreSQL checks it). The role and
the database are dropped at the end.
"""

from __future__ import annotations

import gzip
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from psycopg2.extensions import parse_dsn

from ..conftest import ADMIN_URL, ROOT
from .conftest import admin

MAINTENANCE = ROOT / "compose" / "production" / "postgres" / "maintenance"
BACKUP_NAME = re.compile(r"^backup_\d{4}_\d{2}_\d{2}T\d{2}_\d{2}_\d{2}\.sql\.gz$")


class Scratch:
    """A database owned by a role of its own, and the scripts' environment for it."""

    def __init__(self, backup_dir: Path) -> None:
        self.role = f"dengue_backup_{os.getpid()}"
        self.database = f"dengue_backup_{os.getpid()}"
        self.password = secrets.token_urlsafe(16)
        dsn = parse_dsn(ADMIN_URL)
        self.host, self.port = dsn.get("host", "127.0.0.1"), dsn.get("port", "5432")
        self.backup_dir = backup_dir
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PG", "POSTGRES_")) and k not in ("DATABASE_URL", "BACKUP_DIR")
        }
        self.env.update(
            POSTGRES_HOST=self.host,
            POSTGRES_PORT=self.port,
            POSTGRES_USER=self.role,
            POSTGRES_PASSWORD=self.password,
            POSTGRES_DB=self.database,
            BACKUP_DIR=str(backup_dir),
        )

    @property
    def url(self) -> str:
        return f"postgresql://{self.role}:{self.password}@{self.host}:{self.port}/{self.database}"

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def run(self, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(MAINTENANCE / script), *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Scratch]:
    s = Scratch(tmp_path / "backups")
    admin(f'DROP DATABASE IF EXISTS "{s.database}" WITH (FORCE)')
    admin(f'DROP ROLE IF EXISTS "{s.role}"')
    admin(f'CREATE ROLE "{s.role}" LOGIN CREATEDB NOSUPERUSER PASSWORD %s', (s.password,))
    admin(f'CREATE DATABASE "{s.database}" OWNER "{s.role}"')
    s.sql("CREATE TABLE patients (id serial PRIMARY KEY, name text NOT NULL, temperature numeric(3, 1))")
    s.sql("INSERT INTO patients (name, temperature) VALUES ('Cy Ng', 38.5)")
    try:
        yield s
    finally:
        admin(f'DROP DATABASE IF EXISTS "{s.database}" WITH (FORCE)')
        admin(f'DROP ROLE IF EXISTS "{s.role}"')
    assert not admin("SELECT 1 FROM pg_roles WHERE rolname = %s", (s.role,))


def test_the_role_is_not_a_superuser(scratch: Scratch) -> None:
    assert admin("SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = %s", (scratch.role,)) == [(False, True)]


def test_backup_backups_and_restore(scratch: Scratch) -> None:
    result = scratch.run("backup")
    assert result.returncode == 0, result.stderr
    files = sorted(scratch.backup_dir.iterdir())
    assert len(files) == 1, files
    backup = files[0]
    assert BACKUP_NAME.match(backup.name), backup.name
    assert f"database backup '{backup.name}' has been created" in result.stdout
    dump = gzip.decompress(backup.read_bytes()).decode()
    assert "CREATE TABLE public.patients" in dump
    assert "Cy Ng\t38.5" in dump

    listing = scratch.run("backups")
    assert listing.returncode == 0, listing.stderr
    assert backup.name in listing.stdout

    # change the data: edit the row, add one, add a table
    scratch.sql("UPDATE patients SET name = 'changed', temperature = 40.1")
    scratch.sql("INSERT INTO patients (name) VALUES ('added later')")
    scratch.sql("CREATE TABLE later (id int)")

    result = scratch.run("restore", backup.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "has been restored" in result.stdout
    assert scratch.sql("SELECT id, name, temperature::text FROM patients ORDER BY id") == [(1, "Cy Ng", "38.5")]
    assert scratch.sql("SELECT to_regclass('public.later')") == [(None,)]
    # the serial goes on after the restored rows
    assert scratch.sql("INSERT INTO patients (name) VALUES ('next') RETURNING id") == [(2,)]
    # the recreated database and its table belong to the role again, not to a superuser
    assert admin("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (scratch.database,)) == [
        (scratch.role,)
    ]
    assert scratch.sql("SELECT tableowner FROM pg_tables WHERE tablename = 'patients'") == [(scratch.role,)]


def test_backups_when_there_are_none(scratch: Scratch) -> None:
    result = scratch.run("backups")
    assert result.returncode == 0, result.stderr
    assert "No backups yet" in result.stdout


def test_restore_refuses_while_the_database_is_in_use(scratch: Scratch) -> None:
    assert scratch.run("backup").returncode == 0
    (backup,) = scratch.backup_dir.iterdir()
    scratch.sql("UPDATE patients SET name = 'kept'")
    conn = psycopg2.connect(scratch.url)  # stands for the service's pool
    try:
        result = scratch.run("restore", backup.name)
    finally:
        conn.close()
    assert result.returncode == 1
    assert "1 session(s) are connected" in result.stderr
    assert "stop service worker" in result.stderr
    assert scratch.sql("SELECT name FROM patients") == [("kept",)]  # untouched


def test_restore_needs_an_existing_valid_backup(scratch: Scratch) -> None:
    result = scratch.run("restore")
    assert result.returncode == 1
    assert "Backup filename is not specified" in result.stderr

    result = scratch.run("restore", "backup_2000_01_01T00_00_00.sql.gz")
    assert result.returncode == 1
    assert "No backup with the specified filename found" in result.stderr

    scratch.backup_dir.mkdir()
    (scratch.backup_dir / "backup_broken.sql.gz").write_bytes(b"not gzip")
    result = scratch.run("restore", "backup_broken.sql.gz")
    assert result.returncode == 1
    assert "is not a valid gzip file" in result.stderr
    assert scratch.sql("SELECT name FROM patients") == [("Cy Ng",)]


def test_restore_takes_only_file_names_inside_the_backup_dir(scratch: Scratch, tmp_path: Path) -> None:
    assert scratch.run("backup").returncode == 0
    (backup,) = scratch.backup_dir.iterdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    backup.rename(outside / backup.name)
    result = scratch.run("restore", str(outside / backup.name))
    assert result.returncode == 1
    assert "No backup with the specified filename found" in result.stderr


def test_failed_backup_leaves_no_file(scratch: Scratch) -> None:
    result = scratch.run("backup", POSTGRES_DB="dengue_no_such_database")
    assert result.returncode == 1
    assert "pg_dump failed" in result.stderr
    assert list(scratch.backup_dir.iterdir()) == []


@pytest.mark.parametrize("script, args", [("backup", ()), ("restore", ("backup_2000_01_01T00_00_00.sql.gz",))])
def test_scripts_refuse_the_postgres_role(scratch: Scratch, script: str, args: tuple[str, ...]) -> None:
    scratch.backup_dir.mkdir()
    (scratch.backup_dir / "backup_2000_01_01T00_00_00.sql.gz").write_bytes(gzip.compress(b"SELECT 1;\n"))
    result = scratch.run(script, *args, POSTGRES_USER="postgres")
    assert result.returncode == 1
    assert "Working as the 'postgres' user is not supported" in result.stderr
    assert sorted(p.name for p in scratch.backup_dir.iterdir()) == ["backup_2000_01_01T00_00_00.sql.gz"]
    assert scratch.sql("SELECT name FROM patients") == [("Cy Ng",)]


def test_scripts_need_user_and_database(scratch: Scratch) -> None:
    env = {k: v for k, v in scratch.env.items() if k != "POSTGRES_DB"}
    result = subprocess.run([str(MAINTENANCE / "backup")], env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "POSTGRES_DB must be set" in result.stderr
