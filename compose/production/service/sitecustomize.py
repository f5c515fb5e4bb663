"""DATABASE_URL for every Python process in the service images.

Installed as ``sitecustomize`` into the image's site-packages, so Python runs
it at start-up. When DATABASE_URL is unset, it is built from POSTGRES_HOST,
POSTGRES_PORT, POSTGRES_DB, POSTGRES_USER and POSTGRES_PASSWORD (the
``.envs/*/.postgres`` file both the postgres and the service containers read),
so the password lives in one file only.

Why not only in the entrypoint: ``docker compose exec service yoyo apply`` and
``docker compose exec service python -m service createuser ...`` run without
the entrypoint, in the container's plain environment; with this hook they still
reach the same database as the server.

``python -m sitecustomize`` prints the URL (the entrypoint and the local start
script export it that way); it is built with the same defaults as the postgres
image (host ``postgres``, port 5432, user ``postgres``, database = user) even
when no POSTGRES_* variable is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from urllib.parse import quote

_KEYS = ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD")


def database_url(env: Mapping[str, str]) -> str:
    """postgresql://USER:PASSWORD@HOST:PORT/DB, each part percent-encoded."""
    user = env.get("POSTGRES_USER") or "postgres"
    password = env.get("POSTGRES_PASSWORD") or ""
    host = env.get("POSTGRES_HOST") or "postgres"
    port = env.get("POSTGRES_PORT") or "5432"
    name = env.get("POSTGRES_DB") or user
    credentials = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return f"postgresql://{credentials}@{host}:{port}/{quote(name, safe='')}"


def apply(env: MutableMapping[str, str], *, force: bool = False) -> None:
    """Set DATABASE_URL unless it is set; without ``force`` only when some POSTGRES_* is."""
    if env.get("DATABASE_URL"):
        return
    if force or any(env.get(key) for key in _KEYS):
        env["DATABASE_URL"] = database_url(env)


apply(os.environ)

if __name__ == "__main__":
    apply(os.environ, force=True)
    print(os.environ["DATABASE_URL"])
