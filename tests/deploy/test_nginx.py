"""The production nginx configuration, run for real by the host's nginx.

compose/production/nginx/nginx.conf and default.conf are loaded with only
what the host needs changed (ports, file paths, the upstream's address), in
front of a stand-in service on a free port. The test checks what the
configuration promises: TLS and the WebSocket still reach the service, the
access log never holds a token from a query string, the /ws/ error log does
not either, logins are limited per address with a JSON 429, and the Server
header carries no version. Skipped when nginx is not installed
(``apt-get install -y nginx-light``); tests/deploy/test_compose.py reads the
same files on every machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ..conftest import ROOT
from ..servers import free_port, wait_until

NGINX_DIR = ROOT / "compose" / "production" / "nginx"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).is_file()), None
)


@pytest.fixture(autouse=True)
def nginx_installed() -> None:
    """A missing nginx fails these tests with what to do (.ci/run installs it),
    rather than skipping them and hiding a broken configuration."""
    if NGINX is None:
        pytest.fail("nginx is not installed: `apt-get update && apt-get install -y nginx-light`")


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected {old!r} once in the nginx configuration"
    return text.replace(old, new)


def nginx_version() -> tuple[int, ...]:
    assert NGINX
    result = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=True)
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", result.stderr)
    assert match, result.stderr
    return tuple(int(part) for part in match.groups())


@dataclass
class Site:
    dir: Path
    http_port: int
    https_port: int
    proc: subprocess.Popen[bytes]

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def access_log(self) -> str:
        return (self.dir / "access.log").read_text(errors="replace")

    def error_log(self) -> str:
        return (self.dir / "error.log").read_text(errors="replace")


def write_config(tmp: Path, upstream_port: int, http_port: int, https_port: int) -> None:
    """The two files with host ports and paths; everything else as in the image."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-keyout", str(tmp / "privkey.pem"), "-out", str(tmp / "fullchain.pem")],
        capture_output=True,
        check=True,
    )
    (tmp / "mime.types").write_text("types {\n    text/html html;\n}\n")
    (tmp / "acme").mkdir()

    main = (NGINX_DIR / "nginx.conf").read_text()
    main = replace_once(main, "user  nginx;\n", "")  # the host has no `nginx` user
    main = replace_once(main, "pid        /run/nginx.pid;", f"pid {tmp}/nginx.pid;")
    main = replace_once(main, "/var/log/nginx/error.log", f"{tmp}/error.log")
    main = replace_once(main, "/var/log/nginx/access.log", f"{tmp}/access.log")
    main = replace_once(main, "/etc/nginx/mime.types", f"{tmp}/mime.types")
    main = replace_once(main, "include /etc/nginx/conf.d/*.conf;", f"include {tmp}/default.conf;")
    main = replace_once(
        main,
        "sendfile           on;",
        f"sendfile           on;\n    client_body_temp_path {tmp}/body;\n    proxy_temp_path {tmp}/proxy;",
    )
    (tmp / "nginx.conf").write_text(main)

    site = (NGINX_DIR / "default.conf").read_text()
    site = replace_once(site, "listen 80 default_server;", f"listen 127.0.0.1:{http_port} default_server;")
    site = replace_once(site, "listen 443 ssl default_server;", f"listen 127.0.0.1:{https_port} ssl default_server;")
    site = replace_once(site, "http://service:8000;", f"http://127.0.0.1:{upstream_port};")
    site = site.replace("/etc/nginx/certs/", f"{tmp}/")
    site = site.replace("/var/log/nginx/error.log", f"{tmp}/error.log")
    site = replace_once(site, "root /var/www/acme;", f"root {tmp}/acme;")
    if nginx_version() < (1, 25, 1):  # the image has 1.28; `http2 on;` is newer than Debian 12's nginx
        site = replace_once(site, "http2 on;", "")
    (tmp / "default.conf").write_text(site)


@pytest.fixture
async def upstream(aiohttp_server: Any) -> Any:
    """A stand-in for the service: records what reaches it."""
    seen: list[dict[str, str]] = []

    async def websocket(request: web.Request) -> web.StreamResponse:
        seen.append({"path": request.path_qs, "host": request.host})
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str(f"{msg.data} token={request.query.get('token')}")
        return ws

    async def login(request: web.Request) -> web.StreamResponse:
        return web.json_response({"key": "k"})

    async def anything(request: web.Request) -> web.StreamResponse:
        seen.append({"path": request.path_qs, "host": request.host})
        return web.json_response({"path": request.path})

    app = web.Application()
    app.router.add_get("/ws/", websocket)
    app.router.add_post("/rest-auth/login/", login)
    app.router.add_post("/rest-auth/login", login)
    app.router.add_route("*", "/{tail:.*}", anything)
    server = await aiohttp_server(app)
    server.seen = seen
    return server


@pytest.fixture
def site(tmp_path: Path, upstream: Any) -> Iterator[Site]:
    assert NGINX
    http_port, https_port = free_port(), free_port()
    write_config(tmp_path, upstream.port, http_port, https_port)
    conf = str(tmp_path / "nginx.conf")
    check = subprocess.run(
        [NGINX, "-t", "-q", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", conf],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", conf, "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    running = Site(tmp_path, http_port, https_port, proc)

    def listening() -> bool:
        import socket

        assert proc.poll() is None, running.error_log()
        try:
            socket.create_connection(("127.0.0.1", https_port), timeout=0.5).close()
            return True
        except OSError:
            return False

    try:
        wait_until(listening, 10, "nginx to listen")
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def log_lines_for(site: Site, path: str) -> list[str]:
    return [line for line in site.access_log().splitlines() if f" {path} " in line]


async def test_tls_and_websocket_reach_the_service_and_no_token_is_logged(site: Site, upstream: Any) -> None:
    secret = "0123456789abcdef0123456789abcdef01234567"
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{site.https}/ws/?token={secret}", ssl=False) as ws:
            await ws.send_str("hello")
            assert await ws.receive_str(timeout=5) == f"hello token={secret}"
        resp = await http.get(f"{site.https}/api/patients/?token={secret}&page=2", ssl=False)
        assert resp.status == 200
        assert resp.headers["Server"] == "nginx"  # server_tokens off: no version
        assert "max-age=" in resp.headers["Strict-Transport-Security"]
        # HTTP redirects to HTTPS with the query string; the log still has none
        resp = await http.get(f"http://127.0.0.1:{site.http_port}/ws/?token={secret}", allow_redirects=False, ssl=False)
        assert resp.status == 301
        assert resp.headers["Location"].endswith(f"/ws/?token={secret}")

    # the service got the query string and the client's host and port
    assert {"path": f"/ws/?token={secret}", "host": f"127.0.0.1:{site.https_port}"} in upstream.seen
    # a WebSocket is logged when it closes
    wait_until(lambda: len(log_lines_for(site, "/ws/")) == 2, 10, "the access log lines of /ws/")
    log = site.access_log()
    assert secret not in log and "token" not in log, log
    statuses = sorted(line.split('" ')[1].split()[0] for line in log_lines_for(site, "/ws/"))
    assert statuses == ["101", "301"], log
    assert '"GET /api/patients/ HTTP/1.1" 200' in log, log


async def test_logins_are_limited_per_address_with_a_json_429(site: Site) -> None:
    async with aiohttp.ClientSession() as http:
        statuses = []
        for i in range(30):
            path = "/rest-auth/login/" if i % 2 else "/rest-auth/login"  # one limit for both spellings
            resp = await http.post(f"{site.https}{path}", json={"username": "u", "password": "p"}, ssl=False)
            statuses.append(resp.status)
            if resp.status == 429:
                assert resp.content_type == "application/json"
                assert await resp.json() == {"detail": "Request was throttled."}
        # one request plus a burst of 20 pass at once; the 22nd comes long
        # before the next slot (10 a minute: one every 6 s)
        assert statuses[:21] == [200] * 21, statuses
        assert statuses[21] == 429, statuses
        # other paths are not limited
        for _ in range(25):
            resp = await http.get(f"{site.https}/api/patients/", ssl=False)
            assert resp.status == 200


async def test_the_websocket_error_log_leaves_the_token_out(site: Site, upstream: Any) -> None:
    secret = "fedcba9876543210fedcba9876543210fedcba98"
    await upstream.close()  # the service is down: nginx logs an error for every request
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as failed:
            await http.ws_connect(f"{site.https}/ws/?token={secret}", ssl=False)
        assert failed.value.status == 502
        resp = await http.get(f"{site.https}/api/patients/?marker=visible", ssl=False)
        assert resp.status == 502
    # the error is logged for the other location (so the log works), not for /ws/
    wait_until(lambda: "marker=visible" in site.error_log(), 10, "the error log line of /api/patients/")
    assert secret not in site.error_log()
    assert secret not in site.access_log()
