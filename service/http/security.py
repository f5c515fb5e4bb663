"""Security headers on every response the application prepares: the board,
its static files, the API and its errors, Swagger UI, redirects and the
WebSocket handshake.

The board and Swagger UI load only their own scripts, styles and images
(no inline script or style attribute, no CDN); ``connect-src`` lets the
board open its WebSocket. A handler that needs another policy sets its own
header: the hook fills in only what is missing.
"""

from __future__ import annotations

from aiohttp import web

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self' ws: wss:",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(add_security_headers)
