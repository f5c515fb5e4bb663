"""Medians over rounds, ratios to the same-run limits, the targets of issue 7,
and the printed table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import median

# Fields where one bad round must show: the worst round is kept, not the median.
WORST = {
    "lost",
    "duplicates",
    "doubles",
    "errors",
    "non_2xx",
    "socket_errors",
    "sockets_lost",
    "connect_failed",
    "writer_late_writes",
    "writer_max_lateness_ms",
    "early",
    "failed",
}
ANY = {"writer_behind", "setup_overran", "aborted"}

MAIN_SECTIONS = ("rest", "ws", "fanout", "capacity", "reminders", "limits")
OWN_SERVER = ("scale", "wards", "logins", "loop")
SECTIONS = MAIN_SECTIONS + OWN_SERVER


def _merge(values: list[Any], key: str) -> Any:
    present = [v for v in values if v is not None]
    if not present:
        return None
    first = present[0]
    if isinstance(first, bool) or key in ANY:
        return any(bool(v) for v in present)
    if isinstance(first, (int, float)):
        nums = [v for v in present if isinstance(v, (int, float))]
        value = max(nums) if key in WORST else median(nums)
        if all(isinstance(v, int) for v in nums) and isinstance(value, float) and value.is_integer():
            value = int(value)
        return value
    if isinstance(first, dict):
        keys = list(dict.fromkeys(k for v in present if isinstance(v, dict) for k in v))
        return {k: _merge([v.get(k) for v in present if isinstance(v, dict)], k) for k in keys}
    return present[-1]  # lists and strings: the last round's


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per section, per scenario, per field: the median over rounds (worst for losses)."""
    out: dict[str, Any] = {}
    for section in SECTIONS:
        if section in OWN_SERVER:  # one run each: the last round's, as it was
            last = [r[section] for r in rounds if isinstance(r.get(section), dict)]
            if last:
                out[section] = last[-1]
            continue
        per = [r[section] for r in rounds if isinstance(r.get(section), dict)]
        if per:
            out[section] = _merge(per, section)
    ratios = [r.get("ratios") for r in rounds if r.get("ratios")]
    if ratios:
        out["ratios"] = _merge(ratios, "ratios")
    return out


def _get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def ratios(result: dict[str, Any]) -> dict[str, float]:
    """Each service figure ÷ the same-run limit measured on the same SQL / Redis."""
    out: dict[str, float] = {}
    limits = result.get("limits") or {}
    pg = {
        k[len("pgbench_") :]: v.get("tps")
        for k, v in limits.items()
        if k.startswith("pgbench_") and isinstance(v, dict)
    }
    publish = _get(limits, "redis_publish", "rps")
    for name, r in (result.get("rest") or {}).items():
        if not isinstance(r, dict) or not r.get("rps"):
            continue
        mode = r["mode"]
        base = {"create": "create_full", "retrieve": "retrieve", "list": "list", "patch": "patch"}[mode]
        if pg.get(base):
            out[f"{name}/pgbench_{base}"] = round(r["rps"] / pg[base], 3)
        if mode == "create" and pg.get("create_min"):
            out[f"{name}/pgbench_create_min"] = round(r["rps"] / pg["create_min"], 3)
    for name, r in (result.get("ws") or {}).items():
        if isinstance(r, dict) and r.get("rps") and pg.get(r["action"]):
            out[f"{name}/pgbench_{r['action']}"] = round(r["rps"] / pg[r["action"]], 3)
    for name, r in (result.get("fanout") or {}).items():
        if isinstance(r, dict) and r.get("deliveries_per_s") and publish:
            out[f"{name}_deliveries/redis_publish"] = round(r["deliveries_per_s"] / publish, 3)
    return out


def _best(rest: dict[str, Any], mode: str) -> tuple[str | None, dict[str, Any]]:
    rows = [(k, v) for k, v in rest.items() if isinstance(v, dict) and v.get("mode") == mode and v.get("rps")]
    if not rows:
        return None, {}
    return max(rows, key=lambda kv: kv[1]["rps"])


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 7's targets, judged on the medians (losses on the worst round)."""
    out: list[dict[str, Any]] = []

    def add(name: str, value: Any, goal: str, ok: bool | None, note: str = "") -> None:
        out.append(
            {
                "target": name,
                "value": value,
                "goal": goal,
                "result": "n/a" if ok is None else ("PASS" if ok else "FAIL"),
                "note": note,
            }
        )

    if not any(k in summary for k in OWN_SERVER) or any(k in summary for k in MAIN_SECTIONS):
        rest = summary.get("rest") or {}
        for mode, label, goal in (
            ("retrieve", "REST retrieve", 1500),
            ("create", "REST create report", 600),
            ("list", "REST list of 100", 500),
        ):
            name, r = _best(rest, mode)
            if name is None:
                add(label, None, f">= {goal} req/s", None, "not run")
                continue
            ok = r["rps"] >= goal and not r.get("errors")
            add(
                label,
                round(r["rps"], 1),
                f">= {goal} req/s",
                ok,
                f"best of the concurrencies: {name}; errors {r.get('errors')}",
            )

        fan = summary.get("fanout") or {}
        for n, goal in ((1000, 50), (5000, 250)):
            r = fan.get(f"fanout_n{n}")
            if not r:
                add(f"fan-out N={n} p99", None, f"<= {goal} ms", None, "not run")
                continue
            add(
                f"fan-out N={n} p99",
                r.get("p99_ms"),
                f"<= {goal} ms",
                r.get("p99_ms") is not None and r["p99_ms"] <= goal and r.get("subscribers") == n,
                f"subscribers {r.get('subscribers')}/{n}",
            )
        if fan:
            lost = sum((r.get("lost") or 0) + (r.get("duplicates") or 0) for r in fan.values() if isinstance(r, dict))
            sockets = sum(r.get("sockets_lost") or 0 for r in fan.values() if isinstance(r, dict))
            add(
                "fan-out frames lost",
                lost,
                "0 (all N)",
                lost == 0 and sockets == 0,
                "; ".join(
                    f"{k}: {r.get('delivered')}/{r.get('expected')}" for k, r in fan.items() if isinstance(r, dict)
                )
                + (f"; {sockets} sockets cut off" if sockets else ""),
            )
            late = max((r.get("writer_max_lateness_ms") or 0) for r in fan.values() if isinstance(r, dict))
            behind = any(r.get("writer_behind") for r in fan.values() if isinstance(r, dict))
            add(
                "fan-out writer on schedule",
                round(late, 1),
                "max lateness < 50 ms (half a period)",
                not behind,
                "worst write start after its 100 ms slot, over all N",
            )
        else:
            add("fan-out frames lost", None, "0", None, "not run")

        cap = summary.get("capacity") or {}
        if cap:
            per = cap.get("kib_per_session")
            held = cap.get("max_open")
            goal_n = min(20000, cap.get("cap") or 20000)
            asked = cap.get("requested_max") or 0
            add("idle sessions memory", per, "<= 40 KiB/session", per is not None and per <= 40, f"at {held} sessions")
            add(
                "idle sessions held",
                held,
                f">= {min(goal_n, asked):,} (20,000 capped by the fd limit {cap.get('fd_limit')})",
                None if asked < goal_n - 1000 else (held is not None and held >= min(goal_n, asked)),
                f"this run asked for {asked:,} only" if asked < goal_n - 1000 else "",
            )
        else:
            add("idle sessions memory", None, "<= 40 KiB/session", None, "not run")

        rem = summary.get("reminders") or {}
        if rem:
            db = rem.get("db") or {}
            add(
                "reminders p99 lateness",
                rem.get("p99_ms"),
                "<= 1000 ms",
                rem.get("p99_ms") is not None and rem["p99_ms"] <= 1000,
                f"at the client; in the database p99 {_f(db.get('p99_ms'), 1)} ms" if db else "at the client",
            )
            lost = rem.get("lost")
            add(
                "reminders lost",
                lost,
                "0",
                lost == 0 and (not db or db.get("patients_notified") == rem.get("expected")),
                f"received {rem.get('received')}/{rem.get('expected')}"
                + (f"; notified in the db {db.get('patients_notified')}" if db else ""),
            )
            doubles = max(rem.get("doubles") or 0, db.get("doubles") or 0)
            add("reminders doubled", doubles, "0", doubles == 0)
        else:
            add("reminders p99 lateness", None, "<= 1000 ms", None, "not run")
    scale_targets(summary.get("scale"), add)
    wards_targets(summary.get("wards"), add)
    logins_targets(summary.get("logins"), add)
    return out


Add = Callable[..., None]


def scale_targets(sc: dict[str, Any] | None, add: Add) -> None:
    """Issue 13: the board, pages at depth, a whole list at scale, ?patient=."""
    if not sc or "error" in sc:
        if sc:
            add("scale", None, "-", None, sc["error"])
        return
    at = f"at {sc['patients']:,} patients" + ("" if sc["patients"] >= 40_000 else " (the goal is set at C = 40,000)")
    b = sc.get("board") or {}
    if "error" in b:
        add("board ready (40 cards)", None, "<= 2000 ms", None, b["error"])
    else:
        ready = b.get("ready_ms")
        add(
            "board ready (40 cards)",
            ready,
            "<= 2000 ms",
            ready is not None and ready <= 2000,
            f"{b.get('ready_source')}; median of {b.get('runs')} cold loads"
            + ("" if ready is not None else f"; not ready within {b.get('timeout_s'):.0f} s, {b.get('cards')} cards"),
        )
        sent = b.get("bytes_at_ready")
        add(
            "board bytes transferred",
            sent,
            "<= 2,000,000 B",
            sent is not None and ready is not None and sent <= 2_000_000,
            "HTTP, until ready" + ("" if ready is not None else " (until the timeout)"),
        )
        rr = b.get("rerender_p50_ms")
        add(
            "board re-render",
            rr,
            "<= 50 ms",
            None if rr is None else rr <= 50,
            f"{b.get('rerender_source')}; max {_f(b.get('rerender_max_ms'), 1)} ms",
        )
    pages = [(k, v) for k, v in (sc.get("pages") or {}).items() if v.get("kind") == "cursor"]
    if pages:
        name, worst = max(pages, key=lambda kv: kv[1]["p50_ms"])
        add("cursor page, any depth", worst["p50_ms"], "<= 20 ms", worst["p50_ms"] <= 20, f"worst p50: {name}; {at}")
    full = (sc.get("lists") or {}).get("reports")
    if full:
        add(
            "whole /api/reports/: RSS",
            full["rss_growth_mib"],
            "<= 64 MiB growth",
            full["rss_growth_mib"] <= 64,
            f"{full['bytes']:,} B in {full['ms'] / 1000:.1f} s; {at}",
        )
        h = full["healthz"]
        add(
            "/healthz beside it",
            h["max_ms"],
            "<= 100 ms (max)",
            h["max_ms"] is not None and h["max_ms"] <= 100 and not h["failed"],
            f"p50 {_f(h['p50_ms'], 1)} p99 {_f(h['p99_ms'], 1)} ms over {h['n']} probes; {at}",
        )
    before, after = sc.get("patient_before") or {}, sc.get("patient_after") or {}
    if before.get("p50_ms") and after.get("p50_ms"):
        ok = after["p50_ms"] <= max(2 * before["p50_ms"], 10.0)
        add(
            "?patient= after whole loads",
            after["p50_ms"],
            "<= 2x fresh (or <= 10 ms)",
            ok,
            f"fresh server {before['p50_ms']} ms; after {(sc.get('reports_loads') or {}).get('count')} whole"
            " /api/reports/",
        )


def wards_targets(w: dict[str, Any] | None, add: Add) -> None:
    """Issue 14: one ward's change reaches its screens, and only them."""
    if not w:
        return
    if "error" in w:
        add("wards", None, "-", None, w["error"])
        return
    add(
        "ward's screens p99",
        w["p99_ms"],
        "<= 20 ms",
        w["p99_ms"] is not None and w["p99_ms"] <= 20,
        f"{w['watched_sockets']} sockets of ward 1; PATCH p50 {w['write_p50_ms']} ms is part of it",
    )
    lost = w["lost"] + w["duplicates"]
    add(
        "ward's frames lost",
        lost,
        "0",
        lost == 0 and not w["sockets_lost"],
        f"delivered {w['delivered']:,}/{w['expected']:,}; duplicates {w['duplicates']};"
        f" sockets cut {w['sockets_lost']}",
    )
    add(
        "frames at other wards",
        w["foreign_frames"],
        "0",
        w["foreign_frames"] == 0 and w["other_sockets"] == (w["wards"] - 1) * w["screens_per_ward"],
        f"counted at {w['other_sockets']:,} sockets of {w['wards'] - 1} other wards",
    )


def logins_targets(lg: dict[str, Any] | None, add: Add) -> None:
    """Issue 11: a burst of logins costs a bounded amount of memory and latency."""
    if not lg:
        return
    if "error" in lg:
        add("logins", None, "-", None, lg["error"])
        return
    add(
        f"{lg['parallel']} logins: RSS growth",
        lg["rss_growth_mib"],
        "<= 150 MiB",
        lg["rss_growth_mib"] <= 150,
        f"{lg['rss_before_kib'] / 1024:.1f} -> {lg['rss_peak_kib'] / 1024:.1f} MiB",
    )
    add(
        f"{lg['parallel']} logins: list p50",
        lg["p50_ratio"],
        "<= 2x alone",
        lg["p50_ratio"] is not None and lg["p50_ratio"] <= 2,
        f"GET /api/patients/ p50 {lg['p50_alone_ms']} ms alone, {lg['p50_beside_ms']} ms beside"
        f" (medians of {lg['rounds']} A/B rounds)",
    )
    add(
        "logins refused (503)",
        lg["logins_503"],
        "counted",
        None,
        f"of {sum(lg['logins'].values())} in {lg['waves']} waves: {lg['logins']}",
    )


# -- printing ----------------------------------------------------------------


def _f(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(summary: dict[str, Any], targets_: list[dict[str, Any]], rounds: int) -> str:
    lines: list[str] = []
    w = lines.append
    r_ = summary.get("ratios") or {}
    note = f" (median of {rounds} rounds)" if rounds > 1 else ""
    rest = summary.get("rest")
    if rest:
        w(f"REST, wrk, one server process{note}")
        w(
            f"  {'scenario':<20}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'errors':>8}{'srv CPU':>9}{'other':>7}{'srv ms':>8}{'pg ms':>7}  ratio"
        )
        w(
            "  (srv CPU, other: cores used by the server and by processes unrelated to the benchmark; srv ms, pg ms:"
            " CPU ms per request in the server and in PostgreSQL; ratio: req/s / pgbench tps of the same SQL)"
        )
        for name, r in rest.items():
            if not isinstance(r, dict) or "rps" not in r:
                w(f"  {name}: {r}")
                continue
            ratio = next(
                (
                    f"{v:.2f} x pgbench {k.split('/pgbench_')[1]}"
                    for k, v in r_.items()
                    if k.startswith(name + "/") and "create_min" not in k
                ),
                "",
            )
            w(
                f"  {r['mode']:<20}{r['connections']:>6}{_f(r['rps']):>10}"
                f"{_f(r['p50_ms'], 2):>9}{_f(r['p99_ms'], 2):>9}"
                f"{_f(r['errors']):>8}{_f(r.get('server_cpu'), 2):>9}{_f(_get(r, 'cpu', 'other'), 2):>7}"
                f"{_f(r.get('server_cpu_ms_per_req'), 2):>8}{_f(r.get('postgres_cpu_ms_per_req'), 2):>7}  {ratio}"
            )
    ws = summary.get("ws")
    if ws:
        w(f"WebSocket request/response{note}")
        w(
            f"  {'action':<20}{'socks':>6}{'rt/s':>10}{'p50 ms':>9}"
            f"{'p99 ms':>9}{'errors':>8}{'srv CPU':>9}{'other':>7}  ratio"
        )
        for name, r in ws.items():
            if not isinstance(r, dict) or "rps" not in r:
                w(f"  {name}: {r}")
                continue
            ratio = next(
                (f"{v:.2f} x pgbench {k.split('/pgbench_')[1]}" for k, v in r_.items() if k.startswith(name + "/")), ""
            )
            w(
                f"  {r['action']:<20}{r['sockets']:>6}{_f(r['rps']):>10}{_f(r['p50_ms'], 2):>9}{_f(r['p99_ms'], 2):>9}"
                f"{_f(r['errors']):>8}{_f(r.get('server_cpu'), 2):>9}{_f(_get(r, 'cpu', 'other'), 2):>7}"
                f"  client CPU max {_f(r.get('client_cpu_max'), 2)}"
            )
            if ratio:
                lines[-1] += f", {ratio}"
    fan = summary.get("fanout")
    if fan:
        w(f"Fan-out: one PATCH every 100 ms, delay write -> receipt{note}")
        w(
            f"  {'N':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'delivered/expected':>22}{'writer late':>13}"
            f"{'srv CPU':>9}{'other':>7}{'cli CPU':>9}{'cli lag':>9}{'PATCH50':>9}{'aft.p99':>9}  deliveries/s"
        )
        w(
            "  (PATCH50: the writer's request p50; aft.p99: p99 of the delay counted from the writer's response;"
            " cli CPU: cores of all load generators; cli lag: worst event-loop lag of one client process)"
        )
        for name, r in fan.items():
            if not isinstance(r, dict) or "p99_ms" not in r:
                w(f"  {name}: {r}")
                continue
            ratio = r_.get(f"{name}_deliveries/redis_publish")
            w(
                f"  {r['requested']:>6}{_f(r['p50_ms'], 2):>9}{_f(r['p99_ms'], 2):>9}{_f(r['max_ms'], 2):>9}"
                f"{_f(r['delivered']) + '/' + _f(r['expected']):>22}{_f(r['writer_max_lateness_ms'], 1) + ' ms':>13}"
                f"{_f(r.get('server_cpu'), 2):>9}{_f(_get(r, 'cpu', 'other'), 2):>7}"
                f"{_f(_get(r, 'cpu', 'clients'), 2):>9}"
                f"{_f(r.get('client_loop_lag_max_ms'), 0) + ' ms':>9}{_f(r.get('write_p50_ms'), 1):>9}"
                f"{_f(r.get('after_response_p99_ms'), 1):>9}  {_f(r.get('deliveries_per_s'), 0)}"
                + (f" ({ratio:.3f} x redis PUBLISH/s)" if ratio else "")
            )
    cap = summary.get("capacity")
    if cap:
        how = (
            "fresh server process"
            if cap.get("fresh_process")
            else "the running server: memory freed by earlier scenarios is reused, so this underestimates"
        )
        w(f"Idle sessions ({how}; fd limit {_f(cap.get('fd_limit'))}){note}")
        w(f"  base RSS {_f(cap.get('rss_base_kib'))} KiB")
        w(f"  {'sessions':>9}{'RSS KiB':>12}{'KiB/session':>13}{'connect s':>11}")
        for s in cap.get("steps") or []:
            w(
                f"  {_f(s['open']):>9}{_f(s['rss_kib']):>12}"
                f"{_f(s['kib_per_session'], 2):>13}{_f(s['connect_seconds'], 1):>11}"
                + (f"  failed {s['failed']}: {s['errors']}" if s.get("failed") else "")
            )
    rem = summary.get("reminders")
    if rem:
        db = rem.get("db") or {}
        w(f"Reminders: {rem.get('expected')} due within {rem.get('spread_seconds')} s{note}")
        w(
            f"  at the client: p50 {_f(rem.get('p50_ms'))} ms  p99 "
            f"{_f(rem.get('p99_ms'))} ms  max {_f(rem.get('max_ms'))} ms"
            f"  received {_f(rem.get('received'))}/{_f(rem.get('expected'))}  doubles {_f(rem.get('doubles'))}"
        )
        if db:
            w(
                f"  in the database (created_at - run_at): p50 {_f(db.get('p50_ms'))} ms  p99 {_f(db.get('p99_ms'))} ms"
                f"  max {_f(db.get('max_ms'))} ms  notified "
                f"{_f(db.get('patients_notified'))}  doubles {_f(db.get('doubles'))}"
            )
        if rem.get("setup_overran"):
            w(
                "  WARNING: creating the reports took longer than the"
                " lead time; early reminders were due before they existed"
            )
    lim = summary.get("limits")
    if lim:
        w(f"Limits of this machine, same run{note}")
        rp = lim.get("redis_publish") or {}
        if rp:
            w(
                f"  redis-benchmark PUBLISH -c 16: {_f(rp.get('rps'))} req/s  p50 {_f(rp.get('p50_ms'), 3)} ms"
                f"  p99 {_f(rp.get('p99_ms'), 3)} ms"
            )
        for k, v in lim.items():
            if k.startswith("pgbench_") and isinstance(v, dict):
                w(
                    f"  pgbench {k[8:]:<20} -c {v.get('clients')}: "
                    f"{_f(v.get('tps'))} tps  avg {_f(v.get('latency_avg_ms'), 2)} ms"
                    f"  p50 {_f(v.get('p50_ms'), 2)} ms  p99 {_f(v.get('p99_ms'), 2)} ms"
                    + (
                        f"  PG CPU {_f(v.get('postgres_cpu_ms_per_tx'), 2)} ms/tx"
                        if v.get("postgres_cpu_ms_per_tx")
                        else ""
                    )
                    + ("  ABORTED" if v.get("aborted") else "")
                )
    table_scale(summary.get("scale"), w)
    table_wards(summary.get("wards"), w)
    table_logins(summary.get("logins"), w)
    table_loop(summary.get("loop"), w)
    if targets_:
        w("Targets (issues 7, 11, 13, 14)")
        for t in targets_:
            w(
                f"  {t['result']:<5} {t['target']:<28} {_f(t['value'], 1):>10}   goal {t['goal']}"
                + (f"   [{t['note']}]" if t.get("note") else "")
            )
    return "\n".join(lines)


def _mib(kib: Any) -> str:
    return "-" if kib is None else f"{kib / 1024:,.1f}"


def table_scale(sc: dict[str, Any] | None, w: Callable[[str], None]) -> None:
    if not sc:
        return
    if "error" in sc:
        w(f"Scale: {sc['error']}")
        return
    seed = sc["seed"]
    how = (
        f"reused (seeded {seed.get('seeded_at', '')[:16]} in {seed['seconds']} s)"
        if seed.get("reused")
        else f"seeded in {seed['seconds']} s"
    )
    w(
        f"Scale: {seed['patients']:,} patients, {seed['reports']:,} reports, {seed['history']:,} history rows,"
        f" {seed['notifications']:,} notifications; {sc['database']} {how}"
    )
    b = sc.get("board") or {}
    if "error" in b:
        w(f"  board: {b['error']}")
    elif b:
        w(
            f"  board in Chromium (ward 1's nurse, {b['runs']} cold loads, medians): ready {_f(b['ready_ms'])} ms"
            f" ({b['ready_source']}), {b['cards']} cards; {_f(b['bytes_at_ready'])} B until ready,"
            f" {_f(b['bytes_total'])} B in all; JS heap {_mib((b['heap_used'] or 0) / 1024)} MiB"
            f" ({_mib((b['heap_used_after_gc'] or 0) / 1024)} after GC); re-render p50 {_f(b['rerender_p50_ms'], 1)} ms"
            f" max {_f(b['rerender_max_ms'], 1)} ms ({b['rerender_source']})"
        )
        for load in b.get("loads") or []:
            if load.get("errors"):
                w(f"    {load['errors']}")
    lists = sc.get("lists") or {}
    if lists:
        w(
            f"  {'whole list (curl)':<28}{'bytes':>15}{'1st byte ms':>12}{'total ms':>11}{'RSS MiB':>9}"
            f"{'+MiB':>7}{'healthz p50/p99/max ms':>26}"
        )
        for name, r in lists.items():
            h = r["healthz"]
            w(
                f"  {name:<28}{_f(r['bytes']):>15}{_f(r['first_byte_ms'], 1):>12}{_f(r['ms'], 1):>11}"
                f"{_mib(r['rss_peak_kib']):>9}{_f(r['rss_growth_mib'], 1):>7}"
                f"{_f(h['p50_ms'], 1) + ' / ' + _f(h['p99_ms'], 1) + ' / ' + _f(h['max_ms'], 1):>26}"
                + (f"  HTTP {r['status']}" if r["status"] != 200 else "")
            )
    pages = sc.get("pages") or {}
    if pages:
        w("  pages (10 GETs each, page_size 100): p50 / max ms")
        rows = list(pages.items())
        for i in range(0, len(rows), 3):
            w(
                "    "
                + "   ".join(
                    f"{name:<30}{_f(v['p50_ms'], 1):>6} /{_f(v['max_ms'], 1):>6}" for name, v in rows[i : i + 3]
                )
            )
    before, after = sc.get("patient_before") or {}, sc.get("patient_after") or {}
    if before:
        w(
            f"  ?patient= (whole list of one patient's reports, 5 patients x 5): p50 {_f(before.get('p50_ms'), 2)} ms"
            f" on a fresh server, {_f(after.get('p50_ms'), 2)} ms after"
            f" {(sc.get('reports_loads') or {}).get('count')} whole /api/reports/"
        )
    plans = sc.get("plans") or {}
    if plans:
        w(
            "  list_reports ?patient= in SQL after 10 whole-list executions on one connection: "
            + ", ".join(f"{k}: {_f(v.get('execution_ms'), 2)} ms" for k, v in plans.items())
        )
    d = sc.get("deletes")
    if d:
        w(
            f"  delete: a report p50 {_f(d['report_delete']['p50_ms'], 1)} ms"
            f" (max {_f(d['report_delete']['max_ms'], 1)}),"
            f" a patient with {d['reports_each']} reports p50 {_f(d['patient_delete']['p50_ms'], 1)} ms"
            f" (max {_f(d['patient_delete']['max_ms'], 1)})"
        )
    cpu = sc.get("cpu")
    if cpu:
        w(f"  CPU over the section (cores): {_cpu(cpu)}")


def _cpu(c: dict[str, Any]) -> str:
    top = ", ".join(f"{n} {v}" for n, v in c.get("other_top") or [])
    return (
        f"server {c.get('server')}, load generators {c.get('clients')}, postgres {c.get('postgres')},"
        f" other {c.get('other')} (of which other databases {c.get('other_postgres')}; seen: {top})"
    )


def table_wards(wd: dict[str, Any] | None, w: Callable[[str], None]) -> None:
    if not wd:
        return
    if "error" in wd:
        w(f"Wards: {wd['error']}")
        return
    w(
        f"Wards: {wd['wards']} x {wd['screens_per_ward']} screens ({wd['sockets_open']:,} sockets,"
        f" {wd['users_per_ward']} nurses per ward at {wd['sockets_per_user']} sockets each);"
        f" one PATCH in ward 1 every 100 ms, {wd['writes']} measured"
    )
    w(
        f"  ward 1: p50 {_f(wd['p50_ms'], 2)} ms  p99 {_f(wd['p99_ms'], 2)} ms  max {_f(wd['max_ms'], 2)} ms"
        f"  delivered {_f(wd['delivered'])}/{_f(wd['expected'])}  duplicates {wd['duplicates']}"
        f"  (PATCH p50 {_f(wd['write_p50_ms'], 1)} ms; p99 after the response {_f(wd['after_response_p99_ms'], 1)} ms)"
    )
    w(f"  the other {_f(wd['other_sockets'])} sockets: {wd['foreign_frames']} frames {wd['foreign_by_ward'] or ''}")
    if wd.get("cpu"):
        w(f"  CPU (cores): {_cpu(wd['cpu'])}")


def table_logins(lg: dict[str, Any] | None, w: Callable[[str], None]) -> None:
    if not lg:
        return
    if "error" in lg:
        w(f"Logins: {lg['error']}")
        return
    w(
        f"Logins: waves of {lg['parallel']} at once beside GET /api/patients/ (wrk, {lg['connections']} connections),"
        f" {lg['window_s']:g} s windows, A/B interleaved x {lg['rounds']}"
    )
    for i, (a, b) in enumerate(zip(lg["alone"], lg["beside"], strict=False)):
        w(
            f"  round {i + 1}: p50 alone {_f(a['p50_ms'], 1)} ms (other {_f(_get(a, 'cpu', 'other'), 2)} cores),"
            f" beside logins {_f(b['p50_ms'], 1)} ms (other {_f(_get(b, 'cpu', 'other'), 2)});"
            f" logins {b['logins']} in {b['waves']} waves"
        )
    w(
        f"  server RSS {_mib(lg['rss_before_kib'])} MiB before the first login, peak {_mib(lg['rss_peak_kib'])} MiB"
        f" (+{lg['rss_growth_mib']} MiB); logins p50 {_f(lg['login_p50_ms'], 0)} ms p99 {_f(lg['login_p99_ms'], 0)} ms"
    )


def table_loop(lp: dict[str, Any] | None, w: Callable[[str], None]) -> None:
    if not lp:
        return
    if "error" in lp:
        w(f"Loop: {lp['error']}")
        return
    w(
        f"Loop: asyncio against uvloop, the same server, A/B interleaved x {lp['rounds']}"
        f" (wrk {lp['connections']} connections, {lp['window_s']:g} s windows; fan-out to {lp['fanout']:,} sockets)"
    )
    a, b, r = lp["medians"]["asyncio"], lp["medians"]["uvloop"], lp["ratios"]
    for label, key in (
        ("list req/s", "list_rps"),
        ("list p99 ms", "list_p99_ms"),
        ("retrieve req/s", "retrieve_rps"),
        ("retrieve p99 ms", "retrieve_p99_ms"),
        ("create req/s", "create_rps"),
        ("create p99 ms", "create_p99_ms"),
        ("fan-out p50 ms", "fanout_p50_ms"),
        ("fan-out p99 ms", "fanout_p99_ms"),
    ):
        w(f"  {label:<16} asyncio {_f(a.get(key), 1):>9}  uvloop {_f(b.get(key), 1):>9}  ratio {_f(r.get(key), 2):>6}")
    w(f"  errors: asyncio {a['errors']}, uvloop {b['errors']}")
