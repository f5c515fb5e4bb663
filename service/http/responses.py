"""JSON replies shaped like Django REST Framework's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .. import jsonutil
from ..errors import ApiError, AuthenticationFailed, MethodNotAllowed, NotAuthenticated

LIST_ALLOW = "GET, POST, HEAD, OPTIONS"


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    response = web.Response(body=jsonutil.dumps(data), status=status, content_type="application/json")
    response.headers["Vary"] = "Accept"
    if headers:
        response.headers.update(headers)
    return response


def options_metadata(name: str) -> dict[str, Any]:
    """DRF's SimpleMetadata: the answer to OPTIONS on any view."""
    return {
        "name": name,
        "description": "",
        "renders": ["application/json"],
        "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
    }


# DRF's names of the views that are not a resource's list or detail.
VIEW_NAMES = {"": "Api Root", "login": "Login", "logout": "Logout", "user": "User Details"}


def options_response(path: str, allow: str, view: str | None = None) -> web.Response:
    """DRF's answer to OPTIONS: metadata and the Allow header. Views without
    a name of their own (the API root, the auth views, detail actions) are
    named after the path's last segment."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    name = view or VIEW_NAMES.get("" if last == "api" else last, last.replace("_", " ").title())
    return json_response(options_metadata(name), headers={"Allow": allow})


def no_content(headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=204, headers=headers)


def error_response(error: ApiError, request_id: str | None = None) -> web.Response:
    """DRF's error body and headers; a server-side failure (5xx) also names
    the request id under which the log has the details."""
    headers = {}
    if isinstance(error, (NotAuthenticated, AuthenticationFailed)):
        headers["WWW-Authenticate"] = "Token"
    if isinstance(error, MethodNotAllowed) and error.allow:
        headers["Allow"] = error.allow
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    body = error.http_body()
    if error.status >= 500 and request_id is not None:
        body = {**body, "request_id": request_id}
    return json_response(body, status=error.status, headers=headers)
