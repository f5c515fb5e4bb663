"""Test fixtures: a real PostgreSQL database and a real Redis.

The session creates a fresh database named after its process id, migrates it
with the real ``yoyo apply`` command, and drops it at the end; every test
starts from empty tables. Redis traffic goes to a channel of its own, so
several test sessions can share one Redis.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import redis

from service import setup_db
from service.auth.passwords import hash_password
from service.config import Settings, load_settings
from service.setup_db import database_on

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("TEST_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct horse battery"


def _database_url(name: str) -> str:
    return database_on(ADMIN_URL, name)


def admin_execute(statement: str) -> None:
    setup_db.admin_execute(ADMIN_URL, statement)


@pytest.fixture
def scratch_database() -> Iterator[Any]:
    """Make empty databases of their own for a test (dropped afterwards)."""
    made: list[str] = []

    def make(purpose: str) -> str:
        name = f"dengue_{purpose}_{os.getpid()}"
        made.append(name)
        return setup_db.recreate_database(ADMIN_URL, name)

    yield make
    for name in made:
        setup_db.drop_database(ADMIN_URL, name)


def yoyo(command: str, database_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "yoyo"),
            command,
            "--batch",
            "--database",
            database_url,
            *extra,
            str(ROOT / "migrations"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},  # yoyo.ini reads it
    )


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"dengue_test_{os.getpid()}"
    url = setup_db.recreate_database(ADMIN_URL, name)
    result = yoyo("apply", url)
    assert result.returncode == 0, result.stderr
    yield url
    setup_db.drop_database(ADMIN_URL, name)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return session_settings(database_url, "test")


def session_settings(database_url: str, purpose: str) -> Settings:
    """Settings of a test session: its database, a Redis channel of its own."""
    base = load_settings({})
    return base.with_(
        database_url=database_url,
        redis_url=os.environ.get("TEST_REDIS_URL", base.redis_url),
        redis_channel=f"dengue-{purpose}-{os.getpid()}:events",
        ws_heartbeat_seconds=5.0,
        event_sweep_seconds=1.0,
    )


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def sql(database_url: str) -> Iterator[Any]:
    """Run SQL directly (autocommit), to set up or check what the API did."""
    conn = psycopg2.connect(database_url)
    conn.autocommit = True

    def run(query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []

    yield run
    conn.close()


@pytest.fixture(autouse=True)
def empty_tables(database_url: str) -> None:
    empty_database(database_url)


def empty_database(database_url: str) -> None:
    """Every table emptied but the migrations' own, and the one ward."""
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "SELECT string_agg(format('%I', tablename), ', ') FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename NOT LIKE '%yoyo%' AND tablename <> 'event_horizon'"
        )
        (tables,) = cur.fetchone()
        cur.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        cur.execute("UPDATE event_horizon SET pruned_through = 0")
        # the one ward the migration makes (id 1): as a deployment that never
        # made a second one, where every user belongs to it
        cur.execute("INSERT INTO wards (name) VALUES ('Dengue ward')")
    conn.close()


@pytest.fixture(autouse=True)
def forget_login_failures(settings: Settings) -> None:
    """Every test starts without failed logins counted (they live in Redis,
    under the session's channel name)."""
    client = redis.Redis.from_url(settings.redis_url)
    try:
        keys = list(client.scan_iter(match=f"{settings.redis_channel}:login:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@dataclass
class Account:
    id: int
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


def add_session(sql: Any, user_id: int, key: str) -> int:
    """A session as a login makes it: only the key's SHA-256 is stored."""
    ((session_id,),) = sql(
        "INSERT INTO auth_sessions (key_hash, user_id) VALUES (sha256(convert_to(%s, 'UTF8')), %s) RETURNING id",
        (key, user_id),
    )
    return int(session_id)


@pytest.fixture
def hold(database_url: str) -> Iterator[Any]:
    """Hold a patient's write lock in a transaction of our own; call what it
    returns to release it. Forces the interleavings of concurrent writes."""
    conn = psycopg2.connect(database_url)

    def lock(patient_id: int) -> Any:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM patients WHERE id = %s FOR NO KEY UPDATE", (patient_id,))
        return conn.rollback

    yield lock
    conn.rollback()
    conn.close()


@pytest.fixture
def make_user(sql: Any, password_hash: str) -> Any:
    def make(
        username: str,
        *,
        superuser: bool = False,
        staff: bool = False,
        active: bool = True,
        token: bool = True,
        wards: tuple[int, ...] = (1,),
    ) -> Account:
        ((user_id,),) = sql(
            "INSERT INTO users (username, password, email, is_active, is_staff, is_superuser) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (username, password_hash, f"{username}@example.com", active, staff or superuser, superuser),
        )
        for ward in wards:
            sql("INSERT INTO user_wards (user_id, ward) VALUES (%s, %s)", (user_id, ward))
        key = secrets.token_hex(20) if token else ""
        if token:
            add_session(sql, user_id, key)
        return Account(user_id, username, key)

    return make


@pytest.fixture
def alice(make_user: Any) -> Account:
    return make_user("alice")


@pytest.fixture
def admin(make_user: Any) -> Account:
    return make_user("admin", superuser=True)


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    from service.app import create_app

    return await aiohttp_client(create_app(settings))
