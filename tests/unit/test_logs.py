"""Log lines: a client-supplied string cannot forge a line, in either format."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from service.logs import JsonFormatter, TextFormatter, escape_controls

HOSTILE = "alice\n2026-01-01 00:00:00,000 INFO service.access: GET / 200\r\x1b[2K\x00\x7f\x85\u2028done"


def record(message: str, *args: Any, exc_info: Any = None) -> logging.LogRecord:
    return logging.LogRecord("service.test", logging.WARNING, __file__, 1, message, args, exc_info)


def test_escape_controls() -> None:
    assert escape_controls(HOSTILE) == (
        "alice\\n2026-01-01 00:00:00,000 INFO service.access: GET / 200\\r\\x1b[2K\\x00\\x7f\\x85\\u2028done"
    )
    assert escape_controls("plain text, é, 中文, emoji 🙂 and a tab\t") == "plain text, é, 中文, emoji 🙂 and a tab\\t"


def test_text_lines_escape_the_message() -> None:
    line = TextFormatter().format(record("login failed for %s", HOSTILE))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.endswith("WARNING service.test: login failed for " + escape_controls(HOSTILE))


def test_a_traceback_stays_on_its_own_lines() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    text = TextFormatter().format(record("failed for %s", "a\nb", exc_info=exc_info))
    first, *rest = text.split("\n")
    assert first.endswith("failed for a\\nb")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "ValueError: boom"


def test_json_lines_carry_the_message_intact() -> None:
    line = JsonFormatter().format(record("login failed for %s", HOSTILE))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert json.loads(line)["message"] == "login failed for " + HOSTILE


@pytest.fixture(params=["text", "json"])
def access_log(request: Any) -> Iterator[tuple[str, io.StringIO]]:
    """The access logger written to a buffer in one of the two formats."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(TextFormatter() if request.param == "text" else JsonFormatter())
    logger = logging.getLogger("service.access")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield request.param, buffer
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_a_path_with_a_newline_gives_one_access_line(client, alice, access_log) -> None:
    fmt, buffer = access_log
    resp = await client.get("/api/%0aFAKE%0d%1b[31m", headers=alice.headers)
    assert resp.status == 404
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 1, lines
    if fmt == "text":
        assert "GET /api/\\nFAKE\\r\\x1b[31m 404 " in lines[0]
    else:
        entry = json.loads(lines[0])
        assert entry["path"] == "/api/\nFAKE\r\x1b[31m" and entry["status"] == 404
