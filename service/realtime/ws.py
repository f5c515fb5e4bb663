"""The multiplexed WebSocket at /ws/ (channelsmultiplexer + DCRF on the wire).

Frames are ``{"stream": ..., "payload": {"action": ..., "request_id": ...}}``.
Every action calls the same resource action as the HTTP route, so both paths
validate, check permissions, write history and emit events identically.
Bad frames get an error reply and the socket stays open (wire-protocol §10.6).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import WSMsgType, web

from .. import lists
from ..appkeys import DB, HUB, SETTINGS, USER
from ..auth import sessions
from ..config import Settings
from ..context import Context
from ..db import Database
from ..errors import (
    ApiError,
    AuthenticationFailed,
    MethodNotAllowed,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    ValidationError,
    as_api_error,
)
from ..idempotency import check_key, fingerprint, run_once
from ..resources import Resource, parse_if_match
from ..sqlfiles import Q
from ..validation import REQUIRED, parse_pk
from .frames import bad_frame, reply, resume_gone
from .hub import ResumeTooOld
from .limits import LimitExceeded, TokenBucket, check_request_id
from .session import CLOSE_POLICY, GOING_AWAY, Session

log = logging.getLogger("service.realtime")
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "try again later": the database is away
TOUCH_EVERY_SECONDS = 60.0
MAX_NAME = 64  # a stream or action name echoed back is cut to this

Payload = dict[str, Any]
WsAction = Callable[[Context, Resource, Payload, Session], Awaitable[tuple[int, Any]]]


def origin_allowed(request: web.Request, settings: Settings) -> bool:
    """Cross-site WebSocket hijacking guard.

    Browsers always send Origin; a page of another site may open a socket
    with a stolen token in its URL, so only this host and the configured
    origins are accepted. Non-browser clients send no Origin.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if "*" in settings.ws_allowed_origins or origin in settings.ws_allowed_origins:
        return True
    return urlsplit(origin).netloc.lower() == request.host.lower()


def _require_pk(payload: Payload) -> Any:
    if "pk" not in payload or payload["pk"] is None:
        raise ValidationError({"pk": [REQUIRED]})
    return payload["pk"]


@dataclass(frozen=True)
class Capped:
    """A list cut at WS_LIST_MAX rows (or fewer, to fit the send buffer):
    the reply says ``"truncated": true``."""

    items: list[Any]


def _offset(raw: Any) -> int:
    try:
        offset = int(raw)
    except (TypeError, ValueError, OverflowError):
        return 0
    return max(offset, 0)


async def _list(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
    """DCRF's list: with ``limit``/``offset`` its WebsocketLimitOffsetPagination
    (``{"count", "results", "limit", "offset"}``), with ``cursor`` a cursor
    page (``{"next", "previous", "results"}``, cursors as strings), and
    without either at most WS_LIST_MAX rows, newest first, in at most half
    of WS_SEND_BUFFER_BYTES."""
    filters = {f.name: payload[f.name] for f in resource.filters if f.name in payload}
    spec = resource.list
    if "cursor" in payload:
        token = payload["cursor"] or ""
        if not isinstance(token, str):
            raise ValidationError({"cursor": ["Not a valid string."]})
        size = lists.page_size(payload.get("page_size"), ctx.settings.list_max_page_size)
        page = await lists.cursor_page(ctx, spec, filters, token, size)
        cursors = {k: c.encode() if c else None for k, c in (("next", page.next), ("previous", page.previous))}
        return 200, {**cursors, "results": page.results}
    if "limit" in payload or "offset" in payload:
        # As DCRF reads them: a limit that is not a positive integer is the
        # default, an offset that is not a non-negative one is 0; the limit
        # is capped, and echoed as used.
        limit = lists.page_size(payload.get("limit"), ctx.settings.list_max_page_size)
        offset = _offset(payload.get("offset"))
        results, count, _ = await lists.offset_page(ctx, spec, filters, limit, offset)
        return 200, {"count": count, "results": results, "limit": limit, "offset": offset}
    # Half the send buffer, so the reply is never a frame Session.write cuts
    # the socket off for, even behind frames still waiting to be sent.
    budget = ctx.settings.ws_send_buffer_bytes // 2
    items, truncated = await lists.capped(ctx, spec, filters, ctx.settings.ws_list_max, budget)
    return 200, Capped(items) if truncated else items


async def _retrieve(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
    return 200, await resource.retrieve(ctx, _require_pk(payload))


async def _create(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
    assert resource.create is not None
    return 201, await resource.create(ctx, payload.get("data"))


def _with_if_match(ctx: Context, payload: Payload) -> Context:
    """The payload's optional ``"if_match"``: the ETag the client last saw."""
    raw = payload.get("if_match")
    if raw is not None and (not isinstance(raw, str) or len(raw) > 1000):
        raise ValidationError({"if_match": ["Must be the ETag of the object, as a string."]})
    return replace(ctx, if_match=parse_if_match(raw))


def _update(partial: bool) -> WsAction:
    async def run(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
        assert resource.update is not None
        pk = _require_pk(payload)
        return 200, await resource.update(_with_if_match(ctx, payload), pk, payload.get("data"), partial)

    return run


async def _delete(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
    assert resource.delete is not None
    await resource.delete(_with_if_match(ctx, payload), _require_pk(payload))
    return 204, None


async def _subscribe(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
    pk = _require_pk(payload)
    if payload.get("request_id") is None:
        raise ValidationError({"request_id": [REQUIRED]})
    obj = await resource.retrieve(ctx, pk)  # 404 for an unknown instance, as DCRF
    key, request_id = (resource.name, obj[resource.lookup]), payload["request_id"]
    if not session.subscribed(key, request_id) and session.subscriptions >= ctx.settings.ws_max_subscriptions:
        raise LimitExceeded("Too many subscriptions.")
    session.subscribe(key, request_id)
    return 201, None


async def _unsubscribe(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
    pk = parse_pk(_require_pk(payload))
    if pk is None:
        raise NotFound()
    session.unsubscribe((resource.name, pk))
    return 204, None


def _detail_action(name: str) -> WsAction:
    async def run(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
        return await resource.detail_actions[name](ctx, _require_pk(payload), payload.get("data"))

    return run


def actions_of(resource: Resource) -> dict[str, WsAction]:
    table: dict[str, WsAction] = {
        "list": _list,
        "retrieve": _retrieve,
        "subscribe_instance": _subscribe,
        "unsubscribe_instance": _unsubscribe,
    }
    if resource.create:
        table["create"] = _create
    if resource.update:
        table["update"] = _update(partial=False)
        table["patch"] = _update(partial=True)
    if resource.delete:
        table["delete"] = _delete
    for name in resource.detail_actions:
        table[name] = _detail_action(name)
    return table


Streams = dict[str, tuple[Resource, dict[str, WsAction]]]
STREAMS: web.AppKey[Streams] = web.AppKey("streams")


def streams_of(resources: tuple[Resource, ...]) -> Streams:
    """Each resource's stream name → the resource and its socket actions."""
    return {resource.name: (resource, actions_of(resource)) for resource in resources}


async def handle_frame(ctx: Context, session: Session, text: str, streams: Streams) -> bytes:
    """One client frame in, one reply frame out (never raises).

    Every frame spends a token of the socket's bucket, bad ones too; a frame
    over the rate is answered 429 without being run.
    """
    throttled = session.bucket.spend()
    if throttled is not None and session.bucket.sustained():
        session.end(CLOSE_POLICY, "too many frames")
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return bad_frame(None, f"Invalid frame: not JSON ({exc}).")
    if not isinstance(frame, dict):
        return bad_frame(None, 'Invalid frame: expected a JSON object with "stream" and "payload".')
    stream, payload = frame.get("stream"), frame.get("payload")
    request_id = payload.get("request_id") if isinstance(payload, dict) else None
    named = stream if isinstance(stream, str) and len(stream) <= MAX_NAME else None  # echoed back
    try:
        check_request_id(request_id, ctx.settings.ws_request_id_max)
    except ValidationError as invalid:
        return bad_frame(named, invalid.detail["request_id"][0])
    found = streams.get(stream) if isinstance(stream, str) else None
    if found is None:
        names = ", ".join(streams)
        return bad_frame(named, f"Unknown stream {repr(stream)[:MAX_NAME]}. Streams: {names}.", request_id)
    resource, actions = found
    if not isinstance(payload, dict):
        return bad_frame(stream, 'Invalid frame: "payload" must be a JSON object.')
    action = payload.get("action")
    if "action" not in payload:
        return bad_frame(stream, "Unable to find action in message body.", request_id, status=405)
    if isinstance(action, str):
        action = action[:MAX_NAME]  # echoed back; no action has a longer name
    elif not isinstance(action, (int, float)):  # bool is an int
        action = None  # a list or an object is not echoed back
    if throttled is not None:
        return reply(stream, action, request_id, throttled.status, errors=throttled.ws_errors())
    run = actions.get(action) if isinstance(action, str) else None
    try:
        if run is None:
            raise MethodNotAllowed(str(action))
        status, data = await run_write_once(ctx, resource, payload, session, run)
    except Exception as exc:
        error = as_api_error(exc, f"during {action!r} on stream {stream!r}")
        return reply(stream, action, request_id, error.status, errors=error.ws_errors())
    if isinstance(data, Capped):
        return reply(stream, action, request_id, status, data=data.items, extra={"truncated": True})
    return reply(stream, action, request_id, status, data=data)


READS = {"list", "retrieve", "subscribe_instance", "unsubscribe_instance"}


async def run_write_once(
    ctx: Context, resource: Resource, payload: Payload, session: Session, run: WsAction
) -> tuple[int, Any]:
    """An action, run once per ``"idempotency_key"`` when a write carries one
    (the same store and rules as HTTP's Idempotency-Key)."""
    key = payload.get("idempotency_key")
    if key is None or payload.get("action") in READS:
        return await run(ctx, resource, payload, session)
    request = fingerprint(resource.name, payload.get("action"), payload.get("pk"), payload.get("data"))

    async def call() -> tuple[int, Any]:
        return await run(ctx, resource, payload, session)

    reply = await run_once(ctx, check_key(key), request, call)
    return reply.status, reply.data


def _since(request: web.Request) -> int | None:
    raw = request.query.get("since")
    if raw is None or raw == "":
        return None
    since = parse_pk(raw)
    if since is None or since < 0:
        raise ValidationError({"since": ["A valid event id (a non-negative integer) is required."]})
    return since


async def websocket(request: web.Request) -> web.StreamResponse:
    settings, hub, streams, db = request.app[SETTINGS], request.app[HUB], request.app[STREAMS], request.app[DB]
    if not origin_allowed(request, settings):
        log.warning("WebSocket refused: origin %r not allowed", request.headers.get("Origin"))
        raise PermissionDenied("Origin not allowed.")
    try:
        identity = await sessions.identify(db, settings, request.query.get("token", ""))
    except AuthenticationFailed as exc:
        raise PermissionDenied(str(exc.detail)) from None
    user = request[USER] = identity.user
    since = _since(request)
    if len(hub.by_user.get(user.id, ())) >= settings.ws_max_sockets_per_user:
        log.warning("WebSocket refused: user %s (id %d) has too many open", user.username, user.id)
        raise LimitExceeded(f"Too many open WebSockets for this user (at most {settings.ws_max_sockets_per_user}).")
    ws = web.WebSocketResponse(
        heartbeat=settings.ws_heartbeat_seconds,
        max_msg_size=settings.ws_max_frame_bytes,
        compress=False,
    )
    if not ws.can_prepare(request).ok:
        raise ApiError("Expected a WebSocket upgrade request.")
    await ws.prepare(request)
    bucket = TokenBucket(settings.ws_frames_per_second, settings.ws_frame_burst, settings.ws_throttle_close_seconds)
    session = Session(
        ws,
        request.transport,
        user,
        identity.session_id,
        identity.idle_left,
        identity.age_left,
        settings.ws_send_buffer_bytes,
        bucket,
    )
    log.info(
        "WebSocket connected: user %s (id %d), %d open",
        user.username,
        user.id,
        len(hub.sessions) + 1,
        extra={"user_id": user.id, "sessions": len(hub.sessions) + 1},
    )
    try:
        try:
            await hub.attach(session, since)
        except ServiceUnavailable:
            log.error("cannot attach WebSocket of user %s: database unavailable", user.username)
            await ws.close(code=CLOSE_TRY_AGAIN, message=b"database unavailable, reconnect later")
            return ws
        except ResumeTooOld:
            session.send(resume_gone(since or 0))
        while (message := await session.receive()) is not None:
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                break
            if message.type == WSMsgType.TEXT:
                await mark_used(db, session, settings.token_idle_seconds)
                ctx = Context(db, settings, session.user, session.auth_session_id)
                session.send(await handle_frame(ctx, session, message.data, streams))
            elif message.type == WSMsgType.BINARY:
                session.send(bad_frame(None, "Binary frames are not supported; send JSON text frames."))
        if session.closing:  # ended by the hub, a limit or shutdown: nothing it sent after is run
            await session.close()
    finally:
        hub.detach(session)
        log.info(
            "WebSocket disconnected: user %s (id %d), close code %s, %d open",
            user.username,
            user.id,
            ws.close_code,
            len(hub.sessions),
            extra={"user_id": user.id, "close_code": ws.close_code, "sessions": len(hub.sessions)},
        )
    return ws


async def mark_used(db: Database, session: Session, idle_seconds: float) -> None:
    """A socket's frames are use of its session, as requests are (at most a
    write a minute): a screen in use does not expire as idle."""
    now = time.monotonic()
    if now - session.touched < TOUCH_EVERY_SECONDS:
        return
    session.touched = now
    try:
        await db.execute(Q.touch_session, {"id": session.auth_session_id})
    except ServiceUnavailable:
        return  # the database is out: the frame is answered (503) all the same
    session.expires_by_idle = now + idle_seconds


async def close_all(app: web.Application) -> None:
    """On shutdown: close every socket with 1001 so clients reconnect elsewhere."""
    hub = app.get(HUB)
    if hub is None:
        return
    open_sessions = list(hub.sessions)
    if not open_sessions:
        return
    log.info("shutting down: closing %d WebSocket(s) with 1001", len(open_sessions))
    for session in open_sessions:
        session.end(GOING_AWAY, "server shutting down")
    tasks = [s.task for s in open_sessions if s.task is not None]
    if tasks:
        await asyncio.wait(tasks, timeout=5.0)


def setup(app: web.Application, resources: tuple[Resource, ...]) -> None:
    app[STREAMS] = streams_of(resources)
    app.router.add_get("/ws/", websocket)
    app.on_shutdown.append(close_all)
