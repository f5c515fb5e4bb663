"""JSON replies shaped like Django REST Framework's."""
from __future__ import annotations

from typing import Any, Mapping

from aiohttp import web

from .. import jsonutil
from ..errors import ApiError, MethodNotAllowed, NotAuthenticated, AuthenticationFailed

LIST_ALLOW = "GET, POST, HEAD, OPTIONS"
DETAIL_ALLOW = "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    response = web.Response(body=jsonutil.dumps(data), status=status, content_type="application/json")
    response.headers["Vary"] = "Accept"
    if headers:
        response.headers.update(headers)
    return response


def no_content() -> web.Response:
    return web.Response(status=204)


def error_response(error: ApiError) -> web.Response:
    headers = {}
    if isinstance(error, (NotAuthenticated, AuthenticationFailed)):
        headers["WWW-Authenticate"] = "Token"
    if isinstance(error, MethodNotAllowed) and error.allow:
        headers["Allow"] = error.allow
    return json_response(error.http_body(), status=error.status, headers=headers)
