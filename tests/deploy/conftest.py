"""The two PostgreSQL roles of the compose stacks, made on the local server.

In the containers POSTGRES_USER owns POSTGRES_DB (the migrations and the
backups run as it) and compose/production/postgres/app-role.sql creates
POSTGRES_APP_USER, the role the service connects as. Here the owner is a role
of its own with LOGIN, CREATEDB (the restore script recreates the database)
and CREATEROLE (app-role.sql creates the app role as the owner, as the
postgres image does), not a superuser: whatever works for it works for the
image's owner, which is one. Both roles and the database are dropped at the
end. Trust authentication ignores the passwords; they are passed anyway, as
in the containers.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg2
import pytest
from psycopg2.extensions import parse_dsn

from service import setup_db

from ..conftest import ADMIN_URL, ROOT

APP_ROLE_SQL = ROOT / "compose" / "production" / "postgres" / "app-role.sql"


def admin(query: str, params: Any = None) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@dataclass
class Roles:
    database: str
    owner: str
    owner_password: str
    app: str
    app_password: str
    host: str
    port: str

    def url(self, user: str, password: str) -> str:
        return f"postgresql://{user}:{password}@{self.host}:{self.port}/{self.database}"

    @property
    def owner_url(self) -> str:
        return self.url(self.owner, self.owner_password)

    @property
    def app_url(self) -> str:
        return self.url(self.app, self.app_password)

    def postgres_env(self) -> dict[str, str]:
        """The .envs/*/.postgres of this pair."""
        return {
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": self.port,
            "POSTGRES_DB": self.database,
            "POSTGRES_USER": self.owner,
            "POSTGRES_PASSWORD": self.owner_password,
            "POSTGRES_APP_USER": self.app,
            "POSTGRES_APP_PASSWORD": self.app_password,
        }

    def init(self, **env: str | None) -> subprocess.CompletedProcess[str]:
        """app-role.sql as the postgres image runs its init files: psql as
        POSTGRES_USER on POSTGRES_DB, the settings in the environment
        (``NAME=None`` leaves one out)."""
        settings = {k: v for k, v in {**self.postgres_env(), **env}.items() if v is not None}
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "POSTGRES_"))}
        return subprocess.run(
            ["psql", "-v", "ON_ERROR_STOP=1", "--username", self.owner, "--no-password", "--no-psqlrc"]
            + ["--dbname", self.database, "-f", str(APP_ROLE_SQL)],
            env={**base, **settings, "PGHOST": self.host, "PGPORT": self.port},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )


@pytest.fixture
def roles(scratch_database: Any) -> Iterator[Roles]:
    """An owner role and the database it owns; the app role's name and password
    (app-role.sql creates it)."""
    pid = os.getpid()
    dsn = parse_dsn(ADMIN_URL)
    made = Roles(
        database=parse_dsn(scratch_database("roles"))["dbname"],
        owner=f"dengue_owner_{pid}",
        owner_password=secrets.token_urlsafe(16),
        app=f"dengue_app_{pid}",
        app_password=secrets.token_urlsafe(16),
        host=dsn.get("host", "127.0.0.1"),
        port=dsn.get("port", "5432"),
    )
    drop_roles(made)
    admin(f'CREATE ROLE "{made.owner}" LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD %s', (made.owner_password,))
    admin(f'ALTER DATABASE "{made.database}" OWNER TO "{made.owner}"')
    try:
        yield made
    finally:
        setup_db.drop_database(ADMIN_URL, made.database)
        drop_roles(made)
    assert not admin("SELECT rolname FROM pg_roles WHERE rolname IN (%s, %s)", (made.owner, made.app))


def drop_roles(roles: Roles) -> None:
    admin(f'DROP ROLE IF EXISTS "{roles.app}"')
    admin(f'DROP ROLE IF EXISTS "{roles.owner}"')
