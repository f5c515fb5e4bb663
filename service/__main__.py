"""Command line: ``python -m service serve|dev|worker|setup|createuser|changepassword|...``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from . import logs
from .config import ConfigError, Settings, load_settings
from .errors import ValidationError

if TYPE_CHECKING:
    from .db import Database


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from .app import create_app
    from .shutdown import serve

    settings = settings.with_(host=args.host or settings.host, port=args.port or settings.port)
    # asyncio's own event loop, not uvloop: aiopg under uvloop answered
    # requests during a PostgreSQL restart with "unable to perform operation
    # on <UVPoll closed=True>" (aio-libs/aiopg#909). README, "PostgreSQL
    # outages", has what it costs (bench --only loop).
    asyncio.run(serve(create_app(settings), settings))
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from .reminders.worker import run_check, run_worker

    if args.check:
        return run_check(settings, args.any_host)
    return run_worker(settings)


def _dev(args: argparse.Namespace, settings: Settings) -> int:
    """The server and one reminder worker, restarted if it exits (development, scripts/run)."""
    from .reminders.supervisor import Supervisor

    worker = Supervisor()
    worker.start()
    try:
        return _serve(args, settings)
    finally:
        worker.stop()


def _setup(args: argparse.Namespace, settings: Settings) -> int:
    from .setup_db import setup

    setup(settings.database_url)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise SystemExit("Error: the two passwords didn't match.")
    return first


async def _with_db(settings: Settings, work: Callable[[Database], Awaitable[None]]) -> None:
    """Run ``work`` with a database whose committed events are published to
    Redis as the server's are (so servers act on them at once)."""
    from .db import open_database
    from .realtime.publisher import Publisher

    publisher = Publisher(settings.redis_url, settings.redis_channel)
    publisher.start()
    db = await open_database(settings, 1, 2, recycle=False)
    db.after_commit = publisher.submit
    try:
        await work(db)
    finally:
        await db.close()
        await publisher.close()


def _createuser(args: argparse.Namespace, settings: Settings) -> int:
    from .auth import actions

    password = _read_password(args)

    async def work(db: Database) -> None:
        user = await actions.create_user(db, args.username, password, args.email, args.staff, args.superuser, args.ward)
        print(f"Created user {user.username!r} (id {user.id}).")
        if not user.wards and not (args.staff or args.superuser):
            print("Warning: the user belongs to no ward and sees no patient (give --ward NAME).", file=sys.stderr)

    asyncio.run(_with_db(settings, work))
    return 0


def _changepassword(args: argparse.Namespace, settings: Settings) -> int:
    from .auth import actions

    password = _read_password(args)

    async def work(db: Database) -> None:
        await actions.change_password(db, args.username, password)
        print(f"Password changed for {args.username!r}.")

    asyncio.run(_with_db(settings, work))
    return 0


def _wards(args: argparse.Namespace, settings: Settings) -> int:
    from .audit import actions as audit
    from .sqlfiles import Q

    if args.create and not (args.name or "").strip():
        raise SystemExit("Error: name the ward to create: wards create NAME")

    async def work(db: Database) -> None:
        if args.create:
            name = args.name.strip()
            if len(name) > 100:
                raise SystemExit("Error: a ward's name has at most 100 characters.")
            if await db.fetchone(Q.ward_by_name, {"name": name}):
                raise SystemExit(f"Error: a ward named {name!r} already exists.")
            async with db.transaction() as tx:
                row = await tx.fetchone(Q.insert_ward, {"name": name})
                assert row is not None
                await audit.record(tx, None, "ward.create", "ward", row["id"], after={"name": name})
            print(f"Created ward {name!r} (id {row['id']}).")
            return
        for ward in await db.fetchall(Q.list_wards, {"after_key": None, "after_id": None, "limit": None, "offset": 0}):
            print(f"{ward['id']}\t{ward['name']}")

    asyncio.run(_with_db(settings, work))
    return 0


def _setactive(active: bool) -> Callable[[argparse.Namespace, Settings], int]:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        from .auth import actions

        async def work(db: Database) -> None:
            ended = await actions.set_active(db, args.username, active)
            state = "activated" if active else f"deactivated ({ended} session(s) ended)"
            print(f"User {args.username!r} {state}.")

        asyncio.run(_with_db(settings, work))
        return 0

    return run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m service", description="Dengue Ward back end")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP and WebSocket server (one process)")
    serve.add_argument("--host", help="listen address (default $HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default $PORT or 8000)")
    serve.set_defaults(run=_serve)
    worker = sub.add_parser("worker", help="run the observation-due reminder worker (several may run)")
    worker.add_argument(
        "--check",
        action="store_true",
        help="exit 0 if a worker of this host beat within WORKER_STALE_SECONDS and the database answers, "
        "else 1 (one line says why)",
    )
    worker.add_argument("--any-host", action="store_true", help="with --check: a worker of any host will do")
    worker.set_defaults(run=_worker)
    dev = sub.add_parser("dev", help="serve and run one reminder worker beside it (development)")
    dev.add_argument("--host", help="listen address (default $HOST or 127.0.0.1)")
    dev.add_argument("--port", type=int, help="listen port (default $PORT or 8000)")
    dev.set_defaults(run=_dev)
    first = sub.add_parser("setup", help="create the database if missing, migrate it, make a first superuser")
    first.set_defaults(run=_setup)
    create = sub.add_parser("createuser", help="create a user")
    create.add_argument("username")
    create.add_argument("--email", default="")
    create.add_argument("--staff", action="store_true", help="may manage users")
    create.add_argument("--superuser", action="store_true", help="may do everything (implies --staff)")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.add_argument(
        "--ward",
        action="append",
        default=[],
        metavar="NAME",
        help="a ward the user belongs to (repeat for several; default: the only ward, if there is one)",
    )
    create.set_defaults(run=_createuser)
    wards = sub.add_parser("wards", help="list the wards, or create one: wards create NAME")
    wards.add_argument("create", nargs="?", choices=["create"], help="create a ward")
    wards.add_argument("name", nargs="?", help="the new ward's name")
    wards.set_defaults(run=_wards)
    change = sub.add_parser("changepassword", help="set a user's password")
    change.add_argument("username")
    change.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    change.set_defaults(run=_changepassword)
    deactivate = sub.add_parser("deactivateuser", help="deactivate a user: every session ends, sockets close")
    deactivate.add_argument("username")
    deactivate.set_defaults(run=_setactive(False))
    activate = sub.add_parser("activateuser", help="let a deactivated user log in again")
    activate.add_argument("username")
    activate.set_defaults(run=_setactive(True))
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    try:
        return args.run(args, settings)
    except ValidationError as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"error": [exc.detail]}
        for field, messages in detail.items():
            for message in messages:
                print(f"Error: {field}: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
