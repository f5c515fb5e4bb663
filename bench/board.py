"""The ward board in Chromium: how long until it is ready, what it
transferred, its JS heap, and how long a re-render takes.

Playwright (Python) drives Debian's /usr/bin/chromium, headless, with the
flags of tests/browser/conftest.py (no browser download). Each run is a
cold load in a fresh browser context: the user's session key is put in
sessionStorage before the page's scripts run, then "/" is opened.

- ready: the board's own ``performance`` entry named "board-ready" (a mark:
  its time; a measure: its end), or ``window.__board`` (recorded as it is),
  when the board exposes them; otherwise the time from navigation start
  until ``expected`` patient cards (``#main .card``) are in the DOM. Both
  are recorded when both exist.
- bytes: the sum of ``encodedDataLength`` of every HTTP response finished
  (CDP Network.loadingFinished: headers and body as they came over the
  wire) until ready, and until the network was idle; for a load that is
  not ready in time, what had arrived of the responses still coming in
  (Network.dataReceived) is added. WebSocket frames apart.
- heap: ``Runtime.getHeapUsage`` (CDP) once the board is ready, and again
  after a forced garbage collection (what the page keeps).
- re-render: "board-render" measures when the board records them (after a
  hashchange and after a change arriving over the socket); otherwise the
  synchronous time of the render a ``hashchange`` event triggers plus the
  forced layout after it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

CHROMIUM = "/usr/bin/chromium"
# The same flags as tests/browser/conftest.py.
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
    "--enable-precise-memory-info",
]
TOKEN_KEY = "dengue-ward.token"

READY_JS = """
(expected) => {
  const cards = Math.max(document.querySelectorAll('#main .card').length,
                         document.querySelectorAll('[data-patient-id]').length);
  const marks = performance.getEntriesByName('board-ready');
  const board = window.__board;
  const boardReady = board && (board.ready === true || typeof board.ready === 'number' || board.readyAt != null);
  if (cards >= expected || marks.length || boardReady) return { cards, t: performance.now() };
  return null;
}
"""

STATE_JS = """
() => {
  const entry = (e) => ({ type: e.entryType, start: e.startTime, duration: e.duration });
  let board = null;
  try {
    board = window.__board ? JSON.parse(JSON.stringify(window.__board)) : null;
  } catch { board = 'unserializable'; }
  const pm = performance.memory;
  const mem = pm ? { used: pm.usedJSHeapSize, total: pm.totalJSHeapSize } : null;
  return {
    cards: Math.max(document.querySelectorAll('#main .card').length,
                    document.querySelectorAll('[data-patient-id]').length),
    ready: performance.getEntriesByName('board-ready').map(entry),
    render: performance.getEntriesByName('board-render').map(entry),
    board, mem, now: performance.now(),
    error: document.querySelector('#app-error:not([hidden]), .form-error')?.textContent ?? null,
  };
}
"""

# A re-render through the router: render() runs inside dispatchEvent; the
# layout it causes is forced before the clock stops.
RERENDER_JS = """
async (times) => {
  const out = [];
  for (let i = 0; i < times; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    void document.body.offsetHeight;
    out.push(performance.now() - t0);
  }
  await new Promise((r) => setTimeout(r, 100));
  return out;
}
"""


def _ready_ms(state: dict[str, Any], polled: float | None) -> tuple[float | None, str]:
    """The ready time and where it came from."""
    marks = state.get("ready") or []
    if marks:
        last = marks[-1]
        return round(last["start"] + (last["duration"] or 0.0), 1), f"performance {last['type']} 'board-ready'"
    board = state.get("board")
    if isinstance(board, dict):
        for key in ("readyAt", "ready_ms", "readyMs", "ready"):
            value = board.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return round(float(value), 1), f"window.__board.{key}"
    return (round(polled, 1) if polled is not None else None), "time until the cards were in the DOM"


async def _one_load(
    browser: Any, base_url: str, token: str, expected: int, timeout_s: float, touch: Callable[[], Awaitable[None]]
) -> dict[str, Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base_url)
    errors: list[str] = []
    try:
        await context.add_init_script(
            f"try {{ sessionStorage.setItem({orjson.dumps(TOKEN_KEY).decode()}, {orjson.dumps(token).decode()}); }}"
            " catch (e) {}"
        )
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        cdp = await context.new_cdp_session(page)
        await cdp.send("Network.enable")
        responses: dict[str, str] = {}
        finished: list[tuple[float, str, int]] = []
        received: dict[str, int] = {}  # bytes of responses still coming in
        ws_bytes = [0, 0]

        def on_response(ev: dict[str, Any]) -> None:
            responses[ev["requestId"]] = ev["response"]["url"]

        def on_finished(ev: dict[str, Any]) -> None:
            finished.append((time.monotonic(), ev["requestId"], int(ev.get("encodedDataLength") or 0)))

        def on_data(ev: dict[str, Any]) -> None:
            rid = ev["requestId"]
            received[rid] = received.get(rid, 0) + int(ev.get("encodedDataLength") or 0)

        def on_frame(ev: dict[str, Any]) -> None:
            ws_bytes[0] += 1
            ws_bytes[1] += len(ev.get("response", {}).get("payloadData", ""))

        cdp.on("Network.responseReceived", on_response)
        cdp.on("Network.loadingFinished", on_finished)
        cdp.on("Network.dataReceived", on_data)
        cdp.on("Network.webSocketFrameReceived", on_frame)
        t0 = time.monotonic()
        await page.goto("/", wait_until="commit")
        polled: float | None = None
        timed_out = False
        try:
            handle = await page.wait_for_function(READY_JS, arg=expected, polling=10, timeout=timeout_s * 1000)
            got = await handle.json_value()
            polled = float(got["t"])
        except Exception as exc:  # playwright's TimeoutError, or the page crashed
            timed_out = True
            errors.append(f"not ready within {timeout_s:.0f} s: {type(exc).__name__}")
        t_ready = time.monotonic()
        done = {rid for _, rid, _ in finished}
        in_flight = sum(n for rid, n in received.items() if rid not in done)
        ready_bytes = sum(n for at, _, n in finished if at <= t_ready) + (in_flight if timed_out else 0)
        try:
            await page.wait_for_load_state("networkidle", timeout=10_000)
        except Exception:
            errors.append("the network was not idle 10 s after ready")
        state = await page.evaluate(STATE_JS)
        ready_ms, how = _ready_ms(state, polled)
        if timed_out:
            ready_ms = None
        heap = await cdp.send("Runtime.getHeapUsage")
        await cdp.send("HeapProfiler.collectGarbage")
        heap_gc = await cdp.send("Runtime.getHeapUsage")
        renders_before = len(state.get("render") or [])
        rerender: list[float] = []
        render_measures: list[float] = []
        if not timed_out:
            rerender = [round(x, 2) for x in await page.evaluate(RERENDER_JS, 5)]
            await touch()  # a change over the socket, if the board re-renders on it
            await asyncio.sleep(1.0)
            after = await page.evaluate(STATE_JS)
            render_measures = [round(e["duration"], 2) for e in (after.get("render") or [])[renders_before:]]
        per_url: dict[str, int] = {}
        for _, rid, n in finished:
            url = responses.get(rid, "?").replace(base_url, "")
            per_url[url] = per_url.get(url, 0) + n
        return {
            "ready_ms": ready_ms,
            "ready_source": how,
            "cards_ms": round(polled, 1) if polled is not None else None,
            "wall_s": round(t_ready - t0, 2),
            "cards": state.get("cards"),
            "bytes_at_ready": ready_bytes,
            "bytes_total": sum(n for _, _, n in finished) + in_flight,
            "bytes_in_flight_at_ready": in_flight,
            "requests": len(finished),
            "per_url": dict(sorted(per_url.items(), key=lambda kv: -kv[1])[:12]),
            "ws_frames": ws_bytes[0],
            "ws_bytes": ws_bytes[1],
            "heap_used": heap.get("usedSize"),
            "heap_used_after_gc": heap_gc.get("usedSize"),
            "performance_memory": state.get("mem"),
            "rerender_ms": rerender,
            "render_measures_ms": render_measures,
            "board": state.get("board"),
            "board_marks": {"ready": state.get("ready"), "render": state.get("render")},
            "page_error_banner": state.get("error"),
            "errors": errors[:5],
            "timed_out": timed_out,
        }
    finally:
        await context.close()


async def measure(
    base_url: str,
    token: str,
    expected: int,
    runs: int,
    timeout_s: float,
    touch: Callable[[], Awaitable[None]],
) -> dict[str, Any]:
    """``runs`` cold loads (fewer if one is not ready in time); medians and each run."""
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        return {"error": f"playwright is not installed ({exc}): pip install -r requirements/local.txt"}
    if not Path(CHROMIUM).exists():
        return {"error": f"no Chromium at {CHROMIUM}: apt-get install -y chromium"}
    loads: list[dict[str, Any]] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                load = await _one_load(browser, base_url, token, expected, timeout_s, touch)
                loads.append(load)
                print(
                    f"  board: ready {load['ready_ms']} ms ({load['ready_source']}), {load['cards']} cards,"
                    f" {load['bytes_at_ready']:,} B at ready / {load['bytes_total']:,} B in all,"
                    f" heap {load['heap_used']:,} B ({load['heap_used_after_gc']:,} after GC),"
                    f" re-render {load['rerender_ms']} ms, board-render {load['render_measures_ms']}"
                    + (f"; {load['errors']}" if load["errors"] else ""),
                    flush=True,
                )
                if load["timed_out"]:
                    break
        finally:
            await browser.close()

    def med(key: str) -> Any:
        values = [x[key] for x in loads if isinstance(x.get(key), (int, float))]
        return statistics.median(values) if values else None

    renders = [v for x in loads for v in (x["render_measures_ms"] or x["rerender_ms"])]
    from_board = any(x["render_measures_ms"] for x in loads)
    return {
        "expected_cards": expected,
        "runs": len(loads),
        "ready_ms": None if any(x["timed_out"] for x in loads) else med("ready_ms"),
        "ready_source": loads[-1]["ready_source"] if loads else None,
        "cards": loads[-1]["cards"] if loads else None,
        "bytes_at_ready": med("bytes_at_ready"),
        "bytes_total": med("bytes_total"),
        "heap_used": med("heap_used"),
        "heap_used_after_gc": med("heap_used_after_gc"),
        "rerender_p50_ms": round(statistics.median(renders), 2) if renders else None,
        "rerender_max_ms": round(max(renders), 2) if renders else None,
        "rerender_source": "board-render measures" if from_board else "hashchange render + forced layout",
        "timeout_s": timeout_s,
        "loads": loads,
    }
