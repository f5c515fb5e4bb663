"""The Administration view (staff): wards and users, with the server's
validation messages beside the fields."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import pytest

from .board import login, rest
from .test_board import base_url, field

pytestmark = pytest.mark.slow
NEW_PASSWORD = "plum orchard at dusk 42"


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def can_log_in(base: str, username: str, password: str) -> bool:
    request = urllib.request.Request(
        f"{base}/rest-auth/login/",
        data=json.dumps({"username": username, "password": password}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status == 200
    except urllib.error.HTTPError as exc:
        assert exc.code == 400, exc.read()
        return False


def open_admin(page: Any) -> None:
    page.get_by_role("link", name="Administration").click()
    expect(page.get_by_role("heading", name="Administration")).to_be_visible()
    expect(page.locator(".admin-page .loading")).to_have_count(0)


def test_staff_create_and_rename_wards_and_the_picker_follows(new_page, make_user) -> None:
    boss = make_user("boss", staff=True)
    page = new_page()
    login(page, boss)
    open_admin(page)
    wards = page.locator("table.admin tr[data-ward-id]")
    expect(wards).to_have_count(1)

    page.get_by_role("button", name="Add ward").click()
    dialog = page.get_by_role("dialog", name="Add a ward")
    field(dialog, "name").fill("Dengue ward")
    dialog.get_by_role("button", name="Add ward").click()
    expect(dialog.locator('[data-error-for="name"]')).to_have_text("A ward with that name already exists.")
    field(dialog, "name").fill("East wing")
    dialog.get_by_role("button", name="Add ward").click()
    expect(dialog).to_have_count(0)
    east = page.locator("table.admin tr[data-ward-id]", has_text="East wing")
    expect(east).to_be_visible()
    picker = page.get_by_role("combobox", name="Ward")
    expect(picker.locator("option")).to_have_text(["Dengue ward", "East wing"])

    east.get_by_role("button", name="Rename East wing").click()
    rename = page.get_by_role("dialog", name="Rename East wing")
    expect(field(rename, "name")).to_have_value("East wing")
    field(rename, "name").fill("")
    rename.get_by_role("button", name="Rename").click()
    expect(rename.locator('[data-error-for="name"]')).to_have_text("This field may not be blank.")
    field(rename, "name").fill("East ward")
    rename.get_by_role("button", name="Rename").click()
    expect(rename).to_have_count(0)
    expect(east).to_have_count(0)
    expect(page.locator('table.admin tr[data-ward-id] [data-field="name"]')).to_have_text(["Dengue ward", "East ward"])
    expect(picker.locator("option")).to_have_text(["Dengue ward", "East ward"])
    names = sorted(w["name"] for w in rest(base_url(page), boss, "GET", "/api/wards/"))
    assert names == ["Dengue ward", "East ward"]

    picker.select_option(label="East ward")  # staff see every ward
    expect(page.get_by_role("heading", name=re.compile("^East ward"))).to_contain_text("0 admitted")


def test_staff_create_a_user_with_wards_reset_the_password_and_deactivate_them(new_page, make_user, sql) -> None:
    sql("INSERT INTO wards (name) VALUES ('North ward')")
    boss = make_user("boss", staff=True)
    page = new_page()
    login(page, boss)
    open_admin(page)
    base = base_url(page)

    page.get_by_role("button", name="Add user").click()
    dialog = page.get_by_role("dialog", name="Add a user")
    field(dialog, "username").fill("nora")
    field(dialog, "password").fill("password")
    field(dialog, "first_name").fill("Nora")
    field(dialog, "last_name").fill("Ngo")
    dialog.get_by_label("North ward").check()
    expect(dialog.get_by_label("Dengue ward")).to_be_checked()  # the ward shown is proposed
    expect(dialog.locator('[name="is_staff"]')).to_have_count(0)  # only superusers set the flags
    dialog.get_by_role("button", name="Add user").click()
    error = dialog.locator('[data-error-for="password"]')
    expect(error).to_contain_text("This password is too common.")
    expect(field(dialog, "password")).to_have_attribute("aria-invalid", "true")
    expect(field(dialog, "password")).to_have_attribute("aria-describedby", error.get_attribute("id"))
    field(dialog, "password").fill("a quiet violet lantern")
    dialog.get_by_role("button", name="Add user").click()
    expect(dialog).to_have_count(0)
    nora = page.locator('table.admin tr[data-username="nora"]')
    expect(nora).to_be_visible()
    expect(nora.locator('[data-field="wards"]')).to_have_text("Dengue ward, North ward")
    expect(nora.locator('[data-field="status"]')).to_have_text("Active")
    assert can_log_in(base, "nora", "a quiet violet lantern")

    nora.get_by_role("button", name="Reset the password of nora").click()
    reset = page.get_by_role("dialog", name="Reset the password of nora")
    field(reset, "password").fill("12345678")
    reset.get_by_role("button", name="Set password").click()
    expect(reset.locator('[data-error-for="password"]')).to_contain_text("This password is entirely numeric.")
    field(reset, "password").fill(NEW_PASSWORD)
    reset.get_by_role("button", name="Set password").click()
    expect(reset).to_have_count(0)
    expect(page.locator(".admin-status")).to_contain_text("nora: The password has been set")
    assert not can_log_in(base, "nora", "a quiet violet lantern")
    assert can_log_in(base, "nora", NEW_PASSWORD)

    nora.get_by_role("button", name="Edit nora").click()
    edit = page.get_by_role("dialog", name="Edit nora")
    expect(edit.get_by_label("North ward")).to_be_checked()
    edit.get_by_label("North ward").uncheck()
    field(edit, "email").fill("not an address")
    edit.get_by_role("button", name="Save").click()
    expect(edit.locator('[data-error-for="email"]')).to_have_text("Enter a valid email address.")
    field(edit, "email").fill("nora@example.org")
    edit.get_by_role("button", name="Save").click()
    expect(edit).to_have_count(0)
    expect(nora.locator('[data-field="wards"]')).to_have_text("Dengue ward")

    nora.get_by_role("button", name="Deactivate nora").click()
    page.get_by_role("dialog", name="Please confirm").get_by_role("button", name="Deactivate").click()
    expect(nora.locator('[data-field="status"]')).to_have_text("Deactivated")
    expect(nora.get_by_role("button", name="Reactivate nora")).to_be_visible()
    assert not can_log_in(base, "nora", NEW_PASSWORD)
    (saved,) = [u for u in rest(base, boss, "GET", "/api/users/") if u["username"] == "nora"]
    assert (saved["is_active"], saved["wards"], saved["email"]) == (False, [1], "nora@example.org")


def test_superusers_set_the_flags_and_clinicians_see_no_administration(new_page, make_user) -> None:
    root = make_user("root", superuser=True)
    page = new_page()
    login(page, root)
    open_admin(page)
    page.get_by_role("button", name="Add user").click()
    dialog = page.get_by_role("dialog", name="Add a user")
    field(dialog, "username").fill("sam")
    field(dialog, "password").fill("a quiet violet lantern")
    dialog.get_by_label("Staff: manages users and wards").check()
    dialog.get_by_role("button", name="Add user").click()
    expect(dialog).to_have_count(0)
    expect(page.locator('table.admin tr[data-username="sam"]')).to_contain_text("Staff")

    nurse = make_user("nurse")
    other = new_page()
    login(other, nurse)
    expect(other.get_by_role("link", name="Administration")).to_be_hidden()
    other.goto("/#/admin")
    expect(other.get_by_text("Only staff manage users and wards.")).to_be_visible()
