"""The socket's list against thousands of seeded rows (issue 13): DCRF's
limit/offset, cursor pages, the WS_LIST_MAX cap with ``"truncated"``, a
frame the send-buffer check never cuts, and the same filters as REST."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from service import lists
from service.app import create_app

from ..helpers import request
from ..seed import seed_history, seed_notifications, seed_patients, seed_reports, seed_users

REPLY_KEYS = ["errors", "data", "action", "response_status", "request_id"]


async def connect(client: Any, account: Any) -> Any:
    # no size limit of its own: the test sees whatever frame the server sends
    return await client.ws_connect("/ws/", params={"token": account.token}, max_msg_size=0)


async def rest(client: Any, account: Any, path: str) -> Any:
    resp = await client.get(path, headers=account.headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def raw_reply(ws: Any, stream: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The reply to one request: its frame's text as sent, and its payload."""
    rid = str(uuid.uuid4())
    await ws.send_json({"stream": stream, "payload": {**payload, "request_id": rid}})
    while True:
        message = await ws.receive(timeout=30)
        assert message.type.name == "TEXT", (message.type, message.data, message.extra)
        frame = orjson.loads(message.data)
        if frame["payload"].get("request_id") == rid and "event_id" not in frame["payload"]:
            return message.data, frame["payload"]


@pytest.fixture
def seeded(sql: Any, alice: Any, admin: Any) -> dict[str, Any]:
    seed_patients(sql, 2503)
    seed_reports(sql, 3000, patients=1000)
    seed_history(sql)
    seed_notifications(sql)
    seed_users(sql, 298)
    return {"alice": alice, "admin": admin}


# --- limit/offset -----------------------------------------------------------------


async def test_limit_offset_is_dcrfs_page(client, seeded) -> None:
    alice = seeded["alice"]
    ws = await connect(client, alice)
    reply = await request(ws, "patients", {"action": "list", "limit": 100, "offset": 200})
    assert list(reply) == REPLY_KEYS and reply["response_status"] == 200
    data = reply["data"]
    assert list(data) == ["count", "results", "limit", "offset"]
    page = await rest(client, alice, "/api/patients/?limit=100&offset=200")
    assert data == {"count": 2503, "results": page["results"], "limit": 100, "offset": 200}

    only_limit = (await request(ws, "patients", {"action": "list", "limit": 7}))["data"]
    assert (only_limit["limit"], only_limit["offset"], len(only_limit["results"])) == (7, 0, 7)
    only_offset = (await request(ws, "patients", {"action": "list", "offset": 2500}))["data"]
    assert (only_offset["limit"], only_offset["offset"]) == (lists.DEFAULT_PAGE_SIZE, 2500)
    assert len(only_offset["results"]) == 3
    past = (await request(ws, "patients", {"action": "list", "limit": 10, "offset": 9999}))["data"]
    assert past == {"count": 2503, "results": [], "limit": 10, "offset": 9999}
    filtered = (await request(ws, "reports", {"action": "list", "limit": 2, "patient": 5}))["data"]
    assert filtered["count"] == 3 and [r["patient"] for r in filtered["results"]] == [5, 5]
    await ws.close()


async def test_a_limit_beyond_the_maximum_is_answered_and_echoed_as_the_maximum(client, settings, seeded) -> None:
    """DCRF echoes the limit it used (cut at max_limit): a client that steps
    its offset by the echoed limit, or stops at a short page, misses nothing."""
    alice = seeded["alice"]
    ws = await connect(client, alice)
    data = (await request(ws, "patients", {"action": "list", "limit": 5000}))["data"]
    maximum = settings.list_max_page_size
    assert len(data["results"]) == maximum
    assert (data["limit"], data["offset"], data["count"]) == (maximum, 0, 2503)
    walked: list[Any] = []
    offset = 0
    while True:
        page = (await request(ws, "patients", {"action": "list", "limit": 5000, "offset": offset}))["data"]
        walked.extend(page["results"])
        if len(page["results"]) < page["limit"]:
            break
        offset += page["limit"]
    assert walked == await rest(client, alice, "/api/patients/")
    await ws.close()


@pytest.mark.parametrize(
    "name, value, used",
    [
        ("limit", -1, lists.DEFAULT_PAGE_SIZE),
        ("limit", 0, lists.DEFAULT_PAGE_SIZE),
        ("limit", "x", lists.DEFAULT_PAGE_SIZE),
        ("limit", "10", 10),
        ("limit", 1.5, 1),
        ("offset", -5, 0),
        ("offset", "x", 0),
        ("offset", [1], 0),
    ],
)
async def test_a_limit_or_offset_that_is_not_a_count_is_read_as_dcrf_reads_it(
    client, seeded, name, value, used
) -> None:
    """DCRF's pagination falls back to the default limit and offset 0 for
    values it cannot read, and echoes what it used: never an error."""
    ws = await connect(client, seeded["alice"])
    reply = await request(ws, "patients", {"action": "list", name: value})
    assert reply["response_status"] == 200
    assert reply["data"][name] == used
    assert len(reply["data"]["results"]) == min(used if name == "limit" else lists.DEFAULT_PAGE_SIZE, 2503)
    await ws.close()


async def test_an_invalid_cursor_is_refused_on_the_socket_as_over_http(client, alice) -> None:
    ws = await connect(client, alice)
    for token in ("not-base64!", "eyJ4IjoxfQ", "WyIyMDI2LTAxLTAxIiwgLTEsIDBd"):
        reply = await request(ws, "patients", {"action": "list", "cursor": token})
        assert (reply["response_status"], reply["errors"], reply["data"]) == (404, ["Invalid cursor"], None)
    await ws.close()


# --- cursor pages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "stream, reader, path",
    [
        ("patients", "alice", "/api/patients/"),
        ("reports", "alice", "/api/reports/"),
        ("history", "alice", "/api/history/"),
        ("notifications", "alice", "/api/notifications/?admitted=true"),
        ("users", "admin", "/api/users/"),
    ],
)
async def test_cursor_pages_over_the_socket(client, seeded, stream, reader, path) -> None:
    account = seeded[reader]
    whole = await rest(client, account, path)
    filters = {"admitted": True} if "admitted" in path else {}
    ws = await connect(client, account)
    pages, cursor = [], ""
    while cursor is not None:
        reply = await request(ws, stream, {"action": "list", "cursor": cursor, "page_size": 250, **filters})
        assert reply["response_status"] == 200 and "truncated" not in reply
        page = reply["data"]
        assert list(page) == ["next", "previous", "results"]
        assert page["next"] is None or (isinstance(page["next"], str) and "/" not in page["next"])
        pages.append(page)
        cursor = page["next"]
    assert [row for p in pages for row in p["results"]] == whole
    assert [len(p["results"]) for p in pages[:-1]] == [250] * (len(pages) - 1)
    assert pages[0]["previous"] is None
    back, cursor = [], pages[-1]["previous"]
    while cursor is not None:
        page = (await request(ws, stream, {"action": "list", "cursor": cursor, "page_size": 250, **filters}))["data"]
        back.append(page)
        cursor = page["previous"]
    assert back == pages[-2::-1]
    # the REST cursor and the socket's are the same positions
    joiner = "&" if "?" in path else "?"
    http_page = await rest(client, account, f"{path}{joiner}page_size=250&cursor={pages[1]['previous']}")
    assert http_page["results"] == pages[0]["results"]
    await ws.close()


async def test_cursor_page_size_and_bad_cursors(client, seeded) -> None:
    ws = await connect(client, seeded["alice"])
    for page_size, expected in ((None, 100), (1, 1), (1000, 1000), (1001, 1000), (0, 100), (-3, 100), ("x", 100)):
        payload = {"action": "list", "cursor": None} | ({} if page_size is None else {"page_size": page_size})
        reply = await request(ws, "patients", payload)
        assert len(reply["data"]["results"]) == expected, page_size
    for bad in (5, ["a"], {"a": 1}, True):
        reply = await request(ws, "patients", {"action": "list", "cursor": bad})
        assert (reply["response_status"], reply["errors"]) == (400, [{"cursor": ["Not a valid string."]}])
    for bad in ("abc", lists.Cursor(5, 1).encode()):
        reply = await request(ws, "patients", {"action": "list", "cursor": bad})
        assert (reply["response_status"], reply["data"]) == (404, None), bad
    await ws.close()


# --- the capped whole list --------------------------------------------------------------


@pytest.fixture
async def capped_client(aiohttp_client: Any, settings: Any) -> Any:
    return await aiohttp_client(create_app(settings.with_(ws_list_max=50)))


@pytest.mark.parametrize("rows, truncated", [(49, False), (50, False), (51, True), (2503, True)])
async def test_a_list_without_paging_is_capped_and_says_so(capped_client, sql, alice, rows, truncated) -> None:
    seed_patients(sql, rows)
    whole = await rest(capped_client, alice, "/api/patients/")
    ws = await connect(capped_client, alice)
    reply = await request(ws, "patients", {"action": "list"})
    assert reply["response_status"] == 200 and reply["errors"] == []
    assert reply["data"] == whole[:50]  # newest first, at most WS_LIST_MAX
    if truncated:
        assert list(reply) == [*REPLY_KEYS, "truncated"] and reply["truncated"] is True
    else:
        assert list(reply) == REPLY_KEYS
    await ws.close()


async def test_the_cap_applies_after_the_filters(capped_client, sql, alice) -> None:
    seed_patients(sql, 400, dismissed_every=5)  # 80 dismissed
    admitted = await rest(capped_client, alice, "/api/patients/?admitted=false")
    assert len(admitted) == 80
    ws = await connect(capped_client, alice)
    reply = await request(ws, "patients", {"action": "list", "admitted": False})
    assert reply["data"] == admitted[:50] and reply["truncated"] is True
    reply = await request(ws, "patients", {"action": "list", "admitted": False, "search": "first1"})
    expected = await rest(capped_client, alice, "/api/patients/?admitted=false&search=first1")
    assert 0 < len(expected) < 50 and reply["data"] == expected and "truncated" not in reply
    await ws.close()


async def test_the_default_cap_is_1000(client, seeded) -> None:
    ws = await connect(client, seeded["alice"])
    _, reply = await raw_reply(ws, "reports", {"action": "list"})
    assert len(reply["data"]) == 1000 and reply["truncated"] is True
    assert reply["data"] == (await rest(client, seeded["alice"], "/api/reports/"))[:1000]
    await ws.close()


async def test_a_capped_list_of_large_reports_is_never_a_frame_the_send_buffer_cuts(client, settings, sql, alice):
    """1,200 reports with their three free texts full (5,000 characters
    each) are some 18 MB: more than WS_SEND_BUFFER_BYTES (4 MiB). The reply
    holds fewer rows, says "truncated", and the socket stays open."""
    seed_patients(sql, 3)
    seed_reports(sql, 1200, patients=3, text=5000)
    whole = await rest(client, alice, "/api/reports/")
    ws = await connect(client, alice)
    text, reply = await raw_reply(ws, "reports", {"action": "list"})
    assert reply["response_status"] == 200 and reply["truncated"] is True
    assert len(text.encode()) <= settings.ws_send_buffer_bytes
    assert 0 < len(reply["data"]) < settings.ws_list_max
    assert reply["data"] == whole[: len(reply["data"])]  # the newest ones, whole rows
    still_open = await request(ws, "patients", {"action": "list"})
    assert still_open["response_status"] == 200 and not ws.closed
    await ws.close()


# --- filters, as over REST ----------------------------------------------------------------


@pytest.mark.parametrize(
    "stream, filters, query",
    [
        ("patients", {"admitted": True}, "admitted=true"),
        ("patients", {"admitted": "false"}, "admitted=false"),
        ("patients", {"search": "T12"}, "search=T12"),
        ("patients", {"search": "t12", "admitted": False}, "search=t12&admitted=false"),
        ("reports", {"since": "2024-01-03T00:00:00Z"}, "since=2024-01-03T00:00:00Z"),
        ("reports", {"until": "2024-01-02T00:00:00Z", "patient": 7}, "until=2024-01-02T00:00:00Z&patient=7"),
        ("reports", {"since": "2024-01-02", "until": "2024-01-04"}, "since=2024-01-02&until=2024-01-04"),
        ("history", {"since": "2024-01-03T00:01:00Z", "patient": 9}, "since=2024-01-03T00:01:00Z&patient=9"),
        ("history", {"until": "2024-01-02T00:00:00Z"}, "until=2024-01-02T00:00:00Z"),
        ("notifications", {"admitted": True}, "admitted=true"),
        ("notifications", {"admitted": False, "acknowledged": False}, "admitted=false&acknowledged=false"),
    ],
)
async def test_filters_over_the_socket_are_rests_filters(client, seeded, stream, filters, query) -> None:
    alice = seeded["alice"]
    expected = await rest(client, alice, f"/api/{stream}/?{query}")
    assert expected, query
    ws = await connect(client, alice)
    capped = await request(ws, stream, {"action": "list", **filters})
    assert capped["data"] == expected[:1000]
    assert ("truncated" in capped) == (len(expected) > 1000)
    counted = (await request(ws, stream, {"action": "list", "limit": 1000, **filters}))["data"]
    assert counted["count"] == len(expected) and counted["results"] == expected[:1000]
    paged = (await request(ws, stream, {"action": "list", "cursor": "", "page_size": 1000, **filters}))["data"]
    assert paged["results"] == expected[:1000]
    await ws.close()


DATETIME_FORMAT = [
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
]
INVALID_CHOICE = ["Select a valid choice. That choice is not one of the available choices."]


@pytest.mark.parametrize(
    "stream, filters, errors",
    [
        ("patients", {"admitted": "perhaps"}, {"admitted": ["Must be a valid boolean."]}),
        ("patients", {"search": "x" * 101}, {"search": ["Ensure this field has no more than 100 characters."]}),
        ("reports", {"since": "yesterday"}, {"since": DATETIME_FORMAT}),
        ("reports", {"until": 5}, {"until": DATETIME_FORMAT}),
        ("reports", {"patient": "abc"}, {"patient": INVALID_CHOICE}),
        ("history", {"since": [1]}, {"since": DATETIME_FORMAT}),
        ("history", {"until": "2024-02-30"}, {"until": DATETIME_FORMAT}),
        ("notifications", {"admitted": 7}, {"admitted": ["Must be a valid boolean."]}),
        ("notifications", {"patient": 1.5}, {"patient": INVALID_CHOICE}),
    ],
)
async def test_bad_filter_values_over_the_socket_are_rests_400(client, alice, stream, filters, errors) -> None:
    query = "&".join(f"{k}={v}" for k, v in filters.items() if isinstance(v, str))
    if query:  # the same value over REST gets the same answer
        resp = await client.get(f"/api/{stream}/?{query}", headers=alice.headers)
        assert (resp.status, await resp.json()) == (400, errors)
    ws = await connect(client, alice)
    for extra in ({}, {"limit": 10}, {"cursor": ""}):
        reply = await request(ws, stream, {"action": "list", **filters, **extra})
        assert (reply["response_status"], reply["errors"], reply["data"]) == (400, [errors], None), extra
    await ws.close()


async def test_staff_lists_over_the_socket(client, sql, seeded) -> None:
    admin, alice = seeded["admin"], seeded["alice"]
    ws = await connect(client, admin)
    users = await request(ws, "users", {"action": "list", "limit": 1000})
    assert users["data"]["count"] == 300 and users["data"]["results"] == await rest(client, admin, "/api/users/")
    await ws.close()
    ws = await connect(client, alice)
    denied = await request(ws, "users", {"action": "list", "cursor": ""})
    assert denied["response_status"] == 403
    await ws.close()
