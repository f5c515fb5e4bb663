"""The OpenAPI 3.0.3 document of the HTTP API (``/openapi.json``) and Swagger
UI (``/swagger/``).

- ``schemas``: JSON schemas from ``validation.Field``; the shared errors and responses;
- ``document``: ``build_document(resources)``, the whole document;
- ``swagger``: Swagger UI from the swagger-ui-bundle package (no CDN).
"""

from __future__ import annotations

from aiohttp import web

from .. import jsonutil
from ..resources import Resource
from . import swagger
from .document import build_document
from .schemas import JSON

__all__ = ["DOCUMENT", "build_document", "setup"]

DOCUMENT = web.AppKey("openapi_document", bytes)


async def openapi_json(request: web.Request) -> web.StreamResponse:
    return web.Response(body=request.app[DOCUMENT], content_type=JSON, headers=swagger.NO_CACHE)


def setup(app: web.Application, resources: tuple[Resource, ...]) -> None:
    # Built once, now: a resource the document lacks fails at startup.
    app[DOCUMENT] = jsonutil.dumps(build_document(resources))
    app.router.add_get("/openapi.json", openapi_json)
    swagger.setup(app)
