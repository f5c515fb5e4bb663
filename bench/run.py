"""The benchmark run: set up (or reach) the service, run the scenarios in
rounds, print the table and write bench/results/<UTC timestamp>.json."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import orjson

from . import limits, logins, loop, realtime, report, rest, scale, wards
from .clients import Clients, LoadGen
from .common import RESULTS_DIR, ROOT, CpuSampler, loadavg, neighbours, open_files_limit
from .profile import Profiler
from .target import BENCH_DB, Managed, Target, login, seed_patients

# Scenarios on the shared server (dengue_bench) or a --url target.
MAIN_SCENARIOS = ("rest", "ws", "fanout", "capacity", "reminders", "limits")
# Scenarios that start their own server process on their own database.
OWN_SERVER_SCENARIOS = ("scale", "wards", "logins", "loop")
SCENARIOS = MAIN_SCENARIOS + OWN_SERVER_SCENARIOS


# The issue-7 scenarios measure what one process can carry, with one bench
# user: the per-user socket limits (issue 12: 50 sockets per user, 50 frames
# a second per socket) would refuse the fan-out's and the idle sessions'
# thousands of sockets and throttle the request/response sockets. They are
# raised for these scenarios only (tests prove the limits themselves; the
# wards scenario runs with them). --server-env overrides these.
CAPACITY_ENV = {
    "WS_MAX_SOCKETS_PER_USER": "20000",
    "WS_FRAMES_PER_SECOND": "1000000",
    "WS_FRAME_BURST": "1000000",
}


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.replace("_", "").split(",") if x.strip()]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Dengue Ward benchmarks (issue 7). By default: a fresh database 'dengue_bench' on the local "
            "PostgreSQL, one server process and, for the reminders, one worker; every scenario; one round."
        ),
    )
    p.add_argument("--quick", action="store_true", help="short smoke run (about 2 minutes, smaller N)")
    p.add_argument(
        "--only",
        default=",".join(MAIN_SCENARIOS),
        help=f"comma-separated scenarios to run (default: {','.join(MAIN_SCENARIOS)}; also "
        f"{','.join(OWN_SERVER_SCENARIOS)}, each on its own server and database)",
    )
    p.add_argument("--rounds", type=int, default=1, help="repeat the scenarios N times; the table shows medians")
    p.add_argument("--url", help="target an existing service (http://127.0.0.1:PORT) instead of starting one")
    p.add_argument("--username", default=None, help="with --url: user to log in as")
    p.add_argument("--password", default=None, help="with --url: that user's password")
    p.add_argument("--token", default=None, help="with --url: a token key instead of username/password")
    p.add_argument("--server-pid", type=int, help="with --url: the server's pid, for its RSS and CPU")
    p.add_argument("--database-url", help="with --url: the service's database, for the reminders' own timings")
    p.add_argument(
        "--pg-admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL to create the bench databases on (trust auth)",
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the server and worker (e.g. DB_POOL_MAX=20); repeatable",
    )
    p.add_argument("--warmup", type=float, help="seconds of warm-up before each measured window (default 2)")
    p.add_argument("--duration", type=float, help="seconds of each measured window (default 10)")
    p.add_argument("--concurrency", type=_ints, help="REST connections (default 16,64)")
    p.add_argument("--ws-sockets", type=int, help="WebSocket request/response sockets (default 16)")
    p.add_argument("--fanout-sizes", type=_ints, help="fan-out subscribers (default 100,1000,5000)")
    p.add_argument(
        "--capacity-steps",
        type=_ints,
        help="idle sessions held, stepped (default 1000,5000,10000,15000,19000; capped below the fd limit)",
    )
    p.add_argument("--reminders", type=int, help="reminders due within the same minute (default 1000)")
    p.add_argument("--client-procs", type=int, default=4, help="load-generating processes for the sockets")
    p.add_argument("--limits-seconds", type=float, help="pgbench -T (default 10)")
    p.add_argument(
        "--no-restart",
        action="store_true",
        help="measure capacity on the running server instead of a freshly started one",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="record py-spy profiles of the server during each measured window (adds overhead)",
    )
    p.add_argument("--profile-native", action="store_true", help="with --profile: include C frames (py-spy --native)")
    p.add_argument(
        "--diagnose",
        action="store_true",
        help="also run pgbench variants of the report create (fewer clients, without the advisory "
        "lock, synchronous_commit off) to show where its time goes (+40 s)",
    )
    p.add_argument(
        "--patients",
        type=int,
        default=10_000,
        help="scale: patients in the seeded archive (A = 1000, B = 10000, C = 40000; ~51 reports each)",
    )
    p.add_argument("--scale-loads", type=int, default=10, help="scale: whole GET /api/reports/ before ?patient= again")
    p.add_argument("--board-runs", type=int, default=3, help="scale: cold loads of the board in Chromium")
    p.add_argument("--board-timeout", type=float, default=90.0, help="scale: seconds a board load may take")
    p.add_argument("--wards", type=int, default=20, help="wards: how many wards")
    p.add_argument("--ward-screens", type=int, default=250, help="wards: sockets per ward")
    p.add_argument("--logins", type=int, default=40, help="logins: logins at once, in waves")
    p.add_argument("--login-rounds", type=int, default=3, help="logins: A/B rounds")
    p.add_argument("--login-window", type=float, default=5.0, help="logins: seconds of each A and B window")
    p.add_argument("--loop-rounds", type=int, default=3, help="loop: A/B rounds (asyncio, uvloop)")
    p.add_argument("--loop-fanout", type=int, default=1000, help="loop: fan-out subscribers")
    p.add_argument("--show", metavar="JSON", help="print the table of an earlier run's JSON file and exit")
    p.add_argument("--output", help="JSON path (default bench/results/<UTC timestamp>.json)")
    return p


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    return {
        "warmup": args.warmup if args.warmup is not None else (1.0 if quick else 2.0),
        "duration": args.duration if args.duration is not None else (3.0 if quick else 10.0),
        "concurrency": args.concurrency or [16, 64],
        "ws_sockets": args.ws_sockets or 16,
        "fanout_sizes": args.fanout_sizes or ([100, 1000] if quick else [100, 1000, 5000]),
        "capacity_steps": args.capacity_steps or ([1000, 5000] if quick else [1000, 5000, 10000, 15000, 19000]),
        "reminders": args.reminders or (200 if quick else 1000),
        "reminder_lead": 8.0 if quick else 15.0,
        "reminder_spread": 10.0 if quick else 30.0,
        "reminder_grace": 10.0,
        "limits_seconds": args.limits_seconds or (3.0 if quick else 10.0),
        "publish_requests": 50_000 if quick else 200_000,
    }


def _version(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return None


def tree_state() -> dict[str, Any]:
    """Which code was measured: commit, uncommitted files and a hash of the tree."""

    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    digest = hashlib.sha256()
    for folder in ("service", "sql", "migrations"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted": [
            line for line in git("status", "--porcelain", "--", "service", "sql", "migrations").splitlines()
        ],
        "sha256_service_sql_migrations": digest.hexdigest(),
    }


def machine() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem = ""
    import resource

    import aiohttp

    return {
        "hostname": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem": mem.split(":")[-1].strip(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "fd_limit": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "postgres": _version(["psql", "--version"]),
        "redis": _version(["redis-server", "--version"]),
        "wrk": _version(["wrk", "--version"]),
    }


def _print_neighbours(when: str, rows: list[dict[str, Any]]) -> None:
    """Other people's processes busy on this machine (a shared host)."""
    if not rows:
        print(f"other processes {when}: none busy", flush=True)
        return
    print(f"other processes busy {when} (cores over 1 s):", flush=True)
    for row in rows:
        print(f"  {row['cpu']:>5.2f}  {row['cmd']}", flush=True)


async def _scenario(name: str, coro: Any) -> dict[str, Any]:
    print(f"- {name}", flush=True)
    t0 = time.monotonic()
    try:
        result = await coro
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(f"  ({time.monotonic() - t0:.0f} s)", flush=True)
    return result


async def main_async(args: argparse.Namespace) -> int:
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        print(f"unknown scenario(s): {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    if "rest" in only and (hint := rest.check_wrk()):
        print(hint, file=sys.stderr)
        return 2
    if "limits" in only:
        for tool, pkg in (("pgbench", "postgresql-client"), ("redis-benchmark", "redis-tools")):
            if not shutil.which(tool):
                print(f"{tool} is missing: apt-get install -y {pkg}", file=sys.stderr)
                return 2
    cfg = settings_of(args)
    started = dt.datetime.now(dt.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    logdir = RESULTS_DIR / f"{stamp}-logs"
    out_path = Path(args.output) if args.output else RESULTS_DIR / f"{stamp}.json"
    extra_env = dict(kv.split("=", 1) for kv in args.server_env)
    t_start = time.monotonic()
    load_before = loadavg()
    busy_before = await asyncio.to_thread(neighbours)
    _print_neighbours("before", busy_before)

    needs_main = bool(set(only) & set(MAIN_SCENARIOS))
    managed: Managed | None = None
    target: Target | None = None
    writer = listener = None
    clients: Clients | None = None
    helpers: list[LoadGen] = []
    cpu = CpuSampler(None)
    rounds: list[dict[str, Any]] = []
    profiler: Profiler | None = None
    try:
        if not needs_main and args.url:
            print(
                f"{', '.join(only)}: these start their own server on their own database; --url is not used", flush=True
            )
        if needs_main:
            cpu.databases |= {BENCH_DB, limits.LIMITS_DB}
            if args.url:
                if not args.url.startswith(("http://127.0.0.1", "http://localhost")):
                    print("--url must be a loopback address (http://127.0.0.1:PORT)", file=sys.stderr)
                    return 2
                target = Target(args.url.rstrip("/"), server_pid=args.server_pid, database_url=args.database_url)
                if args.token:
                    target.token = args.token
                elif args.username and args.password is not None:
                    target.token = await login(target.base_url, args.username, args.password)
                else:
                    print("--url needs --token, or --username and --password", file=sys.stderr)
                    return 2
            else:
                print(f"setting up: database dengue_bench, server, logs in {logdir}", flush=True)
                managed = Managed(args.pg_admin_url, args.redis_url, logdir, {**CAPACITY_ENV, **extra_env})
                await asyncio.to_thread(managed.setup)
                pid = await asyncio.to_thread(managed.start_server)
                target = Target(
                    f"http://127.0.0.1:{managed.port}", server_pid=pid, database_url=managed.database_url, managed=True
                )
                target.token = await login(target.base_url, "bench", managed.password)
            target.patient_ids = await seed_patients(target, 100)
            cpu.retarget(target.server_pid)
            if args.profile:
                profiler = Profiler(
                    lambda: target.server_pid, RESULTS_DIR / f"{stamp}-profiles", native=args.profile_native
                )
                if profiler.exe is None:
                    print("py-spy not found (pip install py-spy); profiling off", file=sys.stderr)
                    profiler = None
            if {"ws", "fanout", "capacity"} & set(only):
                clients = await Clients.start(args.client_procs)
            if "fanout" in only:
                helpers.append(await LoadGen.start("writer"))
            if "reminders" in only:
                helpers.append(await LoadGen.start("listener"))
            cpu.client_pids.update([g.pid for g in (clients.gens if clients else [])] + [h.pid for h in helpers])
            writer = next((h for h in helpers if h.name == "writer"), None)
            listener = next((h for h in helpers if h.name == "listener"), None)
            server_fd_limit = open_files_limit(target.server_pid) if target.server_pid else None
            print(
                f"server pid {target.server_pid} at {target.base_url}; fd limit {server_fd_limit}; "
                f"{len(target.patient_ids)} patients",
                flush=True,
            )

        cpu.start()

        for rnd in range(args.rounds):
            print(f"round {rnd + 1}/{args.rounds}", flush=True)
            res: dict[str, Any] = {"started": dt.datetime.now(dt.UTC).isoformat()}
            if "rest" in only:
                res["rest"] = await _scenario(
                    "REST (wrk)", rest.run(target, cpu, cfg["concurrency"], cfg["warmup"], cfg["duration"], profiler)
                )
            if "ws" in only and clients:
                res["ws"] = await _scenario(
                    "WebSocket request/response",
                    realtime.rr(target, clients, cpu, cfg["ws_sockets"], cfg["warmup"], cfg["duration"], profiler),
                )
            if "fanout" in only and clients and writer:
                res["fanout"] = await _scenario(
                    "fan-out",
                    realtime.fanout(
                        target,
                        clients,
                        writer,
                        cpu,
                        cfg["fanout_sizes"],
                        cfg["warmup"],
                        cfg["duration"],
                        profiler=profiler,
                    ),
                )
            if "capacity" in only and clients:
                restart = None
                if managed is not None and not args.no_restart:

                    def restart() -> int:
                        pid = managed.restart_server()
                        cpu.retarget(pid)
                        return pid

                cap = await _scenario(
                    "idle capacity", realtime.capacity(target, clients, cfg["capacity_steps"], restart=restart)
                )
                res["capacity"] = cap.get("capacity", cap)
            if "reminders" in only and listener:
                rem = await _scenario(
                    "reminder lateness",
                    realtime.reminders(
                        target,
                        listener,
                        cfg["reminders"],
                        cfg["reminder_lead"],
                        cfg["reminder_spread"],
                        cfg["reminder_grace"],
                        start_worker=(lambda: cpu.labels.setdefault(managed.start_worker(), "worker"))
                        if managed
                        else None,
                        stop_worker=managed.stop_worker if managed else None,
                        profiler=profiler,
                        cpu=cpu,
                    ),
                )
                res["reminders"] = rem.get("reminders", rem)
            if "limits" in only:
                lim = await _scenario(
                    "limits (redis-benchmark, pgbench)",
                    limits.run(
                        args.pg_admin_url,
                        args.redis_url,
                        cfg["limits_seconds"],
                        cfg["publish_requests"],
                        diagnose=args.diagnose,
                        cpu=cpu,
                    ),
                )
                res["limits"] = lim.get("limits", lim)
                res["pgbench_scripts"] = lim.get("pgbench_scripts")
            if "scale" in only:
                res["scale"] = await _scenario(
                    f"scale ({args.patients:,} patients)",
                    scale.run(
                        args.pg_admin_url,
                        args.redis_url,
                        logdir,
                        extra_env,
                        args.patients,
                        cpu,
                        loads=args.scale_loads,
                        board_runs=args.board_runs,
                        board_timeout=args.board_timeout,
                    ),
                )
            if "wards" in only:
                res["wards"] = await _scenario(
                    f"wards ({args.wards} x {args.ward_screens} screens)",
                    wards.run(
                        args.pg_admin_url,
                        args.redis_url,
                        logdir,
                        extra_env,
                        cpu,
                        wards=args.wards,
                        screens=args.ward_screens,
                        client_procs=args.client_procs,
                        warmup=cfg["warmup"],
                        duration=cfg["duration"],
                    ),
                )
            if "logins" in only:
                res["logins"] = await _scenario(
                    f"logins ({args.logins} at once)",
                    logins.run(
                        args.pg_admin_url,
                        args.redis_url,
                        logdir,
                        extra_env,
                        cpu,
                        parallel=args.logins,
                        rounds=args.login_rounds,
                        window=args.login_window,
                    ),
                )
            if "loop" in only:
                res["loop"] = await _scenario(
                    f"loop (asyncio against uvloop, {args.loop_rounds} A/B rounds)",
                    loop.run(
                        args.pg_admin_url,
                        args.redis_url,
                        logdir,
                        extra_env,
                        cpu,
                        rounds=args.loop_rounds,
                        fanout=args.loop_fanout,
                        client_procs=args.client_procs,
                        warmup=cfg["warmup"],
                        duration=cfg["duration"],
                    ),
                )
            res["ratios"] = report.ratios(res)
            rounds.append(res)
    finally:
        await cpu.stop()
        if clients:
            await clients.stop()
        for h in helpers:
            await h.stop()
        if managed:
            managed.close()

    busy_after = await asyncio.to_thread(neighbours)
    _print_neighbours("after", busy_after)
    summary = report.summarize(rounds)
    goals = report.targets(summary)
    doc = {
        "started": started.isoformat(),
        "elapsed_s": round(time.monotonic() - t_start, 1),
        "command": " ".join([Path(sys.executable).name, "-m", "bench", *sys.argv[1:]]),
        "settings": cfg,
        "scenarios": only,
        "rounds_run": len(rounds),
        "target": {
            "url": target.base_url if target else None,
            "managed": managed is not None or not needs_main,
            "server_env": {**CAPACITY_ENV, **extra_env} if managed is not None else extra_env,
        },
        "machine": machine(),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "neighbours_before": busy_before,
        "neighbours_after": busy_after,
        "tree": tree_state(),
        "summary": summary,
        "targets": goals,
        "rounds": rounds,
        "profiles": profiler.summaries if profiler else {},
        "logs": str(logdir) if managed or not needs_main else None,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    print()
    show(doc)
    print(f"JSON: {out_path}")
    return 0


def show(doc: dict[str, Any]) -> None:
    """The printed report of one run (also ``--show FILE``)."""
    m = doc["machine"]
    print(
        f"Dengue Ward benchmark, {doc['started'][:16].replace('T', ' ')} UTC, {m['cpus']} CPUs ({m['cpu_model']}), "
        f"load before/after {doc['loadavg_before']} / {doc['loadavg_after']}, {doc['elapsed_s']:.0f} s, "
        f"tree {doc['tree']['commit'][:10]}+{len(doc['tree']['uncommitted'])} changed files "
        f"(sha256 {doc['tree']['sha256_service_sql_migrations'][:12]})"
    )
    print(report.table(doc["summary"], doc["targets"], doc["rounds_run"]))
    if doc.get("profiles"):
        print("Profiles (py-spy, server process; self time, top 8):")
        for name, prof in doc["profiles"].items():
            top = ", ".join(f"{f.split(' (')[0]} {p}%" for f, p in prof["self"][:8])
            print(f"  {name} ({prof['samples']} samples): {top}")


def raise_fd_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit, inherited by the server and clients
    (a shell's default soft limit of 1024 would cap the sockets far below the target)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.show:
        show(orjson.loads(Path(args.show).read_bytes()))
        return 0
    raise_fd_limit()
    if args.rounds < 1:
        print("--rounds must be >= 1", file=sys.stderr)
        return 2
    return asyncio.run(main_async(args))
