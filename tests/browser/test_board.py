"""The ward board in a real browser, against the real service."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from .board import card, cell, expect_live, login, rest

pytestmark = pytest.mark.slow


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def field(form: Any, name: str) -> Any:
    """A form control by its field name (labels are checked in the accessibility test)."""
    return form.locator(f'[name="{name}"]')


def base_url(page: Any) -> str:
    """scheme://host:port of the page's server."""
    return re.match(r"^https?://[^/]+", page.url).group(0)


def iso(minutes_ago: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)).isoformat()


def test_login_then_create_a_patient_and_a_report_through_the_forms(new_page, alice) -> None:
    page = new_page()
    expect(page.get_by_role("heading", name="Log in to the ward board")).to_be_visible()

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#login-error")).to_have_text("Unable to log in with provided credentials.")

    login(page, alice)
    expect(page.get_by_text("No patient is admitted")).to_be_visible()

    page.get_by_role("button", name="Add patient").click()
    dialog = page.get_by_role("dialog", name="Add a patient")
    dialog.get_by_label("First name").fill("Lan")
    dialog.get_by_label("Last name").fill("Pham")
    dialog.get_by_role("button", name="Add patient").click()
    expect(dialog).to_have_count(0)
    lan = page.locator("article.card", has_text="Lan Pham")
    expect(lan).to_be_visible()
    expect(lan.locator('[data-field="phase"]')).to_have_text("no report")

    lan.get_by_role("link", name="Lan Pham").click()
    expect(page.get_by_role("heading", name=re.compile("Lan Pham"))).to_be_visible()
    page.get_by_role("button", name="Add observation").click()
    form = page.get_by_role("dialog", name=re.compile("New observation"))
    field(form, "day_of_fever").fill("3")
    field(form, "fever").fill("38.6")
    field(form, "pulse").fill("104")
    field(form, "bp_systolic").fill("110")
    field(form, "bp_diastolic").fill("80")
    field(form, "oral_fluids").fill("500")
    field(form, "urine_output").fill("200")
    field(form, "monitoring_interval").fill("2")
    form.get_by_role("button", name="Save observation").click()
    expect(form).to_have_count(0)

    column = page.locator("table.obs thead th[data-report-id]")
    expect(column).to_have_count(1)
    report_id = int(column.get_attribute("data-report-id"))
    expect(column).to_contain_text("Day 3")
    expect(cell(page, report_id, "fever")).to_have_text("38.60")
    expect(cell(page, report_id, "pulse")).to_have_text("104")
    expect(cell(page, report_id, "bp")).to_have_text("110/80")
    expect(cell(page, report_id, "fluid_balance")).to_have_text("+300")
    expect(cell(page, report_id, "created_by")).to_have_text("alice (you)")
    expect(page.locator('[data-chart="temp-pulse"] circle')).to_have_count(1)

    page.get_by_role("link", name="← Ward overview").click()
    expect(lan.locator('[data-field="phase"]')).to_have_text("febrile")
    expect(lan.locator('[data-field="day"]')).to_have_text("Day 3 of illness")
    expect(lan.locator('[data-field="balance24"]')).to_have_text("+300 ml")
    expect(lan.locator('[data-field="due"]')).to_have_text(re.compile(r"^in 1 h 5\d min$"))
    expect(lan).to_contain_text("38.60 °C")
    sockets = page.evaluate("window.__sockets.map(s => [s.url, s.readyState])")
    assert len(sockets) == 1 and sockets[0][1] == 1, f"one open WebSocket for the page: {sockets}"
    assert re.search(r"/ws/\?token=[0-9a-f]{40}$", sockets[0][0]), sockets


def test_a_change_made_on_one_screen_appears_on_another_within_a_second(new_page, make_user) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    page_a, page_b = new_page(), new_page()
    login(page_a, alice)
    login(page_b, bob)

    page_a.get_by_role("button", name="Add patient").click()
    dialog = page_a.get_by_role("dialog", name="Add a patient")
    field(dialog, "first_name").fill("Hoa")
    field(dialog, "last_name").fill("Tran")
    dialog.get_by_role("button", name="Add patient").click()
    expect(dialog).to_have_count(0)
    hoa_b = page_b.locator("article.card", has_text="Hoa Tran")
    expect(hoa_b).to_be_visible(timeout=1000)

    hoa_a = page_a.locator("article.card", has_text="Hoa Tran")
    hoa_a.get_by_role("button", name="Add observation").click()
    form = page_a.get_by_role("dialog", name=re.compile("New observation"))
    field(form, "status").select_option("critical")
    field(form, "fever").fill("39.4")
    form.get_by_role("button", name="Save observation").click()
    expect(form).to_have_count(0)
    expect(hoa_b.locator('[data-field="phase"]')).to_have_text("critical", timeout=1000)
    expect(hoa_b).to_contain_text("39.40 °C", timeout=1000)
    expect(hoa_b).to_have_attribute("data-phase", "critical")


def test_warning_signs_raise_a_toast_elsewhere_and_an_acknowledge_clears_it_everywhere(new_page, make_user) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    page_a, page_b = new_page(), new_page()
    login(page_a, alice)
    login(page_b, bob)
    patient = rest(
        base_url(page_a),
        alice,
        "POST",
        "/api/patients/",
        {"first_name": "Minh", "last_name": "Vo", "admission_date": iso(600)},
    )
    expect(card(page_b, patient["id"])).to_be_visible()

    page_a.goto(f"/#/patients/{patient['id']}")
    expect_live(page_a)
    page_a.get_by_role("button", name="Add observation").click()
    form = page_a.get_by_role("dialog", name=re.compile("New observation"))
    field(form, "warning_signs").fill("bleeding gums")
    form.get_by_role("button", name="Save observation").click()
    expect(form).to_have_count(0)

    toast_b = page_b.locator("#toasts .toast", has_text="Warning signs recorded: bleeding gums")
    expect(toast_b).to_be_visible(timeout=1000)
    expect(toast_b).to_contain_text("Minh Vo")
    expect(toast_b).to_have_attribute("data-severity", "critical")
    note_b = card(page_b, patient["id"]).locator(".note", has_text="bleeding gums")
    expect(note_b).to_be_visible()
    toast_a = page_a.locator("#toasts .toast", has_text="bleeding gums")
    expect(toast_a).to_be_visible()
    note_a = page_a.locator("section.panel .note", has_text="bleeding gums")
    expect(note_a).to_be_visible()

    toast_b.get_by_role("button", name="Acknowledge").click()
    expect(toast_b).to_have_count(0)
    expect(note_b).to_have_count(0)
    expect(toast_a).to_have_count(0, timeout=1000)
    expect(note_a).to_have_count(0, timeout=1000)
    assert rest(base_url(page_a), alice, "GET", "/api/notifications/?acknowledged=false") == []


def open_patient_with_report(new_page, account: Any, **report: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    page = new_page()
    login(page, account)
    base = base_url(page)
    patient = rest(
        base,
        account,
        "POST",
        "/api/patients/",
        {"first_name": "Thu", "last_name": "Le", "admission_date": iso(24 * 60)},
    )
    created = rest(
        base,
        account,
        "POST",
        "/api/reports/",
        {
            "patient": patient["id"],
            "time": iso(60),
            "status": "febrile",
            "monitoring_interval": 4,
            "day_of_fever": 4,
            **report,
        },
    )
    page.goto(f"/#/patients/{patient['id']}")
    expect_live(page)
    return page, patient, created


def test_an_edit_shows_in_the_history_and_an_older_version_can_be_restored(new_page, alice) -> None:
    page, _, report = open_patient_with_report(new_page, alice, pulse=90, fever="38.20")
    pulse = cell(page, report["id"], "pulse")
    expect(pulse).to_have_text("90")

    page.get_by_role("button", name=re.compile("^Edit observation")).click()
    form = page.get_by_role("dialog", name="Edit observation")
    expect(field(form, "pulse")).to_have_value("90")
    field(form, "pulse").fill("120")
    form.get_by_role("button", name="Save").click()
    expect(form).to_have_count(0)
    expect(pulse).to_have_text("120")
    expect(cell(page, report["id"], "fever")).to_have_text("38.20")  # a PUT of the whole form keeps the rest

    page.get_by_role("button", name=re.compile("^History of observation")).click()
    history = page.get_by_role("dialog", name=re.compile("History of the observation"))
    entries = history.locator("li[data-history-id]")
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_contain_text("Changed")
    expect(entries.nth(0).locator('[data-field="pulse"]')).to_have_text("Pulse: 90 → 120")
    expect(entries.nth(0).locator(".changes li")).to_have_count(1)  # the time (with seconds) came back unchanged
    expect(entries.nth(1)).to_contain_text("Created")
    expect(entries.nth(1)).to_contain_text("alice (you)")

    entries.nth(1).get_by_role("button", name="Restore this version").click()
    expect(pulse).to_have_text("90")
    expect(entries).to_have_count(3)
    expect(entries.nth(0)).to_contain_text(re.compile(r"Restored from history \d+"))
    expect(entries.nth(0).locator('[data-field="pulse"]')).to_have_text("Pulse: 120 → 90")
    assert rest(base_url(page), alice, "GET", f"/api/reports/{report['id']}/")["pulse"] == 90


def test_server_validation_errors_are_shown_next_to_their_fields(new_page, alice) -> None:
    page, patient, report = open_patient_with_report(new_page, alice)
    page.get_by_role("button", name="Add observation").click()
    form = page.get_by_role("dialog", name=re.compile("New observation"))
    field(form, "fever").fill("50")
    field(form, "bp_systolic").fill("80")
    field(form, "bp_diastolic").fill("95")
    form.get_by_role("button", name="Save observation").click()

    fever_error = form.locator('[data-error-for="fever"]')
    expect(fever_error).to_have_text("Ensure this value is less than or equal to 45.")
    expect(field(form, "fever")).to_have_attribute("aria-invalid", "true")
    expect(field(form, "fever")).to_have_attribute("aria-describedby", fever_error.get_attribute("id"))

    field(form, "fever").fill("39")
    form.get_by_role("button", name="Save observation").click()
    expect(form.locator('[data-error-for="bp_diastolic"]')).to_have_text(
        "The diastolic pressure must not be above the systolic pressure."
    )
    expect(fever_error).to_be_hidden()
    expect(page.locator("table.obs thead th[data-report-id]")).to_have_count(1)  # nothing saved

    form.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Edit patient").click()
    edit = page.get_by_role("dialog", name="Edit Thu Le")
    field(edit, "first_name").fill("")
    edit.get_by_role("button", name="Save").click()
    expect(edit.locator('[data-error-for="first_name"]')).to_have_text("This field may not be blank.")
    assert rest(base_url(page), alice, "GET", f"/api/patients/{patient['id']}/")["first_name"] == "Thu"


def drop_connection(page: Any) -> None:
    """Go offline and close the live socket, as a lost network would."""
    page.context.set_offline(True)
    page.evaluate("window.__sockets.at(-1).close()")
    expect(page.locator("#offline-banner")).to_be_visible()
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "offline")


def test_after_a_dropped_connection_the_page_resumes_and_shows_what_changed_meanwhile(new_page, make_user) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    page = new_page()
    login(page, alice)
    base = base_url(page)
    first = rest(
        base, bob, "POST", "/api/patients/", {"first_name": "Before", "last_name": "Drop", "admission_date": iso(90)}
    )
    expect(card(page, first["id"])).to_be_visible()
    snapshots: list[str] = []
    page.on("request", lambda r: snapshots.append(r.url) if "/api/patients/" in r.url else None)

    drop_connection(page)
    during = rest(
        base, bob, "POST", "/api/patients/", {"first_name": "During", "last_name": "Drop", "admission_date": iso(5)}
    )
    report = rest(
        base,
        bob,
        "POST",
        "/api/reports/",
        {"patient": first["id"], "time": iso(1), "monitoring_interval": 6, "status": "recovery"},
    )
    page.context.set_offline(False)

    expect(card(page, during["id"])).to_be_visible()
    expect(card(page, first["id"]).locator('[data-field="phase"]')).to_have_text("recovery")
    expect(page.locator("#offline-banner")).to_be_hidden()
    urls = page.evaluate("window.__sockets.map(s => s.url)")
    assert len(urls) >= 2 and "since=" not in urls[0]
    assert re.search(r"[?&]since=\d+", urls[-1]), urls
    assert snapshots == [], "resumed from the missed events, without reloading everything"
    assert report["id"]


def test_a_410_after_reconnecting_reloads_everything(new_page, make_user, sql) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    page = new_page()
    login(page, alice)
    base = base_url(page)
    kept = rest(
        base, bob, "POST", "/api/patients/", {"first_name": "Kept", "last_name": "One", "admission_date": iso(30)}
    )
    expect(card(page, kept["id"])).to_be_visible()
    snapshots: list[str] = []
    page.on("request", lambda r: snapshots.append(r.url) if "/api/patients/" in r.url else None)

    drop_connection(page)
    rest(base, bob, "DELETE", f"/api/patients/{kept['id']}/")
    new = rest(
        base, bob, "POST", "/api/patients/", {"first_name": "After", "last_name": "Prune", "admission_date": iso(1)}
    )
    sql("UPDATE event_horizon SET pruned_through = (SELECT max(id) FROM events)")  # the page's since is now too old
    page.context.set_offline(False)

    expect(card(page, new["id"])).to_be_visible()
    expect(card(page, kept["id"])).to_have_count(0)
    expect(page.locator("#offline-banner")).to_be_hidden()
    assert snapshots, "a 410 makes the page reload its data"
    assert all("ward=1" in url and "admitted=true" in url for url in snapshots), "the ward's, not everything"


def test_deleting_asks_first_and_a_deleted_report_can_be_restored(new_page, alice) -> None:
    page, patient, report = open_patient_with_report(new_page, alice, pulse=77)
    columns = page.locator("table.obs thead th[data-report-id]")
    expect(columns).to_have_count(1)

    page.get_by_role("button", name=re.compile("^Delete observation")).click()
    confirm = page.get_by_role("dialog", name="Please confirm")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_have_count(0)
    expect(columns).to_have_count(1)

    page.get_by_role("button", name=re.compile("^Delete observation")).click()
    confirm.get_by_role("button", name="Delete observation").click()
    expect(columns).to_have_count(0)

    page.get_by_role("button", name="Deleted observations").click()
    deleted = page.get_by_role("dialog", name=re.compile("Deleted observations of Thu Le"))
    row = deleted.locator(f'li[data-report-id="{report["id"]}"]')
    expect(row).to_contain_text("deleted")
    row.get_by_role("button", name="Restore").click()
    expect(columns).to_have_count(1)
    expect(cell(page, report["id"], "pulse")).to_have_text("77")
    expect(deleted.get_by_text("No deleted observation.")).to_be_visible()
    deleted.get_by_role("button", name="Close").click()

    page.get_by_role("button", name="Delete patient").click()
    page.get_by_role("dialog", name="Please confirm").get_by_role("button", name="Delete patient").click()
    expect(page.get_by_role("heading", name=re.compile("^Dengue ward"))).to_be_visible()  # the ward's overview
    expect(card(page, patient["id"])).to_have_count(0)
    assert rest(base_url(page), alice, "GET", "/api/patients/") == []


def test_the_session_survives_a_reload_and_logout_ends_it(new_page, alice) -> None:
    page = new_page()
    login(page, alice)
    page.reload()
    expect_live(page)
    expect(page.locator("#who")).to_have_text("Signed in as alice")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to the ward board")).to_be_visible()
    expect(page.locator("#login-error")).to_have_text("You have logged out.")
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_role("heading", name="Log in to the ward board")).to_be_visible()


def test_the_board_runs_under_its_content_security_policy(new_page, alice, csp_violations) -> None:
    """No inline script or style: the board logs in and shows a patient's
    charts, observations and forms without one CSP violation (the new_page
    fixture fails any test that has one; this test looks at every view)."""
    page, patient, report = open_patient_with_report(new_page, alice, pulse=96, fever="38.40", status="critical")
    expect(cell(page, report["id"], "pulse")).to_have_text("96")
    expect(page.locator('[data-chart="temp-pulse"] circle')).to_have_count(1)
    expect(page.locator(".legend span").first).to_be_visible()
    expect(page.locator("table.obs .actions-center").first).to_be_visible()
    page.get_by_role("button", name="Add observation").click()
    form = page.get_by_role("dialog", name=re.compile("New observation"))
    form.get_by_role("button", name="Cancel").click()
    page.get_by_role("link", name="← Ward overview").click()
    expect(card(page, patient["id"])).to_be_visible()
    response = page.reload()
    assert response.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
    assert response.headers["x-content-type-options"] == "nosniff"
    expect_live(page)
    expect(card(page, patient["id"])).to_be_visible()
    assert csp_violations == []


def test_swagger_ui_runs_under_the_content_security_policy(new_page, csp_violations) -> None:
    page = new_page(path="/swagger/")
    expect(page.locator("#swagger-ui .info .title")).to_contain_text("Dengue Ward")
    expect(page.locator("#swagger-ui .opblock").first).to_be_visible()
    page.locator("#swagger-ui .opblock-summary").first.click()
    expect(page.locator("#swagger-ui .opblock-body").first).to_be_visible()
    assert csp_violations == []
