"""HTTP routes: DRF's DefaultRouter + ModelViewSet, over the resource table.

Each handler authenticates, picks the action for the method and translates
its result; everything else happens in the action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDict

from ..context import Context
from ..errors import ParseError
from ..idempotency import KEY_MESSAGE, KEY_RE, fingerprint, run_once
from ..resources import Listing, Page, Resource, etag, parse_if_match
from .body import read_data
from .context import context, not_allowed
from .responses import LIST_ALLOW, json_response, no_content


def _positive_int(raw: str | None, strict: bool) -> int | None:
    try:
        value = int(raw) if raw is not None else None
    except ValueError:
        return None
    if value is None or value < 0 or (strict and value == 0):
        return None
    return value


def query_params(request: web.Request) -> dict[str, str]:
    """The query as Django's QueryDict reads it: a repeated key's last value wins."""
    return dict(request.query.items())


def page_of(request: web.Request) -> Page | None:
    """LimitOffsetPagination: ``?limit=`` switches it on; bad values as DRF."""
    query = query_params(request)
    limit = _positive_int(query.get("limit"), strict=True)
    if limit is None:
        return None
    return Page(limit=limit, offset=_positive_int(query.get("offset"), strict=False) or 0)


def _url_with(request: web.Request, **params: int | None) -> str:
    query = MultiDict(request.query)
    for key, value in params.items():
        query.popall(key, None)
        if value is not None:
            query[key] = str(value)
    encoded = urlencode(sorted(query.items()))
    return str(request.url.with_query(None)) + (f"?{encoded}" if encoded else "")


def paginated(request: web.Request, listing: Listing, page: Page) -> dict[str, Any]:
    count = listing.count or 0
    next_url = None
    if page.offset + page.limit < count:
        next_url = _url_with(request, limit=page.limit, offset=page.offset + page.limit)
    previous_url = None
    if page.offset > 0:
        previous_offset = page.offset - page.limit
        previous_url = _url_with(request, limit=page.limit, offset=previous_offset if previous_offset > 0 else None)
    return {"count": count, "next": next_url, "previous": previous_url, "results": listing.items}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


Write = Callable[[], Awaitable[tuple[int, Any]]]


async def write_once(request: web.Request, ctx: Context, data: Any, call: Write, tagged: bool = False) -> web.Response:
    """Run a write, once per ``Idempotency-Key`` if the request has one, and
    reply: the object (with its ETag if ``tagged``), or 204 without a body."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        status, obj = await call()
        replayed = False
    else:
        if not KEY_RE.fullmatch(key):
            raise ParseError(f"Idempotency-Key: {KEY_MESSAGE}")
        reply = await run_once(ctx, key, fingerprint(request.method, request.path, data), call)
        status, obj, replayed = reply.status, reply.data, reply.replayed
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if status == 204:
        return no_content(headers)
    if tagged and isinstance(obj, dict):
        headers["ETag"] = etag(obj)
    return json_response(obj, status=status, headers=headers)


def list_handler(resource: Resource) -> Handler:
    allow = LIST_ALLOW if resource.create else "GET, HEAD, OPTIONS"

    async def handler(request: web.Request) -> web.StreamResponse:
        ctx = await context(request)
        if request.method in ("GET", "HEAD"):
            page = page_of(request)
            listing = await resource.list(ctx, query_params(request), page)
            return json_response(listing.items if page is None else paginated(request, listing, page))
        if request.method == "POST" and resource.create:
            create, data = resource.create, await read_data(request)

            async def call() -> tuple[int, Any]:
                return 201, await create(ctx, data)

            return await write_once(request, ctx, data, call)
        raise not_allowed(request, allow, f"{resource.model} List")

    return handler


def detail_handler(resource: Resource) -> Handler:
    methods = ["GET"] + (["PUT", "PATCH"] if resource.update else []) + (["DELETE"] if resource.delete else [])
    allow = ", ".join(methods + ["HEAD", "OPTIONS"])

    async def handler(request: web.Request) -> web.StreamResponse:
        ctx = await context(request)
        pk = request.match_info["pk"]
        if request.method in ("GET", "HEAD"):
            obj = await resource.retrieve(ctx, pk)
            return json_response(obj, headers={"ETag": etag(obj)})
        ctx = replace(ctx, if_match=parse_if_match(request.headers.get("If-Match")))
        if request.method in ("PUT", "PATCH") and resource.update:
            update, data, partial = resource.update, await read_data(request), request.method == "PATCH"

            async def call() -> tuple[int, Any]:
                return 200, await update(ctx, pk, data, partial)

            return await write_once(request, ctx, data, call, tagged=True)
        if request.method == "DELETE" and resource.delete:
            delete = resource.delete

            async def remove() -> tuple[int, Any]:
                await delete(ctx, pk)
                return 204, None

            return await write_once(request, ctx, None, remove)
        raise not_allowed(request, allow, f"{resource.model} Instance")

    return handler


def detail_action_handler(resource: Resource, name: str) -> Handler:
    action = resource.detail_actions[name]

    async def handler(request: web.Request) -> web.StreamResponse:
        ctx = await context(request)
        if request.method != "POST":
            raise not_allowed(request, "POST, OPTIONS")
        pk = request.match_info["pk"]

        async def call() -> tuple[int, Any]:
            return await action(ctx, pk)

        return await write_once(request, ctx, None, call)

    return handler


def api_root(names: tuple[str, ...]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        await context(request)
        if request.method not in ("GET", "HEAD"):
            raise not_allowed(request, "GET, HEAD, OPTIONS")
        base = request.url.with_query(None)
        return json_response({name: str(base.with_path(f"/api/{name}/")) for name in names})

    return handler


def setup(app: web.Application, resources: tuple[Resource, ...]) -> None:
    """The API root (keys in the order of ``resources``) and every resource's routes."""
    app.router.add_route("*", "/api/", api_root(tuple(r.name for r in resources)))
    for resource in resources:
        app.router.add_route("*", f"/api/{resource.name}/", list_handler(resource))
        app.router.add_route("*", rf"/api/{resource.name}/{{pk:[^/.]+}}/", detail_handler(resource))
        for name in resource.detail_actions:
            app.router.add_route(
                "*", rf"/api/{resource.name}/{{pk:[^/.]+}}/{name}/", detail_action_handler(resource, name)
            )
