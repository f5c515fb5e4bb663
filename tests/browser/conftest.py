"""Browser tests of the ward board: the real service in a subprocess, driven
by Playwright (Python) with Debian's Chromium.

Needs ``playwright`` (requirements/local.txt) and ``/usr/bin/chromium``
(``apt-get install -y chromium``). Playwright's own browser download is not
used. Missing either one fails these tests with a message saying so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..servers import Process, server

CHROMIUM = os.environ.get("BROWSER_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# Records every WebSocket the page opens, so a test can drop the live
# connection (window.__sockets.at(-1).close()) and see the URLs it used.
TRACK_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__sockets.push(this); }
  };
})();
"""


# Reports every Content-Security-Policy violation (a blocked inline style or
# script, a load from elsewhere) to the test through an exposed binding.
RECORD_CSP_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolation(`${e.effectiveDirective} refused ${e.blockedURI || 'inline'}`
    + ` at ${e.sourceFile || document.URL}:${e.lineNumber} ${e.sample}`);
}, true);
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(
            f"Browser tests need Playwright for Python ({exc}). Install it with "
            "`pip install -r requirements/local.txt` (it pins playwright).",
            pytrace=False,
        )
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Browser tests need Chromium at {CHROMIUM}. Install Debian's: "
            "`apt-get update && apt-get install -y chromium`.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def live_server(settings: Any) -> Iterator[Process]:
    """The real service (``python -m service serve``) on a free port, on the test database."""
    with server(settings) as process:
        yield process


@pytest.fixture
def csp_violations() -> list[str]:
    """The Content-Security-Policy violations of the test's pages, as they happen."""
    return []


@pytest.fixture
def new_page(browser: Any, live_server: Process, csp_violations: list[str]) -> Iterator[Callable[..., Any]]:
    """Open a page of the board in a fresh browser context (its own sessionStorage).

    Uncaught JavaScript errors and Content-Security-Policy violations on
    any page fail the test.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    contexts: list[Any] = []
    errors: list[str] = []
    violations = csp_violations

    def open_page(viewport: dict[str, int] = DESKTOP, path: str = "/", **options: Any) -> Any:
        context = browser.new_context(viewport=viewport, base_url=live_server.url, **options)
        context.set_default_timeout(10_000)
        context.add_init_script(TRACK_SOCKETS)
        context.expose_binding("__cspViolation", lambda source, text: violations.append(text))
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{exc}"))
        page.goto(path)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not violations, f"Content-Security-Policy violations: {violations}"
