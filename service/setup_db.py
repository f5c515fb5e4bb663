"""First-run set-up for the plain host (used by scripts/run).

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

from .config import load_settings

ROOT = Path(__file__).resolve().parent.parent


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


def main() -> None:
    url = load_settings().database_url
    ensure_database(url)
    apply_migrations(url)
    asyncio.run(ensure_first_user(url))


if __name__ == "__main__":
    main()
