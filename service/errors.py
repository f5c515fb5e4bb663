"""Typed errors raised by actions; HTTP and WebSocket translate them.

Bodies follow Django REST Framework: a field error dict for validation, a
``{"detail": ...}`` text for everything else.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg2

log = logging.getLogger("service.errors")


class ApiError(Exception):
    status: int = 400
    default_detail: str = "Bad request."
    retry_after: int | None = None  # seconds, sent as Retry-After

    def __init__(self, detail: Any = None) -> None:
        self.detail: Any = self.default_detail if detail is None else detail
        super().__init__(self.detail)

    def http_body(self) -> Any:
        """The JSON body of the HTTP reply."""
        return {"detail": self.detail}

    def ws_errors(self) -> list[Any]:
        """The ``errors`` list of a DCRF reply payload."""
        return [self.detail]


class ValidationError(ApiError):
    """Input that breaks a field rule: ``{"field": ["message", ...]}``."""

    status = 400

    def http_body(self) -> Any:
        return self.detail


class ParseError(ApiError):
    status = 400
    default_detail = "Malformed request."


class NotAuthenticated(ApiError):
    status = 401
    default_detail = "Authentication credentials were not provided."


class AuthenticationFailed(ApiError):
    status = 401
    default_detail = "Incorrect authentication credentials."


class PermissionDenied(ApiError):
    status = 403
    default_detail = "You do not have permission to perform this action."


class NotFound(ApiError):
    """An unknown id. ``detail`` is DRF's REST text; DCRF says "Not found"."""

    status = 404
    default_detail = "Not found."

    def ws_errors(self) -> list[Any]:
        return ["Not found"]


class MethodNotAllowed(ApiError):
    status = 405

    def __init__(self, method: str, allow: str | None = None, view: str | None = None) -> None:
        super().__init__(f'Method "{method}" not allowed.')
        self.allow = allow  # the Allow header of an HTTP reply
        self.view = view  # DRF's name of the view, for an OPTIONS reply


class Conflict(ApiError):
    status = 409
    default_detail = "The request conflicts with the current state of the resource."


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415

    def __init__(self, media_type: str) -> None:
        super().__init__(f'Unsupported media type "{media_type}" in request.')


def not_found_for(model: str) -> NotFound:
    return NotFound(f"No {model} matches the given query.")


class PreconditionFailed(ApiError):
    """If-Match named a version of the object that is no longer current."""

    status = 412
    default_detail = "This record was changed by someone else since you loaded it."


class Throttled(ApiError):
    """Too many attempts (DRF's text); ``wait`` seconds until the next may pass."""

    status = 429

    def __init__(self, wait: int) -> None:
        unit = "second" if wait == 1 else "seconds"
        super().__init__(f"Request was throttled. Expected available in {wait} {unit}.")
        self.retry_after = wait


class ServiceUnavailable(ApiError):
    """The database cannot be reached: the client may retry shortly."""

    status = 503
    default_detail = "The database is unavailable. Try again shortly."
    retry_after = 1


class DatabaseUnavailable(ServiceUnavailable):
    """PostgreSQL could not be reached or used: no connection became free
    within DB_ACQUIRE_TIMEOUT, the connection failed or was dropped, or a
    statement ran past DB_STATEMENT_TIMEOUT. Raised by service/db.py from
    whatever the driver raised (the ``__cause__``), which the log shows;
    the client sees 503 with Retry-After and may retry (with its
    Idempotency-Key, if it was a write)."""


class Busy(ServiceUnavailable):
    """A bounded queue is full (password hashing): retry in a moment."""

    default_detail = "Too many sign-ins at once; try again in a moment."


class ServerError(ApiError):
    """Anything unexpected; the log has the traceback, the client never does."""

    status = 500
    default_detail = "A server error occurred."


def as_api_error(exc: Exception, where: str) -> ApiError:
    """The one mapping from an exception to what a client is told, for HTTP
    and the socket alike. Errors actions raise on purpose pass through; the
    rest are logged (with ``where``: the request id, or the frame) and
    answered without a trace."""
    if isinstance(exc, DatabaseUnavailable):
        cause = exc.__cause__
        log.error("database unavailable %s: %s", where, f"{type(cause).__name__}: {cause}" if cause else exc.detail)
        return exc
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError)):  # not through service/db.py
        log.error("database unavailable %s: %s", where, exc)
        return DatabaseUnavailable()
    log.error("unexpected error %s", where, exc_info=exc)
    return ServerError()
