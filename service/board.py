"""The ward board: static files served by the service itself at ``/``."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent / "static"


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def revalidate_static(request: web.Request, response: web.StreamResponse) -> None:
    """The board's modules have no version in their names: browsers must ask
    (cheaply, with If-Modified-Since) before reusing them, or a deploy would
    leave tabs running old code against a new API."""
    if request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-cache"


def setup(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
    app.on_response_prepare.append(revalidate_static)
