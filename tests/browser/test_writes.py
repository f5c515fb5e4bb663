"""Writes that survive the real world: a record changed by someone else
meanwhile (If-Match, 412), a reply lost to a 503 (Idempotency-Key and
retries), a session ended elsewhere (4401), and tokens kept out of
localStorage."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from .board import cell, expect_live, login, rest
from .test_board import base_url, field, open_patient_with_report

pytestmark = pytest.mark.slow
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def on_post(route: Any, handle: Any) -> None:
    """Route the POSTs through ``handle``; everything else goes on."""
    if route.request.method == "POST":
        handle(route)
    else:
        route.continue_()


def test_a_change_made_meanwhile_is_shown_beside_the_input_instead_of_being_overwritten(new_page, alice) -> None:
    page_a, patient, report = open_patient_with_report(new_page, alice, pulse=90, fever="38.20")
    page_b = new_page()  # another screen (sessionStorage is per context: it logs in itself)
    login(page_b, alice)
    page_b.goto(f"/#/patients/{patient['id']}")
    expect_live(page_b)
    puts: list[Any] = []
    page_a.on("request", lambda r: puts.append(r) if r.method == "PUT" else None)

    page_a.get_by_role("button", name=re.compile("^Edit observation")).click()
    form_a = page_a.get_by_role("dialog", name="Edit observation")
    expect(field(form_a, "pulse")).to_have_value("90")  # read with its ETag when the form opened

    page_b.get_by_role("button", name=re.compile("^Edit observation")).click()
    form_b = page_b.get_by_role("dialog", name="Edit observation")
    expect(field(form_b, "pulse")).to_have_value("90")
    field(form_b, "pulse").fill("130")
    form_b.get_by_role("button", name="Save").click()
    expect(form_b).to_have_count(0)
    expect(cell(page_a, report["id"], "pulse")).to_have_text("130")  # live, behind A's dialog

    field(form_a, "fever").fill("38.9")
    form_a.get_by_role("button", name="Save").click()
    expect(form_a.locator(".form-error")).to_contain_text("Someone else changed this record since you opened it")
    conflict = form_a.locator('[data-conflict-for="pulse"]')
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("Saved meanwhile: 130")
    expect(form_a.locator('[data-conflict-for="fever"]')).to_contain_text("38.20")
    expect(field(form_a, "fever")).to_have_value("38.9")  # the nurse's input is kept
    expect(field(form_a, "pulse")).to_have_value("90")
    assert field(form_a, "pulse").get_attribute("aria-describedby").endswith(conflict.get_attribute("id"))
    assert rest(base_url(page_a), alice, "GET", f"/api/reports/{report['id']}/")["pulse"] == 130  # nothing lost

    conflict.get_by_role("button", name="Use the current Pulse").click()
    expect(field(form_a, "pulse")).to_have_value("130")
    expect(conflict).to_be_hidden()
    form_a.get_by_role("button", name="Save").click()
    expect(form_a).to_have_count(0)
    expect(cell(page_a, report["id"], "fever")).to_have_text("38.90")
    expect(cell(page_b, report["id"], "fever")).to_have_text("38.90")
    saved = rest(base_url(page_a), alice, "GET", f"/api/reports/{report['id']}/")
    assert (saved["pulse"], saved["fever"]) == (130, "38.90")
    assert len(puts) == 2
    assert puts[0].headers["if-match"] != puts[1].headers["if-match"]  # the second carries the ETag read after the 412
    assert all(re.fullmatch(r'"[0-9a-f]{32}"', p.headers["if-match"]) for p in puts)
    assert puts[0].headers["idempotency-key"] != puts[1].headers["idempotency-key"]  # other input, other action


def test_a_patient_edit_sends_if_match_too(new_page, alice) -> None:
    page, patient, _ = open_patient_with_report(new_page, alice)
    page.get_by_role("button", name="Edit patient").click()
    form = page.get_by_role("dialog", name="Edit Thu Le")
    expect(field(form, "first_name")).to_have_value("Thu")
    rest(base_url(page), alice, "PATCH", f"/api/patients/{patient['id']}/", {"last_name": "Lee"})
    field(form, "first_name").fill("Thuy")
    form.get_by_role("button", name="Save").click()
    expect(form.locator('[data-conflict-for="last_name"]')).to_contain_text("Saved meanwhile: Lee")
    expect(form.locator('[data-conflict-for="first_name"]')).to_contain_text("Saved meanwhile: Thu")
    expect(field(form, "last_name")).to_have_value("Le")
    form.get_by_role("button", name="Save").click()  # knowingly: the nurse's version wins
    expect(form).to_have_count(0)
    saved = rest(base_url(page), alice, "GET", f"/api/patients/{patient['id']}/")
    assert (saved["first_name"], saved["last_name"]) == ("Thuy", "Le")


def test_a_write_whose_reply_was_lost_is_retried_with_its_key_and_made_once(new_page, alice) -> None:
    page, patient, _ = open_patient_with_report(new_page, alice)
    posts: list[Any] = []
    replies: list[Any] = []

    def lose_the_first_reply(route: Any) -> None:
        posts.append(route.request)
        if len(posts) == 1:
            route.fetch()  # the server makes the report ...
            route.fulfill(  # ... but the page only sees a 503
                status=503,
                headers={"Content-Type": "application/json", "Retry-After": "2"},
                body=json.dumps({"detail": "The database is unavailable."}),
            )
        else:
            route.continue_()

    page.route(re.compile(r"/api/reports/$"), lambda route: on_post(route, lose_the_first_reply))
    page.on(
        "response", lambda r: replies.append(r) if r.request.method == "POST" and "/api/reports/" in r.url else None
    )

    page.get_by_role("button", name="Add observation").click()
    form = page.get_by_role("dialog", name=re.compile("New observation"))
    field(form, "pulse").fill("111")
    form.get_by_role("button", name="Save observation").click()
    banner = page.locator("#retry-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(
        "Saving the observation: the server answered 503. Trying again in 2 s (attempt 2 of 5)"
    )
    expect(form).to_have_count(0)
    expect(banner).to_be_hidden()

    assert len(posts) == 2
    keys = [p.headers["idempotency-key"] for p in posts]
    assert keys[0] == keys[1] and UUID.match(keys[0]), keys
    assert posts[0].post_data == posts[1].post_data
    assert replies[-1].status == 201 and replies[-1].headers.get("idempotent-replayed") == "true"
    made = rest(base_url(page), alice, "GET", f"/api/reports/?patient={patient['id']}")
    assert [r["pulse"] for r in made] == [111, None]  # this one, once, and the seeded one
    expect(page.locator('table.obs td[data-field="pulse"]', has_text="111")).to_have_count(1)


def test_writes_get_new_keys_and_a_failed_save_keeps_its_key_for_the_same_input(new_page, alice) -> None:
    page, patient, _ = open_patient_with_report(new_page, alice)
    posts: list[Any] = []

    def unreachable(route: Any) -> None:
        posts.append(route.request)
        if len(posts) == 1:
            route.abort("connectionreset")  # dropped: retried after about 1 s
        elif len(posts) <= 5:  # then busy, to the last attempt of the first Save
            route.fulfill(
                status=503,
                headers={"Content-Type": "application/json", "Retry-After": "0"},
                body=json.dumps({"detail": "The database is unavailable."}),
            )
        else:
            route.continue_()

    page.route(re.compile(r"/api/patients/$"), lambda route: on_post(route, unreachable))
    page.goto("/#/")
    expect_live(page)
    page.get_by_role("button", name="Add patient").click()
    dialog = page.get_by_role("dialog", name="Add a patient")
    field(dialog, "first_name").fill("Kim")
    field(dialog, "last_name").fill("Retry")
    dialog.get_by_role("button", name="Add patient").click()
    expect(page.locator("#retry-banner")).to_contain_text("Adding the patient: the server could not be reached")
    expect(dialog.locator(".form-error")).to_have_text("The database is unavailable.")
    assert len(posts) == 5  # a bounded number of attempts
    expect(field(dialog, "first_name")).to_have_value("Kim")  # nothing typed is lost
    dialog.get_by_role("button", name="Add patient").click()
    expect(dialog).to_have_count(0)
    keys = {p.headers["idempotency-key"] for p in posts}
    assert len(posts) == 6 and len(keys) == 1, "the same action (same input) keeps its key"
    names = [p["last_name"] for p in rest(base_url(page), alice, "GET", "/api/patients/")]
    assert names.count("Retry") == 1


def test_a_session_ended_elsewhere_sends_the_board_to_the_login_page(new_page, alice) -> None:
    page = new_page()
    login(page, alice)
    other = new_page()
    login(other, alice)
    ended = other.evaluate(
        """async () => {
            const token = sessionStorage.getItem('dengue-ward.token');
            const resp = await fetch('/rest-auth/sessions/end-others/', {
                method: 'POST', headers: {Authorization: `Token ${token}`, Accept: 'application/json'}});
            return [resp.status, await resp.json()];
        }"""
    )
    assert ended[0] == 200, ended
    expect(page.get_by_role("heading", name="Log in to the ward board")).to_be_visible(timeout=5_000)
    expect(page.locator("#login-error")).to_contain_text("Your session has ended")
    assert page.evaluate("sessionStorage.length") == 0
    sockets = page.evaluate("window.__sockets.map(s => s.readyState)")
    assert sockets == [3], f"closed, and not reopened: {sockets}"
    expect(other.locator("#conn-state")).to_have_attribute("data-state", "online")  # the other session lives on


def test_no_token_in_local_storage_neither_the_boards_nor_swagger_uis(new_page, alice) -> None:
    page = new_page()
    login(page, alice)
    assert page.evaluate("localStorage.length") == 0
    token = page.evaluate("sessionStorage.getItem('dengue-ward.token')")
    assert token and re.fullmatch(r"[0-9a-f]{40}", token)

    swagger = new_page(path="/swagger/")
    expect(swagger.locator("#swagger-ui .info .title")).to_contain_text("Dengue Ward")
    swagger.evaluate("localStorage.setItem('authorized', JSON.stringify({tokenAuth: {value: 'old'}}))")
    swagger.reload()  # what an earlier version left behind is removed
    expect(swagger.locator("#swagger-ui .info .title")).to_contain_text("Dengue Ward")
    assert swagger.evaluate("localStorage.getItem('authorized')") is None

    swagger.locator("#swagger-ui button.authorize").first.click()
    modal = swagger.locator(".dialog-ux .modal-ux")
    modal.locator("input").first.fill(f"Token {token}")
    modal.get_by_role("button", name="Authorize", exact=True).click()
    expect(modal.get_by_role("button", name="Logout")).to_be_visible()
    modal.get_by_role("button", name="Close").click()
    stored = swagger.evaluate("JSON.stringify(Object.entries(localStorage))")
    assert token not in stored and "authorized" not in stored, stored
