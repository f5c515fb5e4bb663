"""First-run set-up for the plain host: ``python -m service setup`` (scripts/run).

Creates the database named in $DATABASE_URL if it is missing, applies the
migrations with yoyo, and creates a first superuser if there is no user yet,
printing its generated password once.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import make_dsn, parse_dsn

ROOT = Path(__file__).resolve().parent.parent


def database_on(server_url: str, name: str) -> str:
    """The URL of another database on the same server."""
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


def admin_execute(admin_url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE cannot run inside one)."""
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def recreate_database(admin_url: str, name: str) -> str:
    """Drop the database if it exists (closing its connections), create it
    empty, and return its URL. For tests and benchmarks, with names they
    make up themselves (quoted, not parameters: DDL takes none)."""
    drop_database(admin_url, name)
    admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    return database_on(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ensure_database(url: str) -> None:
    params = parse_dsn(url)
    name = params.get("dbname", "")
    try:
        psycopg2.connect(url).close()
        return
    except psycopg2.OperationalError as exc:
        if f'database "{name}" does not exist' not in str(exc):
            raise SystemExit(f"Cannot reach PostgreSQL at {url}: {exc}") from None
    conn = psycopg2.connect(make_dsn(url, dbname="postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()
    print(f"Created database {name!r}.")


def apply_migrations(url: str) -> None:
    yoyo = Path(sys.executable).parent / "yoyo"
    subprocess.run([str(yoyo), "apply", "--batch", "--database", url, str(ROOT / "migrations")], check=True)
    print("Migrations applied.")


async def ensure_first_user(url: str) -> None:
    from .auth import actions
    from .db import Database, create_pool

    pool = await create_pool(url, 1, 1)
    try:
        db = Database(pool)
        row = await db.fetchone("SELECT count(*) AS n FROM users")
        if row and row["n"]:
            return
        password = secrets.token_urlsafe(12)
        await actions.create_user(db, "admin", password, superuser=True)
        print(
            "\nCreated the first user: username 'admin', password "
            f"{password!r}\n(change it with: .venv/bin/python -m service changepassword admin)\n"
        )
    finally:
        pool.close()
        await pool.wait_closed()


def setup(url: str) -> None:
    ensure_database(url)
    apply_migrations(url)
    asyncio.run(ensure_first_user(url))
