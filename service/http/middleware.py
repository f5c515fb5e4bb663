"""Middlewares: request id and access log, trailing slash, errors as JSON.

No reply ever carries a stack trace: unexpected errors are logged with the
request id and answered 500 ``{"detail": ..., "request_id": ...}``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..appkeys import REQUEST_ID, USER
from ..errors import MethodNotAllowed, NotFound, PayloadTooLarge, as_api_error
from .responses import error_response, json_response, options_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
access_log = logging.getLogger("service.access")
log = logging.getLogger("service.http")

CLIENT_CLOSED = 499  # nginx's "client closed request", for the access log only
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every request an id (or keep the caller's) and log one line for it."""
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _SAFE_ID.fullmatch(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-ID"] = request_id
        return response
    except web.HTTPException as exc:  # redirects
        status = exc.status
        exc.headers["X-Request-ID"] = request_id
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED  # aiohttp cancels the handler when the client hangs up
        raise
    finally:
        user = request.get(USER)
        access_log.info(
            "%s %s %s %.1fms user=%s request_id=%s",
            request.method,
            request.path,
            status,
            (time.perf_counter() - started) * 1000,
            user.id if user is not None else "-",
            request_id,
            extra={
                "method": request.method,
                "path": request.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": user.id if user is not None else None,
                "request_id": request_id,
            },
        )


@web.middleware
async def append_slash(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``/api/patients`` → ``/api/patients/`` as Django does.

    301 for GET and HEAD; 308 for the other methods, so a redirected POST
    stays a POST with its body instead of silently turning into a GET.
    """
    match = request.match_info
    if match.http_exception is not None and match.http_exception.status == 404 and not request.path.endswith("/"):
        slashed = request.path + "/"
        resolved = await request.app.router.resolve(request.clone(rel_url=request.rel_url.with_path(slashed)))
        if resolved.http_exception is None:
            location = str(request.rel_url.with_path(slashed, keep_query=True))
            if request.method in ("GET", "HEAD"):
                raise web.HTTPMovedPermanently(location)
            raise web.HTTPPermanentRedirect(location)
    return await handler(request)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except MethodNotAllowed as error:
        if request.method == "OPTIONS" and error.allow and "OPTIONS" in error.allow:
            return options_response(request.path, error.allow, error.view)
        return error_response(error)
    except web.HTTPRequestEntityTooLarge:
        limit = request.client_max_size
        return error_response(PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes."))
    except web.HTTPMethodNotAllowed as exc:
        return error_response(MethodNotAllowed(request.method, ", ".join(sorted(exc.allowed_methods))))
    except web.HTTPNotFound:
        return error_response(NotFound())
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_response({"detail": exc.reason}, status=exc.status)
    except ConnectionResetError:
        # The client hung up before its request was read: nobody to answer,
        # and not a server error. 499 (nginx's "client closed request") only
        # reaches the access log (CLIENT_CLOSED).
        log.info("client closed the connection mid-request, request_id=%s", request.get(REQUEST_ID))
        return web.Response(status=CLIENT_CLOSED)
    except Exception as exc:
        request_id = request.get(REQUEST_ID)
        answer = as_api_error(exc, f"in {request.method} {request.path}, request_id={request_id}")
        # A failure nobody raised on purpose names the request id the log has it under.
        return error_response(answer, request_id if answer is not exc else None)
