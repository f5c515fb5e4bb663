"""Lists over REST against thousands of seeded rows (issue 13): cursor pages
(``?cursor=``), limit/offset with a bounded count, the streamed whole list,
the filters, and a client that stops reading a streamed list."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest
from yarl import URL

from service import lists
from service.app import create_app

from ..helpers import create_patient, create_report, moment
from ..seed import (
    count_of,
    seed_audit,
    seed_history,
    seed_notifications,
    seed_patients,
    seed_reports,
    seed_users,
    seed_wards,
)

INVALID_CURSOR = {"detail": "Invalid cursor"}
INVALID_BOOL = ["Must be a valid boolean."]
INVALID_CHOICE = ["Select a valid choice. That choice is not one of the available choices."]
DATETIME_FORMAT = [
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
]

# Each list: who reads it, its table, and its order (key, then id; both descending).
LISTS = {
    "patients": ("alice", "patients", "admission_date", "id"),
    "reports": ("alice", "reports", "time", "id"),
    "history": ("alice", "report_history", "history_date", "history_id"),
    "notifications": ("alice", "notifications", "created_at", "id"),
    "users": ("admin", "users", "date_joined", "id"),
    "wards": ("alice", "wards", "created_at", "id"),
    "audit": ("admin", "audit_log", "at", "id"),
}


@pytest.fixture
def archive(sql: Any, alice: Any, admin: Any) -> dict[str, Any]:
    """Thousands of rows in every list (counts chosen so that some lists
    end on a full page and some do not), and who reads which."""
    seed_patients(sql, 2503)
    seed_reports(sql, 3000, patients=1000)
    seed_history(sql)
    seed_notifications(sql)
    seed_users(sql, 1198)  # + alice and admin: 1,200
    seed_wards(sql, 349)  # + the ward every test has: 350
    seed_audit(sql, 1500)
    return {"alice": alice, "admin": admin}


def ordered_ids(sql: Any, name: str, where: str = "TRUE", params: Any = None) -> list[int]:
    _, table, key, pk = LISTS[name]
    return [row[0] for row in sql(f"SELECT {pk} FROM {table} WHERE {where} ORDER BY {key} DESC, {pk} DESC", params)]


async def get(client: Any, account: Any, url: str, status: int = 200) -> Any:
    """GET a path, or an absolute URL the service gave (which must be the test server's)."""
    if URL(url).absolute:
        assert URL(url).origin() == client.make_url("/").origin(), url
        resp = await client.session.get(url, headers=account.headers)
    else:
        resp = await client.get(url, headers=account.headers)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def walk(client: Any, account: Any, url: str) -> list[dict[str, Any]]:
    """Every page from ``url`` on, following ``next``."""
    pages = []
    while url:
        page = await get(client, account, url)
        assert list(page) == ["next", "previous", "results"]
        pages.append(page)
        url = page["next"]
    return pages


async def walk_back(client: Any, account: Any, page: dict[str, Any]) -> list[dict[str, Any]]:
    """The pages before ``page``, nearest first, following ``previous``."""
    pages = []
    url = page["previous"]
    while url:
        page = await get(client, account, url)
        pages.append(page)
        url = page["previous"]
    return pages


def cursor_of(url: str) -> lists.Cursor:
    return lists.Cursor.decode(URL(url).query["cursor"])


def token(value: Any) -> str:
    """A cursor as the service encodes one, around any JSON value."""
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def ids(rows: list[dict[str, Any]], name: str) -> list[int]:
    pk = LISTS[name][3]
    return [row[pk] for row in rows]


# --- cursor pages ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(LISTS))
async def test_cursor_pages_walk_the_whole_list_both_ways(client, sql, archive, name) -> None:
    account = archive[LISTS[name][0]]
    whole = await get(client, account, f"/api/{name}/")
    assert ids(whole, name) == ordered_ids(sql, name)  # the order of the list, every row once
    total = len(whole)
    assert total == count_of(sql, LISTS[name][1]) > 300

    pages = await walk(client, account, f"/api/{name}/?cursor=")
    sizes = [len(p["results"]) for p in pages]
    assert sizes == [100] * (total // 100) + ([total % 100] if total % 100 else [])
    assert [row for p in pages for row in p["results"]] == whole
    assert pages[0]["previous"] is None and pages[-1]["next"] is None
    assert all(p["next"] and p["previous"] for p in pages[1:-1])

    back = await walk_back(client, account, pages[-1])
    assert back == pages[-2::-1]  # the same pages, links and all


async def test_cursor_links_are_absolute_and_keep_the_filters(client, sql, archive) -> None:
    alice = archive["alice"]
    ((patient,),) = sql("SELECT patient FROM reports GROUP BY patient ORDER BY patient LIMIT 1")
    query = f"patient={patient}&since=2024-01-01T00:00:00Z&until=2024-12-31T00:00:00Z&page_size=1&cursor="
    first = await get(client, alice, f"/api/reports/?{query}")
    assert len(first["results"]) == 1 and first["previous"] is None
    nxt = URL(first["next"])
    assert nxt.absolute and str(nxt.origin()) == str(client.make_url("/").origin())
    assert nxt.path == "/api/reports/"
    assert {k: v for k, v in nxt.query.items() if k != "cursor"} == {
        "page_size": "1",
        "patient": str(patient),
        "since": "2024-01-01T00:00:00Z",
        "until": "2024-12-31T00:00:00Z",
    }
    second = await get(client, alice, first["next"])
    prev = URL(second["previous"])
    assert {k: v for k, v in prev.query.items() if k != "cursor"} == {
        k: v for k, v in nxt.query.items() if k != "cursor"
    }
    assert (await get(client, alice, second["previous"]))["results"] == first["results"]
    pages = await walk(client, alice, f"/api/reports/?{query}")
    assert [r for p in pages for r in p["results"]] == await get(client, alice, f"/api/reports/?patient={patient}")
    assert len(pages) == 3  # three reports each: page_size=1 held to every page


PAGE_SIZES = [
    (None, 100),
    ("1", 1),
    ("250", 250),
    ("1000", 1000),
    ("1001", 1000),
    ("999999999999999999999999", 1000),
    ("0", 100),
    ("-5", 100),
    ("abc", 100),
    ("", 100),
    ("2.5", 100),
]


async def test_page_size(client, archive) -> None:
    alice = archive["alice"]
    for page_size, expected in PAGE_SIZES:
        query = "cursor=" if page_size is None else f"cursor=&page_size={page_size}"
        page = await get(client, alice, f"/api/patients/?{query}")
        assert len(page["results"]) == expected, page_size
        second = await get(client, alice, page["next"])
        assert len(second["results"]) == expected, page_size
        assert URL(page["next"]).query.get("page_size") == page_size


INVALID_CURSORS = [
    "abc",
    "!!!!",
    "%00",
    token([1, 2]),
    token("x"),
    token({"key": "2024-01-01T00:00:00+00:00", "id": 1}),
    token(["2024-01-01T00:00:00+00:00", 1, 0, 1]),
    token([None, 1, 0]),
    token([True, 1, 0]),
    token([5, 1, 0]),  # a number where the list is ordered by time
    token([1.5, 1, 0]),
    token(["yesterday", 1, 0]),
    token(["2024-W01-1", 1, 0]),  # Python reads ISO week dates; PostgreSQL does not
    token(["2024-01-01T00:00:00", 1, 0]),  # no offset: the service never makes one
    token(["0001-01-01T00:00:00+14:00", 1, 0]),  # before year 1 in UTC
    token(["2024-01-01T00:00:00+00:00" + " " * 60, 1, 0]),
    token(["2024-01-01T00:00:00+00:00", -1, 0]),
    token(["2024-01-01T00:00:00+00:00", 2**63, 0]),
    token(["2024-01-01T00:00:00+00:00", 1.0, 0]),
    token(["2024-01-01T00:00:00+00:00", "1", 0]),
    token(["2024-01-01T00:00:00+00:00", False, 0]),
]


async def test_an_invalid_cursor_is_404(client, alice, admin) -> None:
    for name, (reader, *_) in LISTS.items():
        account = alice if reader == "alice" else admin
        for cursor in INVALID_CURSORS:
            for extra in ({}, {"page_size": "5"}):
                resp = await client.get(f"/api/{name}/", params={"cursor": cursor, **extra}, headers=account.headers)
                assert (resp.status, await resp.json()) == (404, INVALID_CURSOR), (name, cursor)


async def test_a_cursor_key_in_any_offset_is_that_moment(client, sql, archive) -> None:
    """An offset PostgreSQL refuses (+20:00) is read as the moment it names."""
    alice = archive["alice"]
    expected = ordered_ids(sql, "reports", "(time, id) < ('2024-01-03T04:00:00Z', 1000000)")[:100]
    for key in ("2024-01-04T00:00:00+20:00", "2024-01-03T04:00:00+00:00", "2024-01-02T23:00:00-05:00"):
        page = await get(client, alice, f"/api/reports/?cursor={token([key, 1000000, 0])}")
        assert ids(page["results"], "reports") == expected, key


async def test_pages_past_either_end_lead_back(client, archive) -> None:
    """A cursor at the last row (the list's end) or the first one (before it)
    gives an empty page whose other link leads back to the rows."""
    alice = archive["alice"]
    pages = await walk(client, alice, "/api/patients/?cursor=&page_size=1000")
    last = pages[-1]["results"][-1]
    past_end = lists.Cursor(moment(last["admission_date"]).isoformat(), last["id"])
    empty = await get(client, alice, f"/api/patients/?cursor={past_end.encode()}&page_size=1000")
    assert empty["results"] == [] and empty["next"] is None
    assert (await get(client, alice, empty["previous"]))["results"][-1] == last
    first = pages[0]["results"][0]
    before_start = lists.Cursor(moment(first["admission_date"]).isoformat(), first["id"], back=True)
    empty = await get(client, alice, f"/api/patients/?cursor={before_start.encode()}&page_size=1000")
    assert empty["results"] == [] and empty["previous"] is None
    assert (await get(client, alice, empty["next"]))["results"] == pages[0]["results"]


# --- stable under concurrent inserts ------------------------------------------------

NEW_ROWS = {
    # New rows at a moment: newer than everything, at the key of the cursor
    # (a higher id: before the cursor's row) and older than everything.
    "patients": "INSERT INTO patients (first_name, last_name, admission_date, ward) "
    "SELECT 'New', 'Row', k, 1 FROM unnest(%(keys)s::timestamptz[]) k",
    "reports": "INSERT INTO reports (patient, time, status, monitoring_interval) "
    "SELECT (SELECT min(id) FROM patients), k, 'febrile', 4 FROM unnest(%(keys)s::timestamptz[]) k",
    "history": "INSERT INTO report_history "
    "SELECT nextval('report_history_history_id_seq'), k, NULL, '~', NULL, r.* "
    "  FROM unnest(%(keys)s::timestamptz[]) k, (SELECT * FROM reports ORDER BY id LIMIT 1) r",
    "notifications": "INSERT INTO notifications (type, severity, patient, message, created_at) "
    "SELECT 'observation_due', 'info', (SELECT min(id) FROM patients), 'new', k "
    "  FROM unnest(%(keys)s::timestamptz[]) k",
    "audit": "INSERT INTO audit_log (at, action, target_type, target_id) "
    "SELECT k, 'ward.update', 'ward', 1 FROM unnest(%(keys)s::timestamptz[]) k",
}


@pytest.mark.parametrize("name", list(NEW_ROWS))
async def test_cursor_pages_are_stable_under_concurrent_inserts(client, sql, archive, name) -> None:
    account = archive[LISTS[name][0]]
    key = LISTS[name][2]
    before = ordered_ids(sql, name)
    existed = set(before)
    seen: list[dict[str, Any]] = []
    url = f"/api/{name}/?cursor="
    writes = 0
    while url:
        page = await get(client, account, url)
        seen.extend(page["results"])
        url = page["next"]
        if url:
            at = cursor_of(url).key
            sql(NEW_ROWS[name], {"keys": ["2030-01-01T00:00:00Z", at, "2000-01-01T00:00:00Z"]})
            if name in ("patients", "reports"):  # and a write through the API, while the next page is read
                nxt = get(client, account, url)
                _, page_after = await asyncio.gather(write_through_api(client, account, sql, name), nxt)
                assert page_after["results"]  # read while the write ran; walked again below
            writes += 1
    assert writes >= 14
    walked = [row[LISTS[name][3]] for row in seen]
    assert len(walked) == len(set(walked)), "a row came twice"
    assert not existed - set(walked), "a row that existed at the start was skipped"
    assert [i for i in walked if i in existed] == before  # in the list's order
    keys = [(moment(row[key]), row[LISTS[name][3]]) for row in seen]
    assert keys == sorted(keys, reverse=True)


async def write_through_api(client: Any, account: Any, sql: Any, name: str) -> None:
    if name == "patients":
        await create_patient(client, account, ward=1, admission_date=dt.datetime.now(dt.UTC).isoformat())
    else:
        ((patient,),) = sql("SELECT min(id) FROM patients")
        await create_report(client, account, patient, time="2024-01-05T00:00:00Z")


# --- filters --------------------------------------------------------------------

NAMES = [
    ("Anna", "Maria"),
    ("JOANNA", "Smith"),
    ("Hanna", "Annan"),
    ("Per", "100% Cotton"),
    ("Under", "Score_Name"),
    ("Back", "Slash\\Name"),
    ("Bob", "Ross"),
    ("Rose", "Bud"),
]


@pytest.fixture
def named(sql: Any, alice: Any) -> dict[str, int]:
    """Patients with names to search, admitted or not, beside 2,000 others."""
    seed_patients(sql, 2000, first_name="Seeded")
    made = {}
    for i, (first, last) in enumerate(NAMES):
        ((pk,),) = sql(
            "INSERT INTO patients (first_name, last_name, admission_date, dismissal_date, ward) "
            "VALUES (%s, %s, '2025-01-01', CASE WHEN %s THEN timestamptz '2025-02-01' END, 1) RETURNING id",
            (first, last, i % 2 == 1),
        )
        made[f"{first} {last}"] = pk
    return made


@pytest.mark.parametrize(
    "search, expected",
    [
        ("anna", ["Anna Maria", "JOANNA Smith", "Hanna Annan"]),
        ("ANNA", ["Anna Maria", "JOANNA Smith", "Hanna Annan"]),
        ("  anna  ", ["Anna Maria", "JOANNA Smith", "Hanna Annan"]),
        ("a m", ["Anna Maria"]),
        ("%", ["Per 100% Cotton"]),
        ("0%", ["Per 100% Cotton"]),
        ("_", ["Under Score_Name"]),
        ("e_n", ["Under Score_Name"]),
        ("o_s", []),  # "_" is not a wildcard: "Ross" and "Rose Bud" do not match
        ("b%d", []),  # "%" is not a wildcard: "Bob Ross ... Bud" does not match
        ("\\", ["Back Slash\\Name"]),
        ("h\\n", ["Back Slash\\Name"]),
        ("nobody", []),
    ],
)
async def test_search_is_a_literal_substring_in_any_case(client, alice, named, search, expected) -> None:
    everyone = await get(client, alice, f"/api/patients/?{_q(search=search)}")
    assert sorted(p["id"] for p in everyone) == sorted(named[n] for n in expected)
    paged = await walk(client, alice, f"/api/patients/?{_q(search=search, cursor='', page_size=1)}")
    assert [p for page in paged for p in page["results"]] == everyone
    counted = await get(client, alice, f"/api/patients/?{_q(search=search, limit=10)}")
    assert counted["count"] == len(expected)


def _q(**params: Any) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


async def test_search_with_only_blanks_is_no_filter(client, alice, named) -> None:
    assert len(await get(client, alice, "/api/patients/?search=%20%20")) == 2000 + len(NAMES)


async def test_admitted_filter(client, sql, alice, named) -> None:
    for value, where in (("true", "dismissal_date IS NULL"), ("false", "dismissal_date IS NOT NULL")):
        expected = ordered_ids(sql, "patients", where)
        assert len(expected) > 100
        assert ids(await get(client, alice, f"/api/patients/?admitted={value}"), "patients") == expected
        pages = await walk(client, alice, f"/api/patients/?admitted={value}&cursor=")
        assert [p["id"] for page in pages for p in page["results"]] == expected
        assert all(f"admitted={value}" in page["next"] for page in pages[:-1])
        counted = await get(client, alice, f"/api/patients/?admitted={value}&limit=5")
        assert counted["count"] == len(expected)
    both = await get(client, alice, "/api/patients/?admitted=true&search=anna")
    assert sorted(p["id"] for p in both) == sorted([named["Anna Maria"], named["Hanna Annan"]])


@pytest.mark.parametrize(
    "path, query, errors",
    [
        ("patients", "admitted=perhaps", {"admitted": INVALID_BOOL}),
        ("patients", "search=" + "x" * 101, {"search": ["Ensure this field has no more than 100 characters."]}),
        ("patients", "search=a%00b", {"search": ["Null characters are not allowed."]}),
        ("reports", "since=yesterday", {"since": DATETIME_FORMAT}),
        ("reports", "until=2024-13-01", {"until": DATETIME_FORMAT}),
        ("reports", "patient=abc", {"patient": INVALID_CHOICE}),
        ("history", "since=soon", {"since": DATETIME_FORMAT}),
        ("history", "until=5", {"until": DATETIME_FORMAT}),
        ("history", "patient=1.5", {"patient": INVALID_CHOICE}),
        ("notifications", "admitted=2", {"admitted": INVALID_BOOL}),
    ],
)
async def test_bad_filter_values_are_400_in_every_form_of_the_list(client, alice, path, query, errors) -> None:
    for extra in ("", "&cursor=", "&limit=10", "&cursor=&page_size=5"):
        resp = await client.get(f"/api/{path}/?{query}{extra}", headers=alice.headers)
        assert (resp.status, await resp.json()) == (400, errors), extra


async def test_a_list_the_user_may_not_read_is_403_before_any_byte(client, sql, alice) -> None:
    seed_users(sql, 1500)
    seed_audit(sql, 1500)
    for name in ("users", "audit"):
        for query in ("", "?cursor=", "?limit=10"):
            for method in ("GET", "HEAD"):
                resp = await client.request(method, f"/api/{name}/{query}", headers=alice.headers)
                assert resp.status == 403 and "Transfer-Encoding" not in resp.headers, (name, query, method)
                if method == "GET":
                    assert await resp.json() == {"detail": "You do not have permission to perform this action."}


TIME_FILTERS = [
    # (list, key, the query, the SQL of the same rows)
    ("reports", "time", "since=2024-01-03T00:00:00Z", "time >= '2024-01-03T00:00:00Z'"),
    ("reports", "time", "until=2024-01-02T12:00:00%2B02:00", "time <= '2024-01-02T10:00:00Z'"),
    (
        "reports",
        "time",
        "since=2024-01-02T00:00:00Z&until=2024-01-04T00:00:00Z",
        "time BETWEEN '2024-01-02T00:00:00Z' AND '2024-01-04T00:00:00Z'",
    ),
    ("history", "history_date", "since=2024-01-03T00:01:00Z", "history_date >= '2024-01-03T00:01:00Z'"),
    ("history", "history_date", "until=2024-01-02", "history_date <= '2024-01-02T00:00:00Z'"),
]


@pytest.mark.parametrize("name, key, query, where", TIME_FILTERS)
async def test_since_and_until_are_inclusive_and_combine_with_patient(client, sql, archive, name, key, query, where):
    alice = archive["alice"]
    expected = ordered_ids(sql, name, where)
    assert 100 < len(expected) < count_of(sql, LISTS[name][1])
    assert ids(await get(client, alice, f"/api/{name}/?{query}"), name) == expected
    pages = await walk(client, alice, f"/api/{name}/?{query}&cursor=")
    assert [r for page in pages for r in ids(page["results"], name)] == expected
    assert (await get(client, alice, f"/api/{name}/?{query}&limit=1"))["count"] == len(expected)
    ((patient,),) = sql(f"SELECT patient FROM {LISTS[name][1]} WHERE {where} ORDER BY patient LIMIT 1")
    mine = ordered_ids(sql, name, f"{where} AND patient = %s", (patient,))
    assert mine and ids(await get(client, alice, f"/api/{name}/?{query}&patient={patient}"), name) == mine


async def test_a_bound_at_a_rows_exact_moment_includes_it(client, sql, archive) -> None:
    alice = archive["alice"]
    ((rid, at),) = sql("SELECT id, time FROM reports ORDER BY id LIMIT 1")
    stamp = at.isoformat()
    rows = await get(client, alice, f"/api/reports/?{_q(since=stamp, until=stamp)}")
    assert rid in [r["id"] for r in rows] and all(moment(r["time"]) == at for r in rows)


async def test_notifications_admitted_filter(client, sql, archive) -> None:
    alice = archive["alice"]
    for value, condition in (("true", "IS NULL"), ("false", "IS NOT NULL")):
        where = f"patient IN (SELECT id FROM patients WHERE dismissal_date {condition})"
        expected = ordered_ids(sql, "notifications", where)
        assert len(expected) > 100
        assert ids(await get(client, alice, f"/api/notifications/?admitted={value}"), "notifications") == expected
        pages = await walk(client, alice, f"/api/notifications/?admitted={value}&cursor=")
        assert [n["id"] for page in pages for n in page["results"]] == expected
        open_only = ordered_ids(sql, "notifications", f"{where} AND acknowledged_at IS NULL")
        both = await get(client, alice, f"/api/notifications/?admitted={value}&acknowledged=false")
        assert ids(both, "notifications") == open_only


# --- limit/offset and its bounded count ----------------------------------------------


async def test_limit_offset_counts_exactly_below_the_bound(client, sql, archive) -> None:
    alice = archive["alice"]
    resp = await client.get("/api/reports/?limit=1000&offset=2500", headers=alice.headers)
    assert "X-Count-Exact" not in resp.headers
    body = await resp.json()
    assert body["count"] == 3000 and len(body["results"]) == 500 and body["next"] is None
    assert ids(body["results"], "reports") == ordered_ids(sql, "reports")[2500:]


async def test_limit_offset_count_stops_at_the_bound(aiohttp_client, settings, sql, alice) -> None:
    """LIST_COUNT_BOUND: counting stops there, the reply says so, and ``next``
    follows from a full page so the walk still reaches the end."""
    bound, limit = 300, 100
    client = await aiohttp_client(create_app(settings.with_(list_count_bound=bound)))
    seed_patients(sql, bound)
    base = str(client.make_url("/api/patients/"))
    resp = await client.get(f"/api/patients/?limit={limit}", headers=alice.headers)
    assert "X-Count-Exact" not in resp.headers and (await resp.json())["count"] == bound  # exactly the bound

    seed_patients(sql, 55)  # one beyond it, and more
    expected = ordered_ids(sql, "patients")
    for offset in range(0, bound + limit, limit):
        resp = await client.get(f"/api/patients/?limit={limit}&offset={offset}", headers=alice.headers)
        assert resp.status == 200 and resp.headers["X-Count-Exact"] == "false"
        body = await resp.json()
        assert body["count"] == bound
        assert ids(body["results"], "patients") == expected[offset : offset + limit]
        full = len(body["results"]) == limit
        assert body["next"] == (f"{base}?limit={limit}&offset={offset + limit}" if full else None)
    assert len(body["results"]) == 55
    # A filter that leaves fewer rows than the bound counts exactly again.
    resp = await client.get("/api/patients/?limit=10&admitted=false", headers=alice.headers)
    assert "X-Count-Exact" not in resp.headers
    assert (await resp.json())["count"] == len(ordered_ids(sql, "patients", "dismissal_date IS NOT NULL"))


@pytest.mark.parametrize("query", ["limit=5000", "cursor=&page_size=5000"])
async def test_a_page_is_never_longer_than_list_max_page_size(aiohttp_client, settings, sql, alice, query) -> None:
    """LIST_MAX_PAGE_SIZE caps ?limit= (DRF's max_limit) and ?page_size=; the
    links carry the size used, so walking them reads every row once."""
    client = await aiohttp_client(create_app(settings.with_(list_max_page_size=40)))
    seed_patients(sql, 130)
    walked: list[Any] = []
    url: str | None = f"/api/patients/?{query}"
    while url:
        body = await get(client, alice, url)
        assert len(body["results"]) <= 40
        walked.extend(body["results"])
        url = body["next"]
    assert ids(walked, "patients") == ordered_ids(sql, "patients")
    assert len(walked) == 130


# --- the streamed whole list ---------------------------------------------------------


async def test_whole_list_of_no_rows_is_an_empty_array(client, alice) -> None:
    for name in ("patients", "reports", "history", "notifications"):
        resp = await client.get(f"/api/{name}/", headers=alice.headers)
        assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
        assert await resp.read() == b"[]"


@pytest.mark.parametrize("count", [lists.CHUNK - 1, lists.CHUNK, lists.CHUNK + 1, 2 * lists.CHUNK, 2503])
async def test_whole_list_is_valid_json_across_chunks(client, sql, alice, count) -> None:
    seed_patients(sql, count)
    resp = await client.get("/api/patients/", headers=alice.headers)
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
    raw = await resp.read()
    rows = json.loads(raw)
    assert ids(rows, "patients") == ordered_ids(sql, "patients")
    assert rows == orjson.loads(raw)


async def test_head_of_a_list_has_no_body(client, sql, alice) -> None:
    seed_patients(sql, 1500)
    for query in ("", "?cursor=", "?limit=10"):
        got = await client.get(f"/api/patients/{query}", headers=alice.headers)
        head = await client.head(f"/api/patients/{query}", headers=alice.headers)
        assert head.status == 200 and await head.read() == b""
        assert head.headers["Content-Type"] == got.headers["Content-Type"] == "application/json"
        # a HEAD says what a GET would: no length a GET would not have
        assert head.headers.get("Content-Length") == got.headers.get("Content-Length"), query
    bad = await client.head("/api/patients/?admitted=perhaps", headers=alice.headers)
    assert bad.status == 400


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_a_streamed_list_returns_the_request_id(client, sql, alice, method) -> None:
    """As every response does (README: the caller's X-Request-ID is returned)."""
    seed_patients(sql, 1500)
    for query in ("", "?cursor=", "?limit=10"):
        resp = await client.request(
            method, f"/api/patients/{query}", headers={**alice.headers, "X-Request-ID": "list-42"}
        )
        assert resp.status == 200 and resp.headers.get("X-Request-ID") == "list-42", query


def text_for(rows: int) -> int:
    """Characters for each of the three free texts of ``rows`` reports to be
    more JSON than the kernel holds for a connection whose client does not
    read (twice its largest TCP send buffer; at least the API's 5,000)."""
    try:
        send_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, ValueError, IndexError):
        send_max = 4 * 2**20
    return max(5000, -(-2 * send_max // (3 * rows)))


def stalled_connections(client: Any) -> int:
    """How many of the test server's connections hold bytes their client has
    not taken (aiohttp's RequestHandler objects and their transports)."""
    handlers = client.server.runner.server.connections
    return sum(1 for h in handlers if h.transport is not None and h.transport.get_write_buffer_size() > 0)


async def raw_request(client: Any, account: Any, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A GET on a socket whose receive buffer is tiny, and whose body we then
    do not read (only the response's head)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (client.server.host, client.server.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {client.server.host}\r\nAuthorization: Token {account.token}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    await writer.drain()
    async with asyncio.timeout(10):
        head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert b"Transfer-Encoding: chunked" in head
    return reader, writer


def dechunk(data: bytes) -> bytes:
    body, rest = b"", data
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            return body
        body, rest = body + rest[:size], rest[size + 2 :]


async def test_a_client_that_stops_reading_stalls_only_itself(aiohttp_client, settings, sql, alice) -> None:
    pool = 2
    client = await aiohttp_client(create_app(settings.with_(db_pool_min=1, db_pool_max=pool)))
    seed_patients(sql, 10)
    seed_reports(sql, 1500, patients=10, text=text_for(1000))  # more than the socket buffers hold
    stalled = [await raw_request(client, alice, "/api/reports/") for _ in range(pool + 1)]

    async with asyncio.timeout(30):  # until the server holds unsent bytes for each of them
        while stalled_connections(client) < len(stalled):
            await asyncio.sleep(0.05)

    async with asyncio.timeout(10):  # everyone else is answered meanwhile
        health = await client.get("/healthz")
        assert health.status == 200
        listed = await client.get("/api/patients/", headers=alice.headers)
        assert listed.status == 200 and len(await listed.json()) == 10
        page = await client.get("/api/reports/?cursor=&page_size=5", headers=alice.headers)
        assert page.status == 200 and len((await page.json())["results"]) == 5
        one = await client.get("/api/reports/?limit=1", headers=alice.headers)
        assert (await one.json())["count"] == 1500
    busy = sql(
        "SELECT state, query FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'dengue-ward' AND state <> 'idle'"
    )
    assert busy == []  # no query or transaction is held open for a stalled client
    assert stalled_connections(client) == len(stalled)  # still waiting for their readers

    reader, writer = stalled.pop()  # reading again, the stalled client gets the whole list
    async with asyncio.timeout(60):
        body = dechunk(await reader.read())
    rows = orjson.loads(body)
    assert ids(rows, "reports") == ordered_ids(sql, "reports")
    assert all(len(r["medical_advice"]) == text_for(1000) for r in rows)
    writer.close()
    for _, w in stalled:  # the others hang up
        w.close()
    async with asyncio.timeout(10):  # and their requests end
        while stalled_connections(client):
            await asyncio.sleep(0.05)


async def test_whole_list_reads_each_chunk_with_its_own_short_query(client, sql, alice) -> None:
    """No transaction or snapshot is held between chunks: a row inserted
    while the client has not taken the first chunk, older than every row,
    is in the last one."""
    seed_patients(sql, 2)
    seed_reports(sql, lists.CHUNK + 1, patients=2, text=text_for(lists.CHUNK))
    reader, writer = await raw_request(client, alice, "/api/reports/")
    async with asyncio.timeout(30):  # the server waits for us within the first chunk
        while stalled_connections(client) < 1:
            await asyncio.sleep(0.05)
    ((late,),) = sql(
        "INSERT INTO reports (patient, time, status, monitoring_interval) "
        "SELECT min(id), '2000-01-01', 'febrile', 4 FROM patients RETURNING id"
    )
    async with asyncio.timeout(60):
        rows = orjson.loads(dechunk(await reader.read()))
    writer.close()
    assert len(rows) == lists.CHUNK + 2 and rows[-1]["id"] == late


# --- the filters and paging parameters in /openapi.json -------------------------------

PAGING = ["limit", "offset", "cursor", "page_size"]


@pytest.mark.parametrize(
    "name, filters",
    [
        ("patients", ["ward", "admitted", "search"]),
        ("reports", ["patient", "ward", "since", "until"]),
        ("history", ["report", "patient", "since", "until"]),
        ("notifications", ["patient", "ward", "acknowledged", "admitted"]),
        ("users", []),
        ("wards", []),
        ("audit", ["user"]),
    ],
)
async def test_every_list_documents_its_filters_and_paging(client, name, filters) -> None:
    document = await (await client.get("/openapi.json")).json()
    parameters = document["paths"][f"/api/{name}/"]["get"]["parameters"]
    named = [
        p["name"] if "name" in p else document["components"]["parameters"][p["$ref"].split("/")[-1]]["name"]
        for p in parameters
    ]
    assert named == filters + PAGING
    for p in parameters:
        if p.get("name") in ("since", "until"):
            assert p["in"] == "query" and p["schema"]["format"] == "date-time"
