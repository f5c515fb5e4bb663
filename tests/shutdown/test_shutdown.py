"""SIGTERM to a real server (``serve`` and gunicorn): requests whose body is
still arriving are answered, sockets close with 1001, and a server with
nothing in flight exits without waiting for SHUTDOWN_TIMEOUT."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ..helpers import PATIENT
from ..servers import Process, _http_ok, free_port, server, service_env, spawn, wait_until

pytestmark = pytest.mark.slow

# Long enough that a test passing proves the server did not wait it out.
LONG = "120"


def refuses(port: int) -> bool:
    """True once nothing listens on the port any more."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def start_half_sent_post(port: int, token: str) -> tuple[socket.socket, bytes]:
    """POST a patient with ``Expect: 100-continue`` and half its body; return
    the socket and the rest of the body once the server has answered 100,
    that is once the request is in its handler (in flight)."""
    body = json.dumps(PATIENT).encode()
    head = (
        "POST /api/patients/ HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Token {token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n"
        "\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    half = len(body) // 2
    sock.sendall(head + body[:half])
    interim = b""
    while not interim.endswith(b"\r\n\r\n"):
        chunk = sock.recv(1)
        assert chunk, "the server hung up before answering 100 Continue"
        interim += chunk
    assert interim.startswith(b"HTTP/1.1 100"), interim
    return sock, body[half:]


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One complete HTTP/1.1 response (Content-Length framed)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before a complete response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed mid-body: {body!r}"
        body += chunk
    return int(status_line.split()[1]), headers, body[:length]


def answers_half_sent_body(process: Process, port: int, token: str, sql: Any, sig: int = signal.SIGTERM) -> None:
    sock, rest = start_half_sent_post(port, token)
    with sock:
        process.proc.send_signal(sig)
        wait_until(lambda: refuses(port), 15, "the server to stop listening")
        assert process.proc.poll() is None, "the server exited with a request in flight"
        sock.sendall(rest)
        status, headers, body = read_response(sock)
        assert status == 201, body
        assert headers["connection"] == "close"  # the next request goes elsewhere
        assert json.loads(body)["first_name"] == PATIENT["first_name"]
    assert process.proc.wait(15) == 0, process.log()
    assert sql("SELECT first_name FROM patients") == [(PATIENT["first_name"],)]


def test_serve_answers_a_request_whose_body_is_half_sent_at_sigterm(settings, alice, sql) -> None:
    with server(settings, SHUTDOWN_TIMEOUT=LONG) as srv:
        answers_half_sent_body(srv, srv.port, alice.token, sql)
        assert "waiting up to 120s for 1 request(s) in flight" in srv.log()
        assert "every request in flight has been answered" in srv.log()


def test_serve_sigint_drains_the_same_way(settings, alice, sql) -> None:
    with server(settings, SHUTDOWN_TIMEOUT=LONG) as srv:
        answers_half_sent_body(srv, srv.port, alice.token, sql, signal.SIGINT)


async def test_idle_serve_exits_at_once_on_sigterm_and_closes_sockets_with_1001(settings, alice) -> None:
    """Open sockets and an idle keep-alive connection do not hold it up:
    it exits long before SHUTDOWN_TIMEOUT."""
    with server(settings, SHUTDOWN_TIMEOUT=LONG) as srv:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(f"ws://127.0.0.1:{srv.port}/ws/?token={alice.token}") as first,
            http.ws_connect(f"ws://127.0.0.1:{srv.port}/ws/?token={alice.token}") as second,
        ):
            async with http.get(f"{srv.url}/api/patients/", headers=alice.headers) as resp:
                assert resp.status == 200  # its connection stays open, idle
            srv.proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                for ws in (first, second):
                    message = await ws.receive()
                    assert message.type == aiohttp.WSMsgType.CLOSE
                    assert ws.close_code == 1001
            returncode = await asyncio.to_thread(srv.proc.wait, 15)
        assert returncode == 0, srv.log()
        assert "closing 2 WebSocket(s) with 1001" in srv.log()
        assert "server stopped" in srv.log()


def test_a_body_that_never_comes_is_given_up_after_shutdown_timeout(settings, alice, sql) -> None:
    with server(settings, SHUTDOWN_TIMEOUT="1") as srv:
        sock, _ = start_half_sent_post(srv.port, alice.token)
        with sock:
            srv.proc.send_signal(signal.SIGTERM)
            assert srv.proc.wait(15) == 0, srv.log()
        assert "1 request(s) still running after 1s are cancelled" in srv.log()
    assert sql("SELECT count(*) FROM patients") == [(0,)]


def test_a_second_signal_stops_waiting(settings, alice, sql) -> None:
    with server(settings, SHUTDOWN_TIMEOUT=LONG) as srv:
        sock, _ = start_half_sent_post(srv.port, alice.token)
        with sock:
            srv.proc.send_signal(signal.SIGINT)
            wait_until(lambda: "for 1 request(s) in flight" in srv.log(), 15, "the drain")
            srv.proc.send_signal(signal.SIGINT)
            assert srv.proc.wait(15) == 0, srv.log()
        assert "SIGINT received again: not waiting for the requests in flight" in srv.log()
        assert "1 request(s) still running after" in srv.log()
    assert sql("SELECT count(*) FROM patients") == [(0,)]


@contextmanager
def gunicorn(settings: Any, port: int, **env: str) -> Iterator[Process]:
    binary = str(Path(sys.executable).parent / "gunicorn")
    environment = service_env(settings, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1", **env)
    with spawn(
        [binary, "-c", "python:service.gunicorn_conf", "service.app:gunicorn_app"], environment, "gunicorn"
    ) as g:
        wait_until(lambda: _http_ok(f"http://127.0.0.1:{port}/healthz"), 30, "gunicorn to start")
        yield g


def test_gunicorn_answers_a_request_whose_body_is_half_sent_at_sigterm(settings, alice, sql) -> None:
    port = free_port()
    with gunicorn(settings, port, SHUTDOWN_TIMEOUT="60") as g:
        answers_half_sent_body(g, port, alice.token, sql)
        assert "every request in flight has been answered" in g.log()
