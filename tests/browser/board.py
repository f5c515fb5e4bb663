"""Helpers for driving the ward board and for setting up data over REST."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from ..conftest import PASSWORD


def login(page: Any, account: Any) -> None:
    """Log in through the page's form and wait for the board."""
    from playwright.sync_api import expect

    page.get_by_label("Username").fill(account.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#who")).to_have_text(f"Signed in as {account.username}")
    expect_live(page)


def expect_live(page: Any, timeout: float = 10_000) -> None:
    """Wait until the page's WebSocket is open and its data loaded."""
    from playwright.sync_api import expect

    expect(page.locator("#conn-state")).to_have_attribute("data-state", "online", timeout=timeout)
    expect(page.locator("main .loading")).to_have_count(0, timeout=timeout)


def card(page: Any, patient_id: int) -> Any:
    return page.locator(f'article.card[data-patient-id="{patient_id}"]')


def cell(page: Any, report_id: int, field: str) -> Any:
    return page.locator(f'table.obs td[data-report-id="{report_id}"][data-field="{field}"]')


def rest(base: str, account: Any, method: str, path: str, body: Any = None) -> Any:
    """One REST call as ``account``; returns the decoded JSON (None for 204)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}{path}",
        data=data,
        method=method,
        headers={
            "Authorization": f"Token {account.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            text = resp.read()
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {path} -> {exc.code}: {exc.read().decode(errors='replace')}") from None
    return json.loads(text) if text else None
