"""The deployment files: local.yml, production.yml, compose/, .envs/.

Docker cannot run here, so these tests read the files the way docker compose
and docker build would and check that everything they point at exists and
fits together. The shell scripts are checked with ``bash -n`` and, whenever
``shellcheck`` is on PATH, with ``shellcheck -x`` too (without it only
``bash -n`` runs: ``apt-get install -y shellcheck`` adds it). The entrypoint
and both start scripts are also run for real on the host, against the local
PostgreSQL, with stand-ins for gunicorn and watchfiles.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import yaml
from psycopg2.extensions import parse_dsn

from service import __main__ as service_main
from service.config import Settings
from service.reminders import worker as worker_module

from ..conftest import ADMIN_URL, ROOT
from ..servers import free_port, wait_until
from .conftest import Roles

COMPOSE = ROOT / "compose"
LOCAL_START = COMPOSE / "local" / "service" / "start"
PROD_ENTRYPOINT = COMPOSE / "production" / "service" / "entrypoint"
PROD_START = COMPOSE / "production" / "service" / "start"
SITECUSTOMIZE = COMPOSE / "production" / "service" / "sitecustomize.py"
MAINTENANCE = COMPOSE / "production" / "postgres" / "maintenance"
NGINX_CONF = COMPOSE / "production" / "nginx" / "default.conf"
NGINX_MAIN = COMPOSE / "production" / "nginx" / "nginx.conf"
LOGIN_LOCATION = "location ~ ^/rest-auth/login/?$"
TEMPLATE = ROOT / ".envs" / ".production.template"
AVAILABLE = "PostgreSQL is available"

SCRIPTS = [
    LOCAL_START,
    PROD_ENTRYPOINT,
    PROD_START,
    MAINTENANCE / "backup",
    MAINTENANCE / "backups",
    MAINTENANCE / "restore",
    MAINTENANCE / "_sourced" / "constants.sh",
    MAINTENANCE / "_sourced" / "messages.sh",
    MAINTENANCE / "_sourced" / "guards.sh",
]
GUNICORN_KEYS = {
    "GUNICORN_WORKERS",
    "GUNICORN_BIND",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
}
POSTGRES_KEYS = {
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_APP_USER",
    "POSTGRES_APP_PASSWORD",
}
APP_ROLE_SQL = COMPOSE / "production" / "postgres" / "app-role.sql"


# --- reading the files --------------------------------------------------------


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path}: not KEY=VALUE: {line!r}"
            values[key] = value
    return values


def repo_env_path(compose_path: str) -> Path:
    """An env_file of a compose file, as a file of the repository: the
    git-ignored .envs/.production/X is represented by the template's X."""
    path = Path(compose_path)
    if path.parts[:2] == (".envs", ".production"):
        path = Path(".envs", ".production.template", *path.parts[2:])
    return ROOT / path


def dockerfile_lines(path: Path) -> list[str]:
    """Instructions with continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        current += raw.rstrip("\\").strip() + " " if raw.rstrip().endswith("\\") else raw.strip()
        if not raw.rstrip().endswith("\\"):
            if current:
                lines.append(current)
            current = ""
    return lines


def copies(path: Path) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context."""
    found = []
    for line in dockerfile_lines(path):
        words = line.split()
        if words[0].upper() != "COPY" or any(w.startswith("--from=") for w in words):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        found.append((args[:-1], args[-1]))
    return found


def build_of(service: dict[str, Any]) -> tuple[Path, Path]:
    context = ROOT / service["build"]["context"]
    return context, context / service["build"]["dockerfile"]


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m)", duration)
    assert match, duration
    return int(match[1]) * {"ms": 0.001, "s": 1, "m": 60}[match[2]]


def settings_keys() -> set[str]:
    """Every environment variable service/config.py reads."""
    text = (ROOT / "service" / "config.py").read_text()
    return set(re.findall(r"env(?:\.get\(|, )\"([A-Z][A-Z0-9_]+)\"", text))


def nginx_blocks(text: str, head: str) -> list[str]:
    """The bodies of the blocks opened by ``head {`` (e.g. 'server', 'location /ws/')."""
    bodies = []
    for match in re.finditer(re.escape(head) + r"\s*\{", text):
        depth, i = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        bodies.append(text[match.end() : i - 1])
    return bodies


@pytest.fixture(scope="module")
def local() -> dict[str, Any]:
    return load("local.yml")


@pytest.fixture(scope="module")
def production() -> dict[str, Any]:
    return load("production.yml")


# --- compose files ------------------------------------------------------------


def test_services_of_each_file(local: dict[str, Any], production: dict[str, Any]) -> None:
    assert set(local["services"]) == {"postgres", "redis", "service", "worker"}
    assert set(production["services"]) == {"postgres", "redis", "service", "worker", "nginx"}


@pytest.mark.parametrize("name", ["local.yml", "production.yml"])
def test_builds_point_at_existing_dockerfiles(name: str) -> None:
    services = load(name)["services"]
    expected = {
        "service": f"compose/{name.split('.')[0]}/service/Dockerfile",
        "worker": f"compose/{name.split('.')[0]}/service/Dockerfile",
        "postgres": "compose/production/postgres/Dockerfile",
    }
    if name == "production.yml":
        expected["nginx"] = "compose/production/nginx/Dockerfile"
    for service, dockerfile in expected.items():
        context, path = build_of(services[service])
        assert context == ROOT, service
        assert path.resolve() == (ROOT / dockerfile).resolve(), service
        assert path.is_file(), path
    assert services["redis"]["image"] == "docker.io/redis:7"
    assert "build" not in services["redis"]


@pytest.mark.parametrize("dockerfile", sorted(str(p.relative_to(ROOT)) for p in COMPOSE.rglob("Dockerfile")))
def test_dockerfile_copies_existing_files(dockerfile: str) -> None:
    found = copies(ROOT / dockerfile)
    assert found, f"{dockerfile} copies nothing"
    ignored = set((ROOT / ".dockerignore").read_text().split())
    for sources, _ in found:
        for source in sources:
            assert (ROOT / source).exists(), f"{dockerfile}: COPY {source}: no such file"
            parts = Path(source).parts  # "./compose/x" -> ("compose", "x"); "." -> ()
            assert not parts or parts[0] not in ignored, f"{dockerfile}: COPY {source}: excluded by .dockerignore"


def test_dockerfiles_count() -> None:
    assert {str(p.relative_to(COMPOSE)) for p in COMPOSE.rglob("Dockerfile")} == {
        "local/service/Dockerfile",
        "production/service/Dockerfile",
        "production/postgres/Dockerfile",
        "production/nginx/Dockerfile",
    }


@pytest.mark.parametrize("kind, requirements", [("local", "local.txt"), ("production", "production.txt")])
def test_service_images(kind: str, requirements: str) -> None:
    path = COMPOSE / kind / "service" / "Dockerfile"
    lines = dockerfile_lines(path)
    text = "\n".join(lines)
    assert "ARG PYTHON_VERSION=3.11-slim-bookworm" in lines
    assert all(line.split()[1] == "docker.io/python:${PYTHON_VERSION}" for line in lines if line.startswith("FROM")), (
        text
    )
    assert f"/requirements/{requirements}" in text
    assert (ROOT / "requirements" / requirements).is_file()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users == ["dengue"], "the image must end with USER dengue"
    assert lines.index("USER dengue") > max(i for i, line in enumerate(lines) if line.startswith(("RUN", "COPY")))
    useradd = re.search(r"useradd [^\n]*\bdengue\b", text)
    assert useradd and "--create-home" in useradd[0]  # gunicorn's control socket lives in ~/.gunicorn
    destinations = {dest: sources for sources, dest in copies(path)}
    assert destinations["/start"] == [f"./compose/{kind}/service/start"]
    assert destinations["/tmp/sitecustomize.py"] == ["./compose/production/service/sitecustomize.py"]
    assert 'sysconfig.get_path("purelib")' in text  # installed as site-packages/sitecustomize.py
    assert 'CMD ["/start"]' in lines
    if kind == "production":
        assert destinations["/entrypoint"] == ["./compose/production/service/entrypoint"]
        assert 'ENTRYPOINT ["/entrypoint"]' in lines
        assert "--from=python-build-stage" in text


def test_nginx_and_postgres_images() -> None:
    nginx = dockerfile_lines(COMPOSE / "production" / "nginx" / "Dockerfile")
    assert nginx[0].startswith("FROM docker.io/nginx:")
    assert {dest: src for src, dest in copies(COMPOSE / "production" / "nginx" / "Dockerfile")} == {
        "/etc/nginx/nginx.conf": ["./compose/production/nginx/nginx.conf"],
        "/etc/nginx/conf.d/default.conf": ["./compose/production/nginx/default.conf"],
    }
    postgres = COMPOSE / "production" / "postgres" / "Dockerfile"
    assert dockerfile_lines(postgres)[0] == "FROM docker.io/postgres:15-bookworm"
    assert copies(postgres) == [
        (["./compose/production/postgres/app-role.sql"], "/docker-entrypoint-initdb.d/app-role.sql"),
        (["./compose/production/postgres/maintenance"], "/usr/local/bin/maintenance"),
    ]
    run = " ".join(dockerfile_lines(postgres))
    for script in ("backup", "backups", "restore"):
        assert f"/usr/local/bin/maintenance/{script}" in run
    assert "mv /usr/local/bin/maintenance/* /usr/local/bin" in run


def test_dockerignore_keeps_secrets_and_environments_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".envs", ".venv", "**/__pycache__", "**/node_modules"} <= ignored
    # what the images need is not ignored
    assert not ignored & {"service", "sql", "migrations", "yoyo.ini", "requirements", "compose"}


@pytest.mark.parametrize("name, kind", [("local.yml", "local"), ("production.yml", "production")])
def test_commands_and_entrypoints(name: str, kind: str) -> None:
    services = load(name)["services"]
    assert services["service"]["command"] == "/start"
    assert services["worker"]["command"] == "python -m service worker"
    assert "entrypoint" not in services["service"] and "entrypoint" not in services["worker"]
    # /start in the image is the start script of this kind
    _, dockerfile = build_of(services["service"])
    assert {dest: src for src, dest in copies(dockerfile)}["/start"] == [f"./compose/{kind}/service/start"]
    assert services["worker"]["build"] == services["service"]["build"]


@pytest.mark.parametrize("name, kind", [("local.yml", "local"), ("production.yml", "production")])
def test_env_files_exist_and_service_reads_postgres_settings(name: str, kind: str) -> None:
    services = load(name)["services"]
    # production's Redis has a password, in a file of its own that both sides read
    redis = [f"./.envs/.{kind}/.redis"] if kind == "production" else []
    for service in ("service", "worker"):
        assert services[service]["env_file"] == [f"./.envs/.{kind}/.service", f"./.envs/.{kind}/.postgres", *redis]
    assert services["postgres"]["env_file"] == [f"./.envs/.{kind}/.postgres"]
    assert services["redis"].get("env_file", []) == redis
    for service in services.values():
        for path in service.get("env_file", []):
            assert repo_env_path(path).is_file(), path


def test_production_envs_are_git_ignored_and_the_template_is_not() -> None:
    for path in (".envs/.production/.service", ".envs/.production/.postgres", ".envs/.production/.redis"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        assert ignored.returncode == 0, f"{path} must be git-ignored"
    for path in (
        ".envs/.production.template/.service",
        ".envs/.production.template/.postgres",
        ".envs/.production.template/.redis",
        ".envs/.local/.service",
        ".envs/.local/.postgres",
    ):
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        assert result.returncode == 1, f"{path} must be committed"


def test_template_has_every_key_production_needs() -> None:
    postgres = env_file(TEMPLATE / ".postgres")
    service = env_file(TEMPLATE / ".service")
    assert set(postgres) == POSTGRES_KEYS
    assert postgres["POSTGRES_HOST"] == "postgres" and postgres["POSTGRES_PORT"] == "5432"
    assert postgres["POSTGRES_USER"] != "postgres"  # the maintenance scripts refuse it
    assert postgres["POSTGRES_APP_USER"] not in ("", "postgres", postgres["POSTGRES_USER"])
    assert "CHANGE_ME" in postgres["POSTGRES_PASSWORD"]  # the entrypoint refuses it
    assert "CHANGE_ME" in postgres["POSTGRES_APP_PASSWORD"]
    assert env_file(TEMPLATE / ".redis") == {"REDIS_PASSWORD": "CHANGE_ME"}  # the entrypoint refuses it
    assert "REDIS_URL" not in service  # built from REDIS_PASSWORD
    assert service["REDIS_CHANNEL"]
    assert service["LOG_FORMAT"] == "json"
    assert set(service) >= GUNICORN_KEYS
    assert service["GUNICORN_BIND"] == "0.0.0.0:8000"
    assert {"WS_ALLOWED_ORIGINS", "CLINICAL_TIMEZONE", "DB_POOL_MAX", "LOG_LEVEL"} <= set(service)


def test_local_env_files() -> None:
    postgres = env_file(ROOT / ".envs" / ".local" / ".postgres")
    service = env_file(ROOT / ".envs" / ".local" / ".service")
    assert set(postgres) == POSTGRES_KEYS
    assert postgres["POSTGRES_USER"] != "postgres"
    assert postgres["POSTGRES_APP_USER"] not in ("", "postgres", postgres["POSTGRES_USER"])
    assert postgres["POSTGRES_APP_PASSWORD"]
    assert service["REDIS_URL"] == "redis://redis:6379/0"
    # the tests in the container create databases: as the owner, not the app role
    admin = parse_dsn(service["TEST_ADMIN_DATABASE_URL"])
    assert (admin["user"], admin["password"], admin["host"], admin["port"]) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        postgres["POSTGRES_HOST"],
        postgres["POSTGRES_PORT"],
    )


@pytest.mark.parametrize(
    "path",
    [
        TEMPLATE / ".service",
        TEMPLATE / ".postgres",
        TEMPLATE / ".redis",
        ROOT / ".envs" / ".local" / ".service",
        ROOT / ".envs" / ".local" / ".postgres",
    ],
)
def test_env_files_only_hold_known_variables(path: Path) -> None:
    known = (
        settings_keys()
        | GUNICORN_KEYS
        | POSTGRES_KEYS
        | {"REDIS_PASSWORD", "TEST_ADMIN_DATABASE_URL", "TEST_REDIS_URL"}
    )
    assert {"DATABASE_URL", "REDIS_URL", "WS_ALLOWED_ORIGINS", "LOG_FORMAT", "SHUTDOWN_TIMEOUT"} <= known
    unknown = set(env_file(path)) - known
    assert not unknown, f"{path}: unknown variables {unknown}"


def test_production_runs_gunicorn_with_json_logs(production: dict[str, Any]) -> None:
    script = PROD_START.read_text()
    assert re.search(r'^DATABASE_URL="\$\{MIGRATIONS_DATABASE_URL:\?[^}]*\}" yoyo apply$', script, re.MULTILINE)
    assert script.rstrip().splitlines()[-1] == "exec gunicorn -c python:service.gunicorn_conf service.app:gunicorn_app"
    assert script.index("yoyo apply") < script.index("exec gunicorn")
    assert (ROOT / "service" / "gunicorn_conf.py").is_file()
    assert production["services"]["service"]["command"] == "/start"
    assert env_file(TEMPLATE / ".service")["LOG_FORMAT"] == "json"
    assert production["services"]["service"]["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", ["local.yml", "production.yml"])
def test_the_reminder_worker_is_restarted_when_it_exits(name: str) -> None:
    """Nothing else fires reminders: a worker that crashed must come back."""
    services = load(name)["services"]
    assert services["worker"]["restart"] in ("unless-stopped", "always")


@pytest.mark.parametrize("name", ["local.yml", "production.yml"])
def test_the_reminder_workers_health_is_its_heartbeat(name: str) -> None:
    worker = load(name)["services"]["worker"]
    assert worker["command"] == "python -m service worker"
    healthcheck = worker["healthcheck"]
    assert healthcheck["test"] == ["CMD", "python", "-m", "service", "worker", "--check"]
    args = service_main.parser().parse_args(healthcheck["test"][4:])
    assert args.check and not args.any_host  # this container's worker, not any
    # it beats at least every WORKER_HEARTBEAT_SECONDS; --check passes for WORKER_STALE_SECONDS
    defaults = Settings()
    assert defaults.worker_heartbeat_seconds * 2 <= defaults.worker_stale_seconds
    assert seconds(healthcheck["timeout"]) >= 10
    # it stops within its grace period: the step under way gets STOP_GRACE_SECONDS
    assert seconds(worker["stop_grace_period"]) > worker_module.STOP_GRACE_SECONDS


def gunicorn_conf(**env: str) -> Any:
    """service/gunicorn_conf.py as gunicorn loads it, in a given environment."""
    spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", ROOT / "service" / "gunicorn_conf.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return module


def test_graceful_timeout_follows_shutdown_timeout() -> None:
    assert gunicorn_conf().graceful_timeout == 25  # SHUTDOWN_TIMEOUT's default 20, + 5
    assert gunicorn_conf(SHUTDOWN_TIMEOUT="7.5").graceful_timeout == 13
    assert gunicorn_conf(SHUTDOWN_TIMEOUT="7.5", GUNICORN_GRACEFUL_TIMEOUT="40").graceful_timeout == 40
    # a worker drains for SHUTDOWN_TIMEOUT, or less if gunicorn would kill it first
    assert gunicorn_conf().drain_timeout(20.0) == 20.0
    assert gunicorn_conf(GUNICORN_GRACEFUL_TIMEOUT="10").drain_timeout(20.0) == 7.0


def test_stop_grace_period_exceeds_gunicorn_graceful_timeout(production: dict[str, Any]) -> None:
    service = env_file(TEMPLATE / ".service")
    graceful = int(service["GUNICORN_GRACEFUL_TIMEOUT"])
    assert graceful == gunicorn_conf(SHUTDOWN_TIMEOUT=service["SHUTDOWN_TIMEOUT"]).graceful_timeout == 25
    assert seconds(production["services"]["service"]["stop_grace_period"]) > graceful
    assert seconds(production["services"]["service"]["stop_grace_period"]) == 30


@pytest.mark.parametrize("name", ["local.yml", "production.yml"])
def test_healthchecks(name: str) -> None:
    services = load(name)["services"]
    postgres = services["postgres"]["healthcheck"]["test"]
    assert postgres[0] == "CMD-SHELL" and postgres[1].startswith("pg_isready -h 127.0.0.1 -p 5432")
    if name == "local.yml":
        assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    else:  # with the password (test_production_redis_runs_with_a_password runs it)
        assert services["redis"]["healthcheck"]["test"] == [
            "CMD-SHELL",
            'REDISCLI_AUTH="$$REDIS_PASSWORD" redis-cli ping | grep -qx PONG',
        ]
    service = services["service"]["healthcheck"]["test"]
    assert service[:3] == ["CMD", "python", "-c"]
    assert "urllib.request.urlopen('http://127.0.0.1:8000/readyz'" in service[3]
    compile(service[3], "healthcheck", "exec")
    assert seconds(services["service"]["healthcheck"]["start_period"]) >= 30


# --- Redis with a password (production) ---------------------------------------------


def compose_shell(text: str) -> str:
    """A string of a compose file as the container gets it: $$ is a literal $."""
    assert re.search(r"(?<!\$)\$(?!\$)", text.replace("$$", "")) is None, "a $ compose would interpolate"
    return text.replace("$$", "$")


def test_production_redis_requires_a_password(production: dict[str, Any], sitecustomize: Any) -> None:
    redis = production["services"]["redis"]
    assert redis["image"] == "docker.io/redis:7"
    sh, c, command = redis["command"]
    assert (sh, c) == ("sh", "-c")
    # back through the image's entrypoint: it drops root only for a command starting with redis-server
    assert compose_shell(command) == (
        'exec docker-entrypoint.sh redis-server --requirepass "${REDIS_PASSWORD:?REDIS_PASSWORD is not set}"'
    )
    assert "REDISCLI_AUTH" in redis["healthcheck"]["test"][1] and "PONG" in redis["healthcheck"]["test"][1]
    # the service's REDIS_URL carries the same password
    env = {**env_file(TEMPLATE / ".service"), **env_file(TEMPLATE / ".postgres"), **env_file(TEMPLATE / ".redis")}
    sitecustomize.apply(env)
    assert env["REDIS_URL"] == "redis://:CHANGE_ME@redis:6379/0"
    assert "localhost" not in env["REDIS_URL"]


def test_redis_url_is_percent_encoded_and_only_built_with_a_password(sitecustomize: Any) -> None:
    assert sitecustomize.redis_url({"REDIS_PASSWORD": "p@ss/w:rd %?#"}) == (
        "redis://:p%40ss%2Fw%3Ard%20%25%3F%23@redis:6379/0"
    )
    env = {"REDIS_PASSWORD": "x", "REDIS_URL": "redis://:y@elsewhere:6379/1"}
    sitecustomize.apply(env)
    assert env["REDIS_URL"] == "redis://:y@elsewhere:6379/1"
    env = {"POSTGRES_USER": "ward"}
    sitecustomize.apply(env)
    assert "REDIS_URL" not in env  # local.yml's Redis has no password: .envs/.local/.service sets REDIS_URL


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_production_redis_runs_with_a_password(production: dict[str, Any], sitecustomize: Any, tmp_path: Path) -> None:
    """production.yml's redis command and healthcheck, run on the host. A
    stand-in for the image's docker-entrypoint.sh adds what the host needs (a
    free port, no persistence)."""
    import redis as redis_client

    port = free_port()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "docker-entrypoint.sh"
    stub.write_text(f'#!/bin/sh\nexec "$@" --port {port} --bind 127.0.0.1 --save "" --appendonly no\n')
    stub.chmod(0o755)
    service = production["services"]["redis"]
    command = [compose_shell(part) for part in service["command"]]
    password = "s3cret p@ss:/%"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("REDIS_PASSWORD", None)

    without = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=30)
    assert without.returncode != 0 and "REDIS_PASSWORD is not set" in without.stderr

    url = sitecustomize.redis_url({"REDIS_PASSWORD": password}).replace("@redis:6379/", f"@127.0.0.1:{port}/")
    proc = subprocess.Popen(
        command, env={**env, "REDIS_PASSWORD": password}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def answers() -> bool:
            assert proc.poll() is None, "redis-server exited"
            try:
                return bool(redis_client.Redis.from_url(url, socket_timeout=1).ping())
            except redis_client.ConnectionError:
                return False

        wait_until(answers, 10, "redis-server to answer")
        with pytest.raises(redis_client.AuthenticationError):
            redis_client.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping()
        with pytest.raises(redis_client.AuthenticationError):
            redis_client.Redis(host="127.0.0.1", port=port, password="wrong", socket_timeout=1).ping()
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        if cmdline.exists():  # Linux: the password is gone from the process's command line
            assert password.encode() not in cmdline.read_bytes()

        kind, check = service["healthcheck"]["test"]
        assert kind == "CMD-SHELL"
        check = compose_shell(check).replace("redis-cli ", f"redis-cli -p {port} ", 1)
        for given, healthy in ((password, True), ("wrong", False), (None, False)):
            check_env = {k: v for k, v in os.environ.items() if k != "REDIS_PASSWORD"}
            if given is not None:
                check_env["REDIS_PASSWORD"] = given
            result = subprocess.run(["sh", "-c", check], env=check_env, capture_output=True, check=False, timeout=10)
            assert (result.returncode == 0) == healthy, (given, result)
    finally:
        proc.terminate()
        proc.wait(10)


def test_healthcheck_command_fails_on_503_and_passes_on_200() -> None:
    """The exact healthcheck one-liner, against a server answering like /readyz."""
    import http.server
    import threading

    status = {"code": 503}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status["code"] if self.path == "/readyz" else 404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = load("production.yml")["services"]["service"]["healthcheck"]["test"][3]
        code = code.replace("127.0.0.1:8000", f"127.0.0.1:{server.server_port}")
        assert subprocess.run([sys.executable, "-c", code], capture_output=True, check=False).returncode != 0
        status["code"] = 200
        assert subprocess.run([sys.executable, "-c", code], capture_output=True, check=False).returncode == 0
    finally:
        server.shutdown()


@pytest.mark.parametrize("name", ["local.yml", "production.yml"])
def test_depends_on_health(name: str) -> None:
    services = load(name)["services"]
    healthy = {"condition": "service_healthy"}
    assert services["service"]["depends_on"] == {"postgres": healthy, "redis": healthy}
    assert services["worker"]["depends_on"] == {"postgres": healthy, "redis": healthy, "service": healthy}
    if name == "production.yml":
        assert services["nginx"]["depends_on"] == {"service": healthy}


def test_local_service_serves_on_8000_with_source_mounted(local: dict[str, Any]) -> None:
    service = local["services"]["service"]
    assert service["ports"] == ["8000:8000"]
    assert ".:/app:z" in service["volumes"]
    assert ".:/app:z" in local["services"]["worker"]["volumes"]
    assert "WORKDIR ${APP_HOME}" in dockerfile_lines(COMPOSE / "local" / "service" / "Dockerfile")
    assert "ARG APP_HOME=/app" in dockerfile_lines(COMPOSE / "local" / "service" / "Dockerfile")
    script = LOCAL_START.read_text()
    assert "'python -m service serve --host 0.0.0.0 --port 8000' service sql" in script
    assert "exec watchfiles" in script
    assert "watchfiles==" in (ROOT / "requirements" / "local.txt").read_text()


def test_production_ports_and_proxy(production: dict[str, Any]) -> None:
    services = production["services"]
    assert "ports" not in services["service"] and services["service"]["expose"] == ["8000"]
    assert services["nginx"]["ports"] == ["80:80", "443:443"]
    conf = NGINX_CONF.read_text()
    assert "set $dengue_service http://service:8000;" in conf
    assert "resolver 127.0.0.11" in conf
    http, https = nginx_blocks(conf, "server")
    assert "listen 80 default_server;" in http
    assert "return 301 https://$host$request_uri;" in http
    assert "listen 443 ssl default_server;" in https
    (ws,) = nginx_blocks(https, "location /ws/")
    assert "proxy_pass $dengue_service;" in ws
    assert "proxy_http_version 1.1;" in ws
    assert re.search(r"proxy_set_header Upgrade\s+\$http_upgrade;", ws)
    assert re.search(r"proxy_set_header Connection\s+\$connection_upgrade;", ws)
    assert re.search(r"proxy_set_header Host\s+\$http_host;", ws)
    timeout = re.search(r"proxy_read_timeout (\d+)s;", ws)
    assert timeout and int(timeout[1]) >= 600
    rest = nginx_blocks(https, "location /")
    rest = [body for body in rest if "$connection_upgrade" not in body]
    assert len(rest) == 1 and "proxy_pass $dengue_service;" in rest[0]
    assert re.search(r"proxy_set_header Host\s+\$http_host;", rest[0])


def nginx_text(path: Path) -> str:
    """The configuration without comments (none of ours has '#' inside a value)."""
    return re.sub(r"#[^\n]*", "", path.read_text())


def nginx_values(text: str, directive: str) -> list[str]:
    """The arguments of every ``directive ...;`` (quoted strings joined as written)."""
    return [m[1].strip() for m in re.finditer(rf"(?:^|[;{{}}\s]){directive}\s+([^;]*);", text)]


def test_nginx_main_config_includes_the_site() -> None:
    main = nginx_text(NGINX_MAIN)
    assert nginx_values(main, "user") == ["nginx"]  # workers as the image's unprivileged user
    (http,) = nginx_blocks(main, "http")
    assert "include /etc/nginx/conf.d/*.conf;" in http
    assert "include       /etc/nginx/mime.types;" in http


def test_nginx_sized_for_20000_websockets_per_worker(production: dict[str, Any]) -> None:
    main = nginx_text(NGINX_MAIN)
    (events,) = nginx_blocks(main, "events")
    (connections,) = nginx_values(events, "worker_connections")
    (rlimit,) = nginx_values(main, "worker_rlimit_nofile")
    # a proxied socket is two connections (client and upstream), each a file
    assert int(connections) >= 2 * 20_000 and int(connections) >= 40_000
    assert int(rlimit) >= 2 * int(connections)
    # without a container limit at least as high, the workers' setrlimit fails
    nofile = production["services"]["nginx"]["ulimits"]["nofile"]
    assert nofile["soft"] >= int(rlimit) and nofile["hard"] >= int(rlimit)
    # the service holds the other end of every socket
    service = production["services"]["service"]["ulimits"]["nofile"]
    assert service["soft"] >= 2 * 20_000 and service["hard"] >= service["soft"]


def test_nginx_hides_its_version() -> None:
    (http,) = nginx_blocks(nginx_text(NGINX_MAIN), "http")
    assert nginx_values(http, "server_tokens") == ["off"]
    assert "server_tokens" not in nginx_text(NGINX_CONF)  # not turned back on per site


def test_nginx_access_log_never_holds_a_query_string() -> None:
    """GET /ws/?token=<API key>: the log format has the path, never the arguments."""
    forbidden = re.compile(r"\$(request|request_uri|args|query_string|is_args|http_referer)\b|\$arg_")
    texts = {path.name: nginx_text(path) for path in (NGINX_MAIN, NGINX_CONF)}
    formats = {}
    for text in texts.values():
        for value in nginx_values(text, "log_format"):
            name, _, fmt = value.partition(" ")
            formats[name] = fmt
            assert not forbidden.search(fmt), f"log_format {name} writes a query string: {fmt}"
            assert "$uri" in fmt
    assert formats, "no log_format: nginx would use `combined`, which has $request"
    access_logs = [value for text in texts.values() for value in nginx_values(text, "access_log")]
    assert access_logs, "no access_log: nginx would log `combined` to its default file"
    for value in access_logs:
        words = value.split()
        assert words == ["off"] or (len(words) >= 2 and words[1] in formats), f"access_log {value}: no safe format"
    (http,) = nginx_blocks(texts["nginx.conf"], "http")
    assert nginx_values(http, "access_log") == ["/var/log/nginx/access.log  dengue"]
    # error messages end with the request line: none below critical for /ws/
    (ws,) = nginx_blocks(nginx_blocks(texts["default.conf"], "server")[1], "location /ws/")
    assert nginx_values(ws, "error_log") == ["/var/log/nginx/error.log crit"]


def test_nginx_limits_login_attempts() -> None:
    conf = nginx_text(NGINX_CONF)
    outside_servers = conf
    for body in nginx_blocks(conf, "server"):
        outside_servers = outside_servers.replace(body, "")
    (zone,) = nginx_values(outside_servers, "limit_req_zone")  # http context
    assert zone == "$binary_remote_addr zone=login:10m rate=10r/m"
    _, https = nginx_blocks(conf, "server")
    (login,) = nginx_blocks(https, LOGIN_LOCATION)
    assert nginx_values(login, "limit_req") == ["zone=login burst=20 nodelay"]
    assert nginx_values(login, "limit_req_status") == ["429"]
    assert nginx_values(login, "error_page") == ["429 = @login_throttled"]
    assert "proxy_pass $dengue_service;" in login
    assert re.search(r"proxy_set_header Host\s+\$http_host;", login)
    assert re.search(r"proxy_set_header X-Forwarded-For\s+\$proxy_add_x_forwarded_for;", login)
    (throttled,) = nginx_blocks(https, "location @login_throttled")
    (answer,) = nginx_values(throttled, "return")
    status, _, body = answer.partition(" ")
    assert status == "429" and json.loads(body.strip("'")) == {"detail": "Request was throttled."}
    # the location matches both spellings the service answers, and nothing else
    pattern = re.compile(LOGIN_LOCATION.split()[2])
    for path in ("/rest-auth/login/", "/rest-auth/login"):
        assert pattern.search(path), path
    for path in ("/rest-auth/logout/", "/rest-auth/user/", "/rest-auth/login/x", "/api/rest-auth/login/x"):
        assert not pattern.search(path), path
    routes = (ROOT / "service" / "auth" / "http.py").read_text()
    assert 'f"/rest-auth/{path}/"' in routes and 'f"/rest-auth/{path}"' in routes


def test_certificates_come_from_a_git_ignored_mount(production: dict[str, Any]) -> None:
    conf = NGINX_CONF.read_text()
    assert "ssl_certificate     /etc/nginx/certs/fullchain.pem;" in conf
    assert "ssl_certificate_key /etc/nginx/certs/privkey.pem;" in conf
    mounts = {
        v.split(":")[-2] if v.endswith(":ro") else v.split(":")[-1]: v
        for v in production["services"]["nginx"]["volumes"]
    }
    certs = mounts["/etc/nginx/certs"]
    assert certs.endswith(":ro")
    default = re.fullmatch(r"\$\{DENGUE_CERTS_DIR:-([^}]+)\}:/etc/nginx/certs:ro", certs)
    assert default, certs
    result = subprocess.run(["git", "check-ignore", "-q", f"{default[1]}/privkey.pem"], cwd=ROOT, check=False)
    assert result.returncode == 0, f"{default[1]} must be git-ignored: it holds the private key"
    assert "root /var/www/acme;" in conf and "/var/www/acme" in mounts


@pytest.mark.parametrize("name, kind", [("local.yml", "local"), ("production.yml", "production")])
def test_postgres_volumes(name: str, kind: str) -> None:
    compose = load(name)
    volumes = compose["services"]["postgres"]["volumes"]
    assert volumes == [f"{kind}_postgres_data:/var/lib/postgresql/data", f"{kind}_postgres_data_backups:/backups"]
    assert {f"{kind}_postgres_data", f"{kind}_postgres_data_backups"} <= set(compose["volumes"])


# --- scripts ------------------------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(COMPOSE)))
def test_script_syntax(script: Path) -> None:
    """``bash -n`` always; ``shellcheck -x`` too whenever shellcheck is on PATH.

    Without shellcheck (``apt-get install -y shellcheck``) only ``bash -n``
    is asserted; the local.yml image has shellcheck installed.
    """
    assert script.read_text().startswith(("#!/bin/bash\n", "#!/usr/bin/env bash\n"))
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    if shutil.which("shellcheck"):
        result = subprocess.run(
            ["shellcheck", "-x", str(script)], capture_output=True, text=True, check=False, cwd=script.parent
        )
        assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    "script", [s for s in SCRIPTS if "_sourced" not in s.parts], ids=lambda p: str(p.relative_to(COMPOSE))
)
def test_scripts_are_executable_and_strict(script: Path) -> None:
    assert os.access(script, os.X_OK), f"chmod +x {script}"
    text = script.read_text()
    for option in ("errexit", "pipefail", "nounset"):
        assert f"set -o {option}" in text


def test_every_script_in_compose_is_checked() -> None:
    scripts = {p for p in COMPOSE.rglob("*") if p.is_file() and p.read_text(errors="replace").startswith("#!")}
    assert scripts == set(SCRIPTS)


def test_start_scripts_replace_themselves() -> None:
    """exec, so gunicorn / watchfiles is PID 1 and gets docker's SIGTERM."""
    assert PROD_ENTRYPOINT.read_text().rstrip().endswith('exec "$@"')
    assert PROD_START.read_text().rstrip().splitlines()[-1].startswith("exec gunicorn ")
    assert re.search(r"^exec watchfiles ", LOCAL_START.read_text(), re.MULTILINE)


def _wait_snippet(path: Path) -> str:
    text = path.read_text()
    return text[text.index("python - <<'PYTHON'") : text.index(f"echo '{AVAILABLE}' >&2")]


def test_local_start_waits_like_the_entrypoint() -> None:
    assert _wait_snippet(LOCAL_START) == _wait_snippet(PROD_ENTRYPOINT)
    assert LOCAL_START.read_text().index(AVAILABLE) < LOCAL_START.read_text().index("yoyo apply")


# --- DATABASE_URL and MIGRATIONS_DATABASE_URL from POSTGRES_* ---------------------

URL_VARIABLES = ("DATABASE_URL", "MIGRATIONS_DATABASE_URL")


@pytest.fixture(scope="module")
def sitecustomize() -> Any:
    spec = importlib.util.spec_from_file_location("dengue_sitecustomize", SITECUSTOMIZE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    saved = {name: os.environ.get(name) for name in URL_VARIABLES}
    spec.loader.exec_module(module)  # applies itself to os.environ: put it back as it was
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return module


def test_database_urls_are_percent_encoded(sitecustomize: Any) -> None:
    env = {
        "POSTGRES_HOST": "postgres",
        "POSTGRES_PORT": "5432",
        "POSTGRES_DB": "dengue",
        "POSTGRES_USER": "ward",
        "POSTGRES_PASSWORD": "p@ss/w:rd %?#",
        "POSTGRES_APP_USER": "ward app",
        "POSTGRES_APP_PASSWORD": "a:b@c",
    }
    url = sitecustomize.migrations_database_url(env)
    assert url == "postgresql://ward:p%40ss%2Fw%3Ard%20%25%3F%23@postgres:5432/dengue"
    assert parse_dsn(url) == {
        "user": "ward",
        "password": "p@ss/w:rd %?#",
        "host": "postgres",
        "port": "5432",
        "dbname": "dengue",
    }
    url = sitecustomize.database_url(env)
    assert url == "postgresql://ward%20app:a%3Ab%40c@postgres:5432/dengue"
    assert parse_dsn(url)["user"] == "ward app" and parse_dsn(url)["password"] == "a:b@c"


def test_database_urls_defaults_and_precedence(sitecustomize: Any) -> None:
    assert sitecustomize.database_url({}) == "postgresql://postgres@postgres:5432/postgres"
    assert sitecustomize.migrations_database_url({}) == "postgresql://postgres@postgres:5432/postgres"
    env = {"DATABASE_URL": "postgresql://given@db/x", "POSTGRES_USER": "ward"}
    sitecustomize.apply(env)
    assert env["DATABASE_URL"] == "postgresql://given@db/x"
    assert env["MIGRATIONS_DATABASE_URL"] == "postgresql://ward@postgres:5432/ward"
    env = {
        "DATABASE_URL": "postgresql://a@db/x",
        "MIGRATIONS_DATABASE_URL": "postgresql://o@db/x",
        "POSTGRES_USER": "w",
    }
    sitecustomize.apply(env)
    assert (env["DATABASE_URL"], env["MIGRATIONS_DATABASE_URL"]) == ("postgresql://a@db/x", "postgresql://o@db/x")
    env = {"PATH": "/bin"}
    sitecustomize.apply(env)
    assert not set(URL_VARIABLES) & set(env)  # nothing to build from: the service's own default applies
    sitecustomize.apply(env, force=True)
    assert env["DATABASE_URL"] == env["MIGRATIONS_DATABASE_URL"] == "postgresql://postgres@postgres:5432/postgres"
    # one URL given and nothing else: one role, as on the plain host
    env = {"DATABASE_URL": "postgresql://given@db/x"}
    sitecustomize.apply(env, force=True)
    assert env["MIGRATIONS_DATABASE_URL"] == "postgresql://given@db/x"
    # without an app role both are the owner's (the production entrypoint refuses that)
    env = {"POSTGRES_USER": "ward", "POSTGRES_DB": "dengue", "POSTGRES_HOST": "127.0.0.1"}
    sitecustomize.apply(env)
    assert env["DATABASE_URL"] == env["MIGRATIONS_DATABASE_URL"] == "postgresql://ward@127.0.0.1:5432/dengue"
    # the app role on the owner's database (the image's default database is named after the owner)
    env = {"POSTGRES_USER": "ward", "POSTGRES_APP_USER": "ward_app", "POSTGRES_APP_PASSWORD": "x"}
    sitecustomize.apply(env)
    assert env["DATABASE_URL"] == "postgresql://ward_app:x@postgres:5432/ward"
    assert env["MIGRATIONS_DATABASE_URL"] == "postgresql://ward@postgres:5432/ward"


@pytest.mark.parametrize("kind", ["local", "production"])
def test_the_service_connects_as_the_app_role_and_migrates_as_the_owner(sitecustomize: Any, kind: str) -> None:
    directory = TEMPLATE if kind == "production" else ROOT / ".envs" / ".local"
    postgres, service = env_file(directory / ".postgres"), env_file(directory / ".service")
    assert not set(URL_VARIABLES) & set(service)  # built from .postgres, not written twice
    env = {**service, **postgres}
    sitecustomize.apply(env)
    app, owner = parse_dsn(env["DATABASE_URL"]), parse_dsn(env["MIGRATIONS_DATABASE_URL"])
    assert (app["user"], app["password"]) == (postgres["POSTGRES_APP_USER"], postgres["POSTGRES_APP_PASSWORD"])
    assert (owner["user"], owner["password"]) == (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"])
    assert app["dbname"] == owner["dbname"] == postgres["POSTGRES_DB"]
    # both start scripts migrate with the owner's URL and serve with the service's
    for script in (LOCAL_START, PROD_START):
        text = script.read_text()
        (migrate,) = [line for line in text.splitlines() if line.endswith("yoyo apply")]
        assert migrate.startswith('DATABASE_URL="${MIGRATIONS_DATABASE_URL'), script


def test_the_postgres_image_creates_the_app_role() -> None:
    """app-role.sql runs on the first start (tests/deploy/test_roles.py runs it for real)."""
    destinations = {dest: src for src, dest in copies(COMPOSE / "production" / "postgres" / "Dockerfile")}
    assert destinations["/docker-entrypoint-initdb.d/app-role.sql"] == ["./compose/production/postgres/app-role.sql"]
    sql = APP_ROLE_SQL.read_text()
    for variable in ("POSTGRES_USER", "POSTGRES_APP_USER", "POSTGRES_APP_PASSWORD"):
        assert re.search(rf"^\\getenv \w+ {variable}$", sql, re.MULTILINE), variable
    code = re.sub(r"--[^\n]*", "", sql)
    grants = re.findall(r"\bGRANT ([A-Z, ]+?) ON ", code)
    assert set(grants) == {"CONNECT", "USAGE", "SELECT, INSERT, UPDATE, DELETE", "USAGE, SELECT, UPDATE", "EXECUTE"}
    assert code.count('ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public') == 3
    # both stacks run the same postgres image, so local.yml has the two roles too
    for name in ("local.yml", "production.yml"):
        _, dockerfile = build_of(load(name)["services"]["postgres"])
        assert dockerfile.resolve() == (COMPOSE / "production" / "postgres" / "Dockerfile").resolve()


def test_sitecustomize_hook_reaches_a_plain_python_process() -> None:
    """What `docker compose exec service python -m service ...` relies on: no entrypoint involved."""
    env = clean_env(
        POSTGRES_HOST="db.internal",
        POSTGRES_USER="ward",
        POSTGRES_PASSWORD="s3cret",
        POSTGRES_DB="dengue",
        POSTGRES_APP_USER="ward_app",
        POSTGRES_APP_PASSWORD="app-s3cret",
        PYTHONPATH=str(SITECUSTOMIZE.parent),
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os; print(os.environ['DATABASE_URL']); print(os.environ['MIGRATIONS_DATABASE_URL'])",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.splitlines() == [
        "postgresql://ward_app:app-s3cret@db.internal:5432/dengue",
        "postgresql://ward:s3cret@db.internal:5432/dengue",
    ], result.stderr


# --- the scripts, run on the host -------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any PostgreSQL or Redis settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PG", "POSTGRES_", "REDIS_")) and k not in (*URL_VARIABLES, "PYTHONPATH")
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def admin_postgres_env() -> dict[str, str]:
    dsn = parse_dsn(ADMIN_URL)
    env = {
        "POSTGRES_HOST": dsn.get("host", "127.0.0.1"),
        "POSTGRES_PORT": dsn.get("port", "5432"),
        "POSTGRES_USER": dsn.get("user", "postgres"),
        "POSTGRES_DB": dsn.get("dbname", "postgres"),
    }
    if dsn.get("password"):
        env["POSTGRES_PASSWORD"] = dsn["password"]
    return env


# .envs/.production/.redis, as the service container reads it
REDIS_ENV = {"REDIS_PASSWORD": "redis-pass/word"}


def run_entrypoint(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(PROD_ENTRYPOINT), *command], env=env, capture_output=True, text=True, check=False, timeout=60
    )


def test_entrypoint_builds_both_urls_waits_and_runs_the_command(roles: Roles) -> None:
    assert roles.init().returncode == 0
    env = clean_env(PYTHONPATH=str(SITECUSTOMIZE.parent), **roles.postgres_env(), **REDIS_ENV)
    code = (
        "import os, sys; [print(os.environ[v]) for v in ('DATABASE_URL', 'MIGRATIONS_DATABASE_URL')]; print(sys.argv)"
    )
    result = run_entrypoint(env, "python", "-c", code, "x")
    assert result.returncode == 0, result.stderr
    assert AVAILABLE in result.stderr.splitlines()
    url, migrations_url, argv = result.stdout.splitlines()
    assert (url, migrations_url) == (roles.app_url, roles.owner_url)
    assert argv == "['-c', 'x']"
    # exported, so the command sees it even where sitecustomize does not run
    result = run_entrypoint(env, "printenv", "REDIS_URL")
    assert result.stdout.strip() == "redis://:redis-pass%2Fword@redis:6379/0", result.stderr


def test_entrypoint_keeps_given_urls() -> None:
    owner = "postgresql://owner@nowhere.invalid/dengue"
    env = clean_env(
        PYTHONPATH=str(SITECUSTOMIZE.parent),
        DATABASE_URL=ADMIN_URL,
        MIGRATIONS_DATABASE_URL=owner,
        POSTGRES_HOST="nowhere.invalid",
        REDIS_URL="redis://:pw@elsewhere:6379/2",
        **REDIS_ENV,
    )
    result = run_entrypoint(env, "printenv", *URL_VARIABLES, "REDIS_URL")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [ADMIN_URL, owner, "redis://:pw@elsewhere:6379/2"]


def test_entrypoint_refuses_to_run_the_service_as_the_owner(roles: Roles) -> None:
    assert roles.init().returncode == 0
    without_app = {k: v for k, v in roles.postgres_env().items() if not k.startswith("POSTGRES_APP_")}
    for env in (
        clean_env(PYTHONPATH=str(SITECUSTOMIZE.parent), **without_app, **REDIS_ENV),
        clean_env(
            PYTHONPATH=str(SITECUSTOMIZE.parent), **roles.postgres_env(), **REDIS_ENV, DATABASE_URL=roles.owner_url
        ),
    ):
        result = run_entrypoint(env, "echo", "ran")
        assert result.returncode == 1
        assert "ran" not in result.stdout
        assert f"DATABASE_URL connects as the database owner ({roles.owner})" in result.stderr
        assert "POSTGRES_APP_USER" in result.stderr


def test_entrypoint_gives_up_when_postgresql_is_unreachable() -> None:
    env = clean_env(
        PYTHONPATH=str(SITECUSTOMIZE.parent),
        POSTGRES_HOST="127.0.0.1",
        POSTGRES_PORT="1",
        POSTGRES_USER="nobody",
        POSTGRES_APP_USER="nobody_app",
        POSTGRES_WAIT_TIMEOUT="2",
        **REDIS_ENV,
    )
    result = run_entrypoint(env, "echo", "ran")
    assert result.returncode != 0
    assert "ran" not in result.stdout
    assert AVAILABLE not in result.stderr.splitlines()
    assert "Waiting for PostgreSQL to become available..." in result.stderr
    assert "PostgreSQL is not available, giving up" in result.stderr


@pytest.mark.parametrize("variable", ["POSTGRES_PASSWORD", "POSTGRES_APP_PASSWORD", "REDIS_PASSWORD"])
def test_entrypoint_refuses_the_template_passwords(variable: str) -> None:
    settings = {**admin_postgres_env(), "POSTGRES_APP_USER": "dengue_app", "POSTGRES_APP_PASSWORD": "x", **REDIS_ENV}
    env = clean_env(PYTHONPATH=str(SITECUSTOMIZE.parent), **{**settings, variable: "CHANGE_ME"})
    result = run_entrypoint(env, "echo", "ran")
    assert result.returncode == 1
    assert "ran" not in result.stdout
    assert "CHANGE_ME" in result.stderr
    assert variable in result.stderr


@pytest.mark.parametrize("redis", [{}, {"REDIS_URL": "redis://redis:6379/0"}], ids=["nothing", "no password"])
def test_entrypoint_refuses_redis_without_a_password(redis: dict[str, str]) -> None:
    """No .envs/.production/.redis, or an old .service with REDIS_URL=redis://redis:6379/0."""
    settings = {**admin_postgres_env(), "POSTGRES_APP_USER": "dengue_app", "POSTGRES_APP_PASSWORD": "x"}
    env = clean_env(PYTHONPATH=str(SITECUSTOMIZE.parent), **settings, **redis)
    result = run_entrypoint(env, "echo", "ran")
    assert result.returncode == 1
    assert "ran" not in result.stdout
    assert "has no password. Set REDIS_PASSWORD in .envs/.production/.redis" in result.stderr


@pytest.fixture
def stubs(tmp_path: Path) -> Path:
    """gunicorn and watchfiles stand-ins that record their arguments and environment."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("gunicorn", "watchfiles"):
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/{name}.args"\nenv > "{tmp_path}/{name}.env"\n')
        stub.chmod(0o755)
    return bin_dir


def recorded_env(stubs: Path, name: str) -> dict[str, str]:
    lines = (stubs.parent / f"{name}.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def applied_migrations(url: str) -> set[str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT migration_id FROM _yoyo_migration")
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


def table_owners(url: str) -> set[str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


def expected_migrations() -> set[str]:
    return {p.stem for p in (ROOT / "migrations").glob("*.sql") if not p.stem.endswith(".rollback")}


def test_production_entrypoint_and_start_migrate_as_the_owner_and_serve_as_the_app_role(
    roles: Roles, stubs: Path
) -> None:
    """The service container's path: /entrypoint /start, from the .postgres settings alone."""
    assert roles.init().returncode == 0  # what the postgres image did on its first start
    env = clean_env(PYTHONPATH=str(SITECUSTOMIZE.parent), **roles.postgres_env(), **REDIS_ENV)
    env["PATH"] = f"{stubs}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        ["bash", str(PROD_ENTRYPOINT), "bash", str(PROD_START)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert applied_migrations(roles.app_url) == expected_migrations()
    assert table_owners(roles.owner_url) == {roles.owner}
    args = (stubs.parent / "gunicorn.args").read_text().split()
    assert args == ["-c", "python:service.gunicorn_conf", "service.app:gunicorn_app"]
    served = recorded_env(stubs, "gunicorn")
    assert served["DATABASE_URL"] == roles.app_url
    assert served["REDIS_URL"] == "redis://:redis-pass%2Fword@redis:6379/0"
    # the server process does not hold the owner's password
    assert "MIGRATIONS_DATABASE_URL" not in served and "POSTGRES_PASSWORD" not in served
    assert roles.owner_password not in "\n".join(served.values())


def test_production_start_needs_the_owners_url(roles: Roles, stubs: Path) -> None:
    env = clean_env(DATABASE_URL=roles.app_url)
    env["PATH"] = f"{stubs}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        ["bash", str(PROD_START)], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode != 0
    assert "MIGRATIONS_DATABASE_URL is exported by /entrypoint" in result.stderr
    assert not (stubs.parent / "gunicorn.args").exists()


def test_local_start_waits_migrates_and_serves_with_reload(roles: Roles, stubs: Path) -> None:
    assert roles.init().returncode == 0  # what the postgres image did on its first start
    env = clean_env(PYTHONPATH=str(SITECUSTOMIZE.parent), **roles.postgres_env())
    env["PATH"] = f"{stubs}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        ["bash", str(LOCAL_START)], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert AVAILABLE in result.stderr.splitlines()
    assert applied_migrations(roles.app_url) == expected_migrations()
    assert table_owners(roles.owner_url) == {roles.owner}
    args = (stubs.parent / "watchfiles.args").read_text().splitlines()
    assert args == [
        "--filter",
        "default",
        "--sigint-timeout",
        "10",
        "python -m service serve --host 0.0.0.0 --port 8000",
        "service",
        "sql",
    ]
    assert recorded_env(stubs, "watchfiles")["DATABASE_URL"] == roles.app_url


def test_watchfiles_accepts_the_local_start_options() -> None:
    """The real CLI parses the options the start script passes (--help exits 0 only if they exist)."""
    watchfiles = shutil.which("watchfiles", path=str(Path(sys.executable).parent))
    assert watchfiles, "pip install -r requirements/local.txt (watchfiles)"
    help_text = subprocess.run([watchfiles, "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--filter", "--sigint-timeout"):
        assert option in help_text
