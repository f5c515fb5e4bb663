"""Real server and Redis processes for tests that need more than one process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from service.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll ``check`` (bounded in time) until it returns true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_CHANNEL": settings.redis_channel,
        "EVENT_SWEEP_SECONDS": str(settings.event_sweep_seconds),
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


@contextmanager
def spawn(args: list[str], env: dict[str, str], name: str) -> Iterator[Process]:
    with tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log") as log_file:
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
        process = Process(proc, Path(log_file.name))
        try:
            yield process
        finally:
            process.stop()


@contextmanager
def server(settings: Settings, port: int | None = None, **extra_env: str) -> Iterator[Process]:
    """``python -m service serve`` on a (free) port, ready when /healthz answers."""
    port = port or free_port()
    env = service_env(settings, HOST="127.0.0.1", PORT=str(port), **extra_env)
    with spawn([sys.executable, "-m", "service", "serve"], env, "server") as process:
        process.port = port
        try:
            wait_until(
                lambda: process.proc.poll() is not None or _http_ok(f"{process.url}/healthz"), 20, "the server to start"
            )
        except TimeoutError:
            raise AssertionError(process.log()) from None
        assert process.proc.poll() is None, process.log()
        yield process


@contextmanager
def redis_server() -> Iterator[tuple[str, RedisProcess]]:
    """A private redis-server, so a test can stop and restart "Redis"."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    redis = RedisProcess(binary, free_port())
    redis.start()
    try:
        yield f"redis://127.0.0.1:{redis.port}/0", redis
    finally:
        redis.stop()


class RedisProcess:
    def __init__(self, binary: str, port: int) -> None:
        self.binary, self.port = binary, port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, 10, "redis-server to start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
