"""Outage tests: a PostgreSQL cluster of their own under /tmp (tests/pgcluster.py),
which a test may stop, crash and start again; never the machine's shared one.

One cluster for the directory's tests, with one migrated database; the
fixtures the suite's other tests use (``database_url``, ``settings``,
``sql``, ``make_user``, ``client``, ...) point at it here. A test that stops
the cluster leaves it running again (``pg``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import psycopg2
import pytest

from service import setup_db
from service.config import Settings

from ..conftest import empty_database, session_settings, yoyo
from ..pgcluster import PgCluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[PgCluster]:
    own = PgCluster()
    try:
        own.start()
        yield own
    finally:
        own.destroy()


@pytest.fixture(scope="session")
def database_url(cluster: PgCluster) -> str:
    url = setup_db.recreate_database(cluster.admin_url, "dengue_outage")
    result = yoyo("apply", url)
    assert result.returncode == 0, result.stderr
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return session_settings(database_url, "outage-test").with_(db_acquire_timeout=1.0, db_statement_timeout=3.0)


def running(cluster: PgCluster) -> bool:
    try:
        psycopg2.connect(cluster.admin_url, connect_timeout=2).close()
        return True
    except psycopg2.OperationalError:
        return False


@pytest.fixture
def pg(cluster: PgCluster) -> Iterator[PgCluster]:
    """The cluster, for a test that stops it: running again afterwards."""
    yield cluster
    if not running(cluster):
        try:
            cluster.start()
        except subprocess.CalledProcessError:
            cluster.stop("immediate")  # a half-finished stop
            cluster.start()


@pytest.fixture(autouse=True)
def empty_tables(database_url: str) -> None:
    empty_database(database_url)
