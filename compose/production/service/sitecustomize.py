"""DATABASE_URL, MIGRATIONS_DATABASE_URL and REDIS_URL for every Python process in the service images.

Installed as ``sitecustomize`` into the image's site-packages, so Python runs
it at start-up. It builds each of these unless it is set, from the env files
the service shares with the postgres and redis containers, so every password
lives in one file only:

- DATABASE_URL, the service's and the worker's connection: POSTGRES_APP_USER
  with POSTGRES_APP_PASSWORD, the role that may only read and write rows
  (compose/production/postgres/app-role.sql), on POSTGRES_HOST, POSTGRES_PORT
  and POSTGRES_DB (``.envs/*/.postgres``). Without POSTGRES_APP_USER it is the
  owner's (the production entrypoint refuses that).
- MIGRATIONS_DATABASE_URL, the owner's: POSTGRES_USER with POSTGRES_PASSWORD,
  which the start scripts give to ``yoyo apply``. When nothing can be built
  (no POSTGRES_* at all) it is DATABASE_URL: one role, as on the plain host.
- REDIS_URL, when REDIS_PASSWORD is set (``.envs/.production/.redis``):
  ``redis://:PASSWORD@redis:6379/0``. Set REDIS_URL for another Redis.

Why not only in the entrypoint: ``docker compose exec service python -m
service createuser ...`` runs without the entrypoint, in the container's
plain environment; with this hook it still reaches the same database as the
server, as the same role.

``python -m sitecustomize [VARIABLE]`` prints DATABASE_URL, or the variable
named (an empty line when there is none); the entrypoint and the local start
script export them that way. The PostgreSQL URLs are built with the same
defaults as the postgres image (host ``postgres``, port 5432, user
``postgres``, database = user) even when no POSTGRES_* variable is set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from urllib.parse import quote

_KEYS = (
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_APP_USER",
    "POSTGRES_APP_PASSWORD",
)


def _postgres_url(env: Mapping[str, str], user: str, password: str) -> str:
    host = env.get("POSTGRES_HOST") or "postgres"
    port = env.get("POSTGRES_PORT") or "5432"
    name = env.get("POSTGRES_DB") or env.get("POSTGRES_USER") or "postgres"
    credentials = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return f"postgresql://{credentials}@{host}:{port}/{quote(name, safe='')}"


def migrations_database_url(env: Mapping[str, str]) -> str:
    """The owner's postgresql://USER:PASSWORD@HOST:PORT/DB, each part percent-encoded."""
    return _postgres_url(env, env.get("POSTGRES_USER") or "postgres", env.get("POSTGRES_PASSWORD") or "")


def database_url(env: Mapping[str, str]) -> str:
    """The service's URL: the app role's when POSTGRES_APP_USER is set, else the owner's."""
    if env.get("POSTGRES_APP_USER"):
        return _postgres_url(env, env["POSTGRES_APP_USER"], env.get("POSTGRES_APP_PASSWORD") or "")
    return migrations_database_url(env)


def redis_url(env: Mapping[str, str]) -> str:
    """redis://:PASSWORD@redis:6379/0, the password percent-encoded."""
    return f"redis://:{quote(env.get('REDIS_PASSWORD') or '', safe='')}@redis:6379/0"


def apply(env: MutableMapping[str, str], *, force: bool = False) -> None:
    """Set each URL unless it is set. DATABASE_URL is built only when some
    POSTGRES_* is set, or with ``force``; MIGRATIONS_DATABASE_URL is built
    when some POSTGRES_* is set, and is DATABASE_URL otherwise; REDIS_URL
    only when REDIS_PASSWORD is set (else the service's default applies)."""
    buildable = any(env.get(key) for key in _KEYS)
    if not env.get("DATABASE_URL") and (buildable or force):
        env["DATABASE_URL"] = database_url(env)
    if not env.get("MIGRATIONS_DATABASE_URL"):
        if buildable:
            env["MIGRATIONS_DATABASE_URL"] = migrations_database_url(env)
        elif env.get("DATABASE_URL"):
            env["MIGRATIONS_DATABASE_URL"] = env["DATABASE_URL"]
    if not env.get("REDIS_URL") and env.get("REDIS_PASSWORD"):
        env["REDIS_URL"] = redis_url(env)


apply(os.environ)

if __name__ == "__main__":
    apply(os.environ, force=True)
    print(os.environ.get(sys.argv[1] if len(sys.argv) > 1 else "DATABASE_URL", ""))
