"""What the board loads: one ward, its admitted patients and their recent
reports, never the archive; the chart's older pages; the dismissed
patients' search; the ward picker."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .board import card, expect_live, login, rest

pytestmark = pytest.mark.slow

ARCHIVED = 300  # dismissed patients, each with reports long ago
LONG_STAY_REPORTS = 120  # an admitted patient's reports, every 4 h: 18 of them in the last 72 h


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def base_url(page: Any) -> str:
    return re.match(r"^https?://[^/]+", page.url).group(0)


def seed_archive(sql: Any, ward: int = 1) -> None:
    """Dismissed patients with reports 20-40 days old (straight into the tables: fast)."""
    sql(
        """
        WITH p AS (
            INSERT INTO patients (first_name, last_name, admission_date, dismissal_date, ward)
            SELECT 'Archived', 'Case-' || g, now() - interval '40 days' + g * interval '1 minute',
                   now() - interval '20 days', %s
              FROM generate_series(1, %s) g
            RETURNING id, admission_date
        )
        INSERT INTO reports (patient, time, status, monitoring_interval, fever, pulse, warning_signs)
        SELECT p.id, p.admission_date + n * interval '6 hours', 'recovery', 6, 37.5, 80, 'archived note'
          FROM p CROSS JOIN generate_series(1, 3) n
        """,
        (ward, ARCHIVED),
    )
    sql(
        "INSERT INTO patients (first_name, last_name, admission_date, dismissal_date, ward) "
        "VALUES ('Nadia', 'Quartz', now() - interval '30 days', now() - interval '25 days', %s)",
        (ward,),
    )


def admit(sql: Any, first: str, last: str, ward: int = 1, days_ago: float = 2) -> int:
    ((pid,),) = sql(
        "INSERT INTO patients (first_name, last_name, admission_date, ward) "
        "VALUES (%s, %s, now() - %s * interval '1 day', %s) RETURNING id",
        (first, last, days_ago, ward),
    )
    return int(pid)


def add_reports(sql: Any, patient: int, count: int, every_hours: float = 4, first_hours_ago: float = 1) -> None:
    """`count` reports, the newest `first_hours_ago` ago, then one every `every_hours` before it."""
    sql(
        "INSERT INTO reports (patient, time, status, monitoring_interval, fever, pulse, oral_fluids, urine_output) "
        "SELECT %s, now() - (%s + (n - 1) * %s) * interval '1 hour', 'febrile', 4, 38.2, 90 + n %% 20, 300, 200 "
        "  FROM generate_series(1, %s) n",
        (patient, first_hours_ago, every_hours, count),
    )


def api_calls(page: Any) -> list[Any]:
    """Every response of the API and of dj-rest-auth the page receives, as it comes."""
    seen: list[Any] = []
    page.on("response", lambda r: seen.append(r) if re.search(r"/(api|rest-auth)/", r.url) else None)
    return seen


def query_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def test_the_board_loads_only_the_ward_and_never_the_archive(new_page, alice, sql) -> None:
    seed_archive(sql)
    lan = admit(sql, "Lan", "Pham")
    add_reports(sql, lan, 6)
    hoa = admit(sql, "Hoa", "Tran", days_ago=1)
    add_reports(sql, hoa, 3, every_hours=6)
    stay = admit(sql, "Long", "Stay", days_ago=25)
    add_reports(sql, stay, LONG_STAY_REPORTS)
    fresh = admit(sql, "Just", "Arrived", days_ago=0.01)  # no report at all yet

    page = new_page()
    calls = api_calls(page)
    login(page, alice)
    expect(page.locator("body")).to_have_attribute("data-ward-ready", "true")
    for pid in (lan, hoa, stay, fresh):
        expect(card(page, pid)).to_be_visible()
    expect(page.locator("article.card")).to_have_count(4)
    expect(page.get_by_role("heading", name=re.compile("^Dengue ward"))).to_contain_text("4 admitted")

    urls = [r.url for r in calls if r.request.method == "GET"]
    lists = [u for u in urls if "/api/" in u]
    for url in lists:
        params = query_of(url)
        assert {"ward", "admitted", "since", "page_size"} & params.keys(), f"an unbounded list request: {url}"
    paths = sorted(urlsplit(u).path + ("?" + "&".join(sorted(query_of(u))) if urlsplit(u).query else "") for u in urls)
    assert paths == [
        "/api/notifications/?acknowledged&admitted&ward",
        "/api/patients/?admitted&ward",
        "/api/reports/?cursor&page_size&patient",  # the latest report of the patient without one in 72 h
        "/api/reports/?since&ward",
        "/api/wards/?cursor&page_size",
        "/rest-auth/user/",
    ], paths
    by_path = {urlsplit(r.url).path + ("#since" if "since=" in r.url else ""): r for r in calls}
    since = dt.datetime.fromisoformat(query_of(by_path["/api/reports/#since"].url)["since"])
    assert dt.timedelta(hours=71) < dt.datetime.now(dt.UTC) - since < dt.timedelta(hours=73)
    assert query_of(by_path["/api/patients/"].url) == {"admitted": "true", "ward": "1"}
    assert query_of(by_path["/api/notifications/"].url) == {"ward": "1", "admitted": "true", "acknowledged": "false"}

    bodies = {r.url: r.body() for r in calls}
    total = sum(len(b) for b in bodies.values())
    assert total < 40_000, f"{total} bytes of data at start"
    for url, body in bodies.items():
        assert b"Archived" not in body and b"archived note" not in body and b"Quartz" not in body, url
    reports = json.loads(by_path["/api/reports/#since"].body())
    assert sorted({r["patient"] for r in reports}) == sorted([lan, hoa, stay])
    assert len([r for r in reports if r["patient"] == stay]) == 18  # of its 120

    board = page.evaluate(
        """() => ({
            ready: window.__board.ready,
            marks: performance.getEntriesByName('board-ready').length,
            renders: performance.getEntriesByName('board-render').length,
            load: performance.getEntriesByName('board-load').length,
            last: window.__board.lastRender,
        })"""
    )
    assert board["ready"] > 0 and board["marks"] == 1 and board["load"] == 1, board
    assert board["renders"] >= 1 and board["last"] >= 0, board


def test_the_chart_reads_a_patients_reports_page_by_page(new_page, alice, sql) -> None:
    stay = admit(sql, "Long", "Stay", days_ago=25)
    add_reports(sql, stay, LONG_STAY_REPORTS)
    page = new_page()
    login(page, alice)
    expect(card(page, stay)).to_be_visible()
    calls = api_calls(page)

    card(page, stay).get_by_role("link", name="Long Stay").click()
    columns = page.locator("table.obs thead th[data-report-id]")
    expect(columns).to_have_count(50)  # the newest page, oldest of it on the left
    older = page.get_by_role("button", name="Older observations")
    older.click()
    expect(columns).to_have_count(100)
    older.click()
    expect(columns).to_have_count(LONG_STAY_REPORTS)
    expect(older).to_have_count(0)
    expect(page.get_by_text(f"All {LONG_STAY_REPORTS} observations shown")).to_be_visible()
    expect(page.locator(".obs-paging")).to_have_attribute("data-count", str(LONG_STAY_REPORTS))

    pages = [r.url for r in calls if "/api/reports/" in r.url]
    assert len(pages) == 3, pages
    for url in pages:
        assert query_of(url)["patient"] == str(stay) and query_of(url)["page_size"] == "50", url
    assert query_of(pages[0])["cursor"] == "" and all(query_of(u)["cursor"] for u in pages[1:])
    # oldest on the left: the first column is the 120th report, 1 + 119 * 4 hours ago
    first = columns.first.locator("time").get_attribute("datetime")
    age = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(first)
    assert abs(age - dt.timedelta(hours=1 + 119 * 4)) < dt.timedelta(minutes=5)


def test_a_dismissed_patient_is_found_by_search_and_opens_with_their_reports(new_page, alice, sql) -> None:
    seed_archive(sql)
    page = new_page()
    login(page, alice)
    calls = api_calls(page)

    search = page.get_by_role("searchbox", name="Find a dismissed patient")
    search.fill("quartz")
    search.press("Enter")
    results = page.locator(".dismissed-list li")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Nadia Quartz")
    (request,) = [r for r in calls if "/api/patients/" in r.url]
    assert query_of(request.url) == {
        "ward": "1",
        "admitted": "false",
        "search": "quartz",
        "cursor": "",
        "page_size": "25",
    }

    search.fill("Case-29")  # Case-29, Case-290 ... Case-299: 11
    page.get_by_role("button", name="Search").click()
    expect(results).to_have_count(11)
    search.fill("nobody like this")
    search.press("Enter")
    expect(page.get_by_text("No dismissed patient matches “nobody like this”.")).to_be_visible()

    page.get_by_role("button", name="List all").click()
    expect(results).to_have_count(25)
    page.get_by_role("button", name="More dismissed patients").click()
    expect(results).to_have_count(50)

    page.get_by_role("searchbox", name="Find a dismissed patient").fill("Case-7")  # Case-7, Case-70 ... Case-79
    page.get_by_role("button", name="Search").click()
    link = page.get_by_role("link", name="Archived Case-7", exact=True)
    link.click()
    expect(page.get_by_role("heading", name=re.compile("Archived Case-7"))).to_be_visible()
    expect(page.locator("#patient-name").locator("xpath=..")).to_contain_text("dismissed")
    expect(page.locator("table.obs thead th[data-report-id]")).to_have_count(3)
    expect(page.locator('table.obs td[data-field="warning_signs"]').first).to_have_text("archived note")
    page.get_by_role("link", name="← Ward overview").click()
    expect(results).to_have_count(11)  # the search is still there


def test_the_ward_picker_switches_wards(new_page, make_user, sql) -> None:
    ((north,),) = sql("INSERT INTO wards (name) VALUES ('North ward') RETURNING id")
    nurse = make_user("nurse", wards=(1, north))
    ana = admit(sql, "Ana", "One", ward=1)
    ben = admit(sql, "Ben", "Two", ward=north)
    add_reports(sql, ben, 2)
    page = new_page()
    login(page, nurse)
    picker = page.get_by_role("combobox", name="Ward")
    expect(picker).to_have_value("1")
    expect(picker.locator("option")).to_have_text(["Dengue ward", "North ward"])
    expect(card(page, ana)).to_be_visible()
    expect(card(page, ben)).to_have_count(0)

    calls = api_calls(page)
    picker.select_option(label="North ward")
    expect(card(page, ben)).to_be_visible()
    expect(card(page, ana)).to_have_count(0)
    expect(page.get_by_role("heading", name=re.compile("^North ward"))).to_contain_text("1 admitted")
    loads = [r.url for r in calls if "/api/" in r.url]
    assert loads and all(query_of(u).get("ward") == str(north) for u in loads), loads

    # live: a patient admitted to the other ward does not appear here, one admitted here does
    base = base_url(page)
    other = rest(
        base,
        nurse,
        "POST",
        "/api/patients/",
        {"first_name": "Cai", "last_name": "Elsewhere", "admission_date": "2024-06-01T10:00:00Z", "ward": 1},
    )
    here = rest(
        base,
        nurse,
        "POST",
        "/api/patients/",
        {"first_name": "Dee", "last_name": "Here", "admission_date": "2024-06-01T10:00:00Z", "ward": north},
    )
    expect(card(page, here["id"])).to_be_visible()
    expect(card(page, other["id"])).to_have_count(0)
    # moved to the other ward: it leaves this board, and shows on the other one with its reports
    rest(base, nurse, "PATCH", f"/api/patients/{ben}/", {"ward": 1})
    expect(card(page, ben)).to_have_count(0)
    picker.select_option(label="Dengue ward")
    for pid in (ana, ben, other["id"]):
        expect(card(page, pid)).to_be_visible()
    expect(card(page, ben).locator('[data-field="phase"]')).to_have_text("febrile")

    page.reload()  # the tab remembers its ward
    expect_live(page)
    expect(picker).to_have_value("1")
    expect(card(page, ben)).to_be_visible()
