"""Swagger UI at ``/swagger/``, served from the swagger-ui-bundle package: no CDN.

The package's assets are served as they are, but not its own page, template
and initializer: the initializer points at the petstore on the internet. This
package's ``static/index.html`` and ``static/swagger-initializer.js`` replace
them; the initializer loads ``../openapi.json``, sets ``validatorUrl: null`` (so
the UI never calls validator.swagger.io) and prefixes a bare key typed into
"Authorize" with ``Token ``.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler
from swagger_ui_bundle import swagger_ui_path

from ..errors import NotFound

SWAGGER_DIR = Path(swagger_ui_path)
STATIC = Path(__file__).parent / "static"
NO_CACHE = {"Cache-Control": "no-cache"}
# The package's files that are not served (this package serves its own page
# and initializer instead).
_NOT_SERVED = {"index.html", "index.j2", "swagger-initializer.js"}


def swagger_assets() -> dict[str, Path]:
    return {p.name: p for p in sorted(SWAGGER_DIR.iterdir()) if p.is_file() and p.name not in _NOT_SERVED}


def own_file(name: str, content_type: str) -> Handler:
    """Serve one of this package's static files: read now, so a missing file
    fails at startup; never cached without revalidation, so a new release's
    page and initializer are picked up at once."""
    data = (STATIC / name).read_bytes()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=data, content_type=content_type, charset="utf-8", headers=NO_CACHE)

    return handler


def setup(app: web.Application) -> None:
    assets = swagger_assets()

    async def swagger_asset(request: web.Request) -> web.StreamResponse:
        path = assets.get(request.match_info["name"])
        if path is None:
            raise NotFound()
        return web.FileResponse(path)

    app.router.add_get("/swagger/", own_file("index.html", "text/html"))
    app.router.add_get("/swagger/swagger-initializer.js", own_file("swagger-initializer.js", "application/javascript"))
    app.router.add_get("/swagger/{name}", swagger_asset)
