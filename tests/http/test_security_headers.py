"""Security headers on every response: the board, its static files, the API
and its errors, Swagger UI, redirects and the WebSocket handshake."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

import pytest
from aiohttp import web

from service.http.security import add_security_headers

EXPECTED = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def assert_secured(headers: Any, what: Any) -> None:
    for name, value in EXPECTED.items():
        assert headers.get(name) == value, (what, name, headers.get(name))


@pytest.mark.parametrize(
    "method, path, status, authenticated",
    [
        ("GET", "/", 200, False),
        ("GET", "/static/style.css", 200, False),
        ("GET", "/static/js/app.js", 200, False),
        ("GET", "/static/nope.js", 404, False),
        ("GET", "/swagger/", 200, False),
        ("GET", "/swagger/swagger-initializer.js", 200, False),
        ("GET", "/swagger/swagger-ui.css", 200, False),
        ("GET", "/openapi.json", 200, False),
        ("GET", "/healthz", 200, False),
        ("GET", "/readyz", 200, False),
        ("GET", "/api/", 200, True),
        ("GET", "/api/patients/", 200, True),
        ("HEAD", "/api/patients/", 200, True),
        ("OPTIONS", "/api/patients/", 200, True),
        ("GET", "/api/patients/", 401, False),
        ("GET", "/api/patients/999/", 404, True),
        ("GET", "/no/such/page/", 404, False),
        ("DELETE", "/api/patients/", 405, True),
        ("POST", "/rest-auth/login/", 400, False),
        ("GET", "/api/patients", 301, True),
        ("POST", "/api/patients", 308, True),
    ],
)
async def test_every_response_has_them(client, alice, method, path, status, authenticated) -> None:
    headers = alice.headers if authenticated else {}
    resp = await client.request(method, path, headers=headers, allow_redirects=False)
    assert resp.status == status
    assert_secured(resp.headers, (method, path))


async def test_errors_have_them(client, alice) -> None:
    parse_error = await client.post(
        "/api/patients/", data=b"{bad", headers={**alice.headers, "Content-Type": "application/json"}
    )
    too_large = await client.post(
        "/api/patients/", data=b"x" * (2 * 1024 * 1024), headers={**alice.headers, "Content-Type": "application/json"}
    )
    unsupported = await client.post(
        "/api/patients/", data=b"x", headers={**alice.headers, "Content-Type": "text/plain"}
    )
    for resp, status in ((parse_error, 400), (too_large, 413), (unsupported, 415)):
        assert resp.status == status
        assert_secured(resp.headers, status)


async def handshake(client: Any, query: str) -> tuple[str, dict[str, str]]:
    """A raw WebSocket handshake: the status line and the headers of the answer."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ws/{query} HTTP/1.1\r\nHost: {client.server.host}:{client.server.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    async with asyncio.timeout(5):
        head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    status, *lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines if line)
    return status, headers


async def test_the_websocket_handshake_has_them(client, alice) -> None:
    status, headers = await handshake(client, f"?token={alice.token}")
    assert " 101 " in status
    assert_secured(headers, "101")
    refused, headers = await handshake(client, "?token=nope")
    assert " 403 " in refused
    assert_secured(headers, "403")


async def test_a_handler_may_set_its_own_policy() -> None:
    """The hook fills in only what is missing (a page with other needs, such
    as Swagger UI moving to its own files, may send its own policy)."""
    request: Any = object()
    response = web.Response(headers={"Content-Security-Policy": "default-src 'none'"})
    await add_security_headers(request, response)
    assert response.headers["Content-Security-Policy"] == "default-src 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
