"""The multiplexed WebSocket at /ws/ (channelsmultiplexer + DCRF on the wire).

Frames are ``{"stream": ..., "payload": {"action": ..., "request_id": ...}}``.
Every action calls the same resource action as the HTTP route, so both paths
validate, check permissions, write history and emit events identically.
Bad frames get an error reply and the socket stays open (wire-protocol §10.6).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import psycopg2
from aiohttp import WSMsgType, web

from ..appkeys import DB, HUB, SETTINGS, USER
from ..auth.actions import user_for_token
from ..config import Settings
from ..context import Context
from ..errors import (
    ApiError,
    AuthenticationFailed,
    MethodNotAllowed,
    NotFound,
    PermissionDenied,
    ValidationError,
    as_api_error,
)
from ..resources import Resource
from ..validation import REQUIRED, parse_pk
from .frames import bad_frame, reply, resume_gone
from .hub import ResumeTooOld
from .session import Session

log = logging.getLogger("service.realtime")
GOING_AWAY = 1001

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


async def _list(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
    filters = {f.name: payload[f.name] for f in resource.filters if f.name in payload}
    return 200, (await resource.list(ctx, filters, None)).items


async def _retrieve(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
    return 200, await resource.retrieve(ctx, _require_pk(payload))


async def _create(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
    assert resource.create is not None
    return 201, await resource.create(ctx, payload.get("data"))


def _update(partial: bool) -> WsAction:
    async def run(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
        assert resource.update is not None
        pk = _require_pk(payload)
        return 200, await resource.update(ctx, pk, payload.get("data"), partial)

    return run


async def _delete(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
    assert resource.delete is not None
    await resource.delete(ctx, _require_pk(payload))
    return 204, None


async def _subscribe(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
    pk = _require_pk(payload)
    if payload.get("request_id") is None:
        raise ValidationError({"request_id": [REQUIRED]})
    obj = await resource.retrieve(ctx, pk)  # 404 for an unknown instance, as DCRF
    session.subscribe(resource.name, obj[resource.lookup], payload["request_id"])
    return 201, None


async def _unsubscribe(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
    pk = parse_pk(_require_pk(payload))
    if pk is None:
        raise NotFound()
    session.unsubscribe(resource.name, pk)
    return 204, None


def _detail_action(name: str) -> WsAction:
    async def run(ctx: Context, resource: Resource, payload: Payload, session: Session) -> tuple[int, Any]:
        return await resource.detail_actions[name](ctx, _require_pk(payload))

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
    """One client frame in, one reply frame out (never raises)."""
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return bad_frame(None, f"Invalid frame: not JSON ({exc}).")
    if not isinstance(frame, dict):
        return bad_frame(None, 'Invalid frame: expected a JSON object with "stream" and "payload".')
    stream, payload = frame.get("stream"), frame.get("payload")
    found = streams.get(stream) if isinstance(stream, str) else None
    if found is None:
        names = ", ".join(streams)
        request_id = payload.get("request_id") if isinstance(payload, dict) else None
        return bad_frame(stream, f"Unknown stream {stream!r}. Streams: {names}.", request_id)
    resource, actions = found
    if not isinstance(payload, dict):
        return bad_frame(stream, 'Invalid frame: "payload" must be a JSON object.')
    request_id, action = payload.get("request_id"), payload.get("action")
    if "action" not in payload:
        return bad_frame(stream, "Unable to find action in message body.", request_id, status=405)
    run = actions.get(action) if isinstance(action, str) else None
    try:
        if run is None:
            raise MethodNotAllowed(str(action))
        status, data = await run(ctx, resource, payload, session)
    except Exception as exc:
        error = as_api_error(exc, f"during {action!r} on stream {stream!r}")
        return reply(stream, action, request_id, error.status, errors=error.ws_errors())
    return reply(stream, action, request_id, status, data=data)


def _since(request: web.Request) -> int | None:
    raw = request.query.get("since")
    if raw is None or raw == "":
        return None
    since = parse_pk(raw)
    if since is None or since < 0:
        raise ValidationError({"since": ["A valid event id (a non-negative integer) is required."]})
    return since


async def websocket(request: web.Request) -> web.StreamResponse:
    settings, hub, streams = request.app[SETTINGS], request.app[HUB], request.app[STREAMS]
    if not origin_allowed(request, settings):
        log.warning("WebSocket refused: origin %r not allowed", request.headers.get("Origin"))
        raise PermissionDenied("Origin not allowed.")
    try:
        user = await user_for_token(request.app[DB], request.query.get("token", ""))
    except AuthenticationFailed as exc:
        raise PermissionDenied(str(exc.detail)) from None
    request[USER] = user
    since = _since(request)
    ws = web.WebSocketResponse(
        heartbeat=settings.ws_heartbeat_seconds,
        max_msg_size=settings.ws_max_frame_bytes,
        compress=False,
    )
    if not ws.can_prepare(request).ok:
        raise ApiError("Expected a WebSocket upgrade request.")
    await ws.prepare(request)
    session = Session(ws, request.transport, user, settings.ws_send_buffer_bytes)
    ctx = Context(request.app[DB], settings, user)
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
        except (psycopg2.Error, OSError):
            log.exception("cannot attach WebSocket of user %s: database unavailable", user.username)
            await ws.close(code=1011, message=b"database unavailable, reconnect later")
            return ws
        except ResumeTooOld:
            session.send(resume_gone(since or 0))
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                session.send(await handle_frame(ctx, session, message.data, streams))
            elif message.type == WSMsgType.BINARY:
                session.send(bad_frame(None, "Binary frames are not supported; send JSON text frames."))
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


async def close_all(app: web.Application) -> None:
    """On shutdown: close every socket with 1001 so clients reconnect elsewhere."""
    hub = app.get(HUB)
    if hub is None:
        return
    sessions = list(hub.sessions)
    if sessions:
        log.info("shutting down: closing %d WebSocket(s) with 1001", len(sessions))
    for session in sessions:
        session.closing = True
    await asyncio.wait(
        [asyncio.ensure_future(s.ws.close(code=GOING_AWAY, message=b"server shutting down")) for s in sessions]
        or [asyncio.ensure_future(asyncio.sleep(0))],
        timeout=5.0,
    )


def setup(app: web.Application, resources: tuple[Resource, ...]) -> None:
    app[STREAMS] = streams_of(resources)
    app.router.add_get("/ws/", websocket)
    app.on_shutdown.append(close_all)
