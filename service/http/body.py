"""Request bodies: JSON (and the form encodings DRF also parses)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import jsonutil
from ..appkeys import SETTINGS
from ..errors import PayloadTooLarge, UnsupportedMediaType

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def read_data(request: web.Request) -> Any:
    """The parsed body; an empty body is ``{}`` as with DRF."""
    limit = request.app[SETTINGS].max_body_bytes
    if (request.content_length or 0) > limit:
        raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
    header = request.headers.get("Content-Type", "")
    if request.content_type in FORM_TYPES:
        form = await request.post()
        return {key: form.get(key) for key in form}
    body = await request.read()
    if not body.strip():
        return {}
    if not _is_json(request.content_type) or not header:
        raise UnsupportedMediaType(header)
    return jsonutil.loads(body)
