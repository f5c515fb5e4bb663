"""Request bodies: JSON (and the form encodings DRF also parses).

Whatever a client sends, a body that cannot be read is a 400 with DRF's
shape, ``{"detail": "<JSON|Form|Multipart form> parse error - <reason>"}``,
never a server error.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .. import jsonutil
from ..appkeys import SETTINGS
from ..errors import ParseError, PayloadTooLarge, UnsupportedMediaType
from ..validation import FormData

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
FORM_TYPES = (URLENCODED, MULTIPART)
MAX_FORM_FIELDS = 1000  # Django's DATA_UPLOAD_MAX_NUMBER_FIELDS
TOO_MANY_FIELDS = f"Too many fields: at most {MAX_FORM_FIELDS} are accepted."
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


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
    if request.content_type == MULTIPART:
        if not request.body_exists or request.content_length == 0:
            return FormData()
        return await _read_multipart(request)
    body = await request.read()
    if request.content_type == URLENCODED:
        return parse_urlencoded(body, request.charset or "utf-8")
    if not body.strip():
        return {}
    if not _is_json(request.content_type) or not header:
        raise UnsupportedMediaType(header)
    return jsonutil.loads(body)


def parse_urlencoded(body: bytes, charset: str) -> FormData:
    """``a=1&b=%C3%A9`` → FormData; the last value of a repeated key counts,
    as with Django's QueryDict. Strict where Django would guess: text that
    is not in the charset, or a ``%`` not followed by two hex digits, is a
    parse error rather than a silently mangled value."""
    try:
        text = body.decode(charset).rstrip()
        bad = _BAD_PERCENT.search(text)
        if bad is not None:
            raise ValueError(f"Invalid percent-encoding at position {bad.start()}.")
        pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
    except (LookupError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise ParseError(f"Form parse error - {exc}") from None
    if len(pairs) > MAX_FORM_FIELDS:
        raise ParseError(f"Form parse error - {TOO_MANY_FIELDS}")
    return FormData(pairs)


async def _read_multipart(request: web.Request) -> FormData:
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge as exc:
        if "form fields" in (exc.text or ""):  # aiohttp's limit on the number of parts
            raise ParseError(f"Multipart form parse error - {TOO_MANY_FIELDS}") from None
        raise
    except HttpProcessingError as exc:  # a part's header is malformed
        raise ParseError(f"Multipart form parse error - {exc.message}") from None
    except (ValueError, LookupError, RuntimeError) as exc:
        raise ParseError(f"Multipart form parse error - {_multipart_reason(exc)}") from None
    return FormData(form.items())  # a repeated key: the last value, as with Django's QueryDict


def _multipart_reason(exc: Exception) -> str:
    text = str(exc)
    if text.startswith("boundary missed"):
        return "Invalid boundary in multipart: None"  # Django's words for it
    return text
