"""A load-generating client process: ``python -m bench.loadgen``.

The orchestrator (bench/run.py) starts several of these, each far from the
server process, and drives them with one JSON command per line on stdin;
each command is answered with one JSON line on stdout. Everything here is
bounded in time and count and talks to 127.0.0.1 only.

The WebSocket client is a minimal asyncio protocol (RFC 6455, text frames,
no extensions) rather than aiohttp's, so that thousands of sockets per
process cost little CPU: an incoming frame is sliced out of the buffer and,
for fan-out, only the writer's tag is searched for in the bytes. Each
process reports its own CPU share and event-loop lag, which shows whether
the clients kept up.

Commands (``op``): connect, close_all, status, rr, fanout_start, fanout_count,
fanout_stop, listen_start, listen_stop, write_loop, probe_start, probe_stop,
login_waves, exit. A socket can be given a ``group`` at connect (the wards
scenario: the ward it watches); fanout_stop then also reports, per group,
the frames delivered and the text frames of any other kind ("foreign").
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

HANDSHAKE_LIMIT = 64 * 1024


def _mask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if n == 0:
        return payload
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked, unfragmented client frame."""
    n = len(payload)
    key = os.urandom(4)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + key + _mask(payload, key)


def _ignore(conn: WSClient, payload: bytes, now_ns: int) -> None:
    return None


class State:
    """What this process is doing; every socket reports its frames here."""

    def __init__(self) -> None:
        self.conns: list[WSClient] = []
        self.on_text: Callable[[WSClient, bytes, int], None] = _ignore
        self.lost = 0  # sockets closed by the server or the network
        self.frames = 0
        # fan-out
        self.tag = b'"last_name":"fanM'
        self.delays: list[int] = []
        self.seqs: list[int] = []
        self.per_seq: Counter[int] = Counter()
        # per socket group: tagged frames delivered, and every other text frame
        self.group_tagged: Counter[str] = Counter()
        self.group_other: Counter[str] = Counter()
        self.watch: str | None = None  # only this group's frames are timed; others only counted
        # notification listener
        self.notifications: list[tuple[int, str, int]] = []


STATE = State()


class WSClient(asyncio.Protocol):
    __slots__ = ("transport", "buf", "open", "handshake", "waiter", "expect", "closed", "request", "group")

    def __init__(self, request: bytes, group: str = "") -> None:
        self.request = request
        self.group = group
        self.transport: Any = None
        self.buf = bytearray()
        self.open = False
        self.closed = False
        self.handshake: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiter: asyncio.Future[bool] | None = None
        self.expect = -1

    # -- asyncio.Protocol --------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.open and not self.closed:
            STATE.lost += 1
        self.closed = True
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError("closed during the handshake"))
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("socket closed"))

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        buf = self.buf
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > HANDSHAKE_LIMIT:
                    self._fail("handshake response too long")
                return
            status_line = bytes(buf[: buf.find(b"\r\n")])
            if b" 101 " not in status_line + b" ":
                self._fail(status_line.decode("latin-1"))
                return
            del buf[: end + 4]
            self.open = True
            self.handshake.set_result(True)
        pos, n = 0, len(buf)
        on_text = STATE.on_text
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if n - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if b1 & 0x80:  # servers never mask; treat as a protocol error
                self._fail("masked server frame")
                return
            if n - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            opcode = b0 & 0x0F
            if opcode == 0x1:
                STATE.frames += 1
                on_text(self, payload, now)
            elif opcode == 0x9:  # ping -> pong (aiohttp's heartbeat)
                self.transport.write(client_frame(0xA, payload))
            elif opcode == 0x8:  # close: answer it and let the server close TCP
                self.closed = True
                if self.open:
                    STATE.lost += 1
                self.transport.write(client_frame(0x8, payload[:2]))
            # pong (0xA), binary (0x2) and continuation frames are not expected: ignored
        if pos:
            del buf[:pos]

    # -- helpers -----------------------------------------------------------
    def _fail(self, why: str) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.close()

    def send_text(self, payload: bytes) -> None:
        self.transport.write(client_frame(0x1, payload))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if self.open and not self.closed:
                self.closed = True
                self.transport.write(client_frame(0x8, (1000).to_bytes(2, "big")))
            self.transport.close()


def handshake_request(host: str, port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


# -- measurement helpers -----------------------------------------------------


class LagMeter:
    """Event-loop lag: how late a 10 ms timer fires (max and sum)."""

    def __init__(self) -> None:
        self.max_ms = 0.0
        self.task: asyncio.Task[None] | None = None
        self.cpu0 = 0.0
        self.wall0 = 0.0

    def start(self) -> None:
        self.max_ms = 0.0
        self.cpu0, self.wall0 = time.process_time(), time.monotonic()
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.01)
            self.max_ms = max(self.max_ms, (loop.time() - t - 0.01) * 1000)

    def stop(self) -> dict[str, float]:
        if self.task is not None:
            self.task.cancel()
            self.task = None
        wall = time.monotonic() - self.wall0
        return {
            "cpu_share": round((time.process_time() - self.cpu0) / wall, 3) if wall > 0 else 0.0,
            "max_loop_lag_ms": round(self.max_ms, 1),
            "wall_s": round(wall, 3),
        }


LAG = LagMeter()


# -- commands ----------------------------------------------------------------


async def op_connect(cmd: dict[str, Any]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    host, port, path = cmd.get("host", "127.0.0.1"), int(cmd["port"]), cmd["path"]
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("loopback only")
    n, parallel, timeout = int(cmd["n"]), int(cmd.get("parallel", 32)), float(cmd.get("timeout_s", 30))
    group = str(cmd.get("group", ""))
    sem = asyncio.Semaphore(parallel)
    errors: Counter[str] = Counter()
    t0 = time.monotonic()
    deadline = t0 + float(cmd.get("deadline", 120))

    async def one() -> None:
        async with sem:
            if time.monotonic() > deadline:
                errors["deadline"] += 1
                return
            proto: WSClient | None = None
            try:
                _, proto = await asyncio.wait_for(
                    loop.create_connection(lambda: WSClient(handshake_request(host, port, path), group), host, port),
                    timeout,
                )
                await asyncio.wait_for(proto.handshake, timeout)
                STATE.conns.append(proto)
            except Exception as exc:  # counted, reported
                errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
                if proto is not None:
                    proto.close()

    await asyncio.gather(*(one() for _ in range(n)))
    return {
        "connected": n - sum(errors.values()),
        "failed": sum(errors.values()),
        "errors": dict(errors),
        "seconds": round(time.monotonic() - t0, 3),
        "open": _open_count(),
    }


def _open_count() -> int:
    return sum(1 for c in STATE.conns if c.open and not c.closed)


async def op_close_all(cmd: dict[str, Any]) -> dict[str, Any]:
    conns, STATE.conns = STATE.conns, []
    for c in conns:
        c.close()
    await asyncio.sleep(0.2)
    STATE.on_text = _ignore
    STATE.lost = 0
    return {"closed": len(conns)}


async def op_status(cmd: dict[str, Any]) -> dict[str, Any]:
    return {
        "open": _open_count(),
        "lost": STATE.lost,
        "frames": STATE.frames,
        "notifications": len(STATE.notifications),
    }


def _rr_on_text(conn: WSClient, payload: bytes, now_ns: int) -> None:
    i = payload.rfind(b'"request_id":')
    if i < 0 or conn.waiter is None:
        return
    j = payload.find(b"}", i)
    try:
        rid = int(payload[i + 13 : j])
    except ValueError:
        return  # a broadcast (request_id null)
    if rid == conn.expect and not conn.waiter.done():
        conn.waiter.set_result(b'"response_status":200' in payload)


async def op_rr(cmd: dict[str, Any]) -> dict[str, Any]:
    """Sequential request/response round trips on each of this process's
    first ``sockets`` sockets, from ``start_at`` (wall clock): the first
    ``warmup`` seconds are not recorded, then ``duration`` seconds are."""
    stream, action = cmd["stream"], cmd["action"]
    pks: list[int] = cmd.get("pks") or [0]
    conns = [c for c in STATE.conns if c.open and not c.closed][: int(cmd["sockets"])]
    start_at = float(cmd["start_at"])
    warm_end = start_at + float(cmd["warmup"])
    end = warm_end + float(cmd["duration"])
    STATE.on_text = _rr_on_text
    latencies: list[int] = []
    errors: Counter[str] = Counter()
    rng = random.Random()
    loop = asyncio.get_running_loop()

    async def run(conn: WSClient, rid_base: int) -> None:
        rid = rid_base
        while True:
            now = time.time()
            if now >= end:
                return
            rid += 1
            payload: dict[str, Any] = {"action": action, "data": {}, "request_id": rid}
            if action != "list":
                payload["pk"] = rng.choice(pks)
            frame = orjson.dumps({"stream": stream, "payload": payload})
            conn.expect = rid
            conn.waiter = loop.create_future()
            t0 = time.perf_counter_ns()
            sent_at = time.time()
            conn.send_text(frame)
            try:
                ok = await asyncio.wait_for(conn.waiter, timeout=max(0.1, end + 5 - time.time()))
            except TimeoutError:
                errors["timeout"] += 1
                return
            except ConnectionError:
                errors["closed"] += 1
                return
            t1 = time.perf_counter_ns()
            if sent_at >= warm_end and time.time() <= end:
                latencies.append((t1 - t0) // 1000)
                if not ok:
                    errors["status"] += 1

    delay = start_at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    LAG.start()
    await asyncio.gather(*(run(c, i * 10_000_000) for i, c in enumerate(conns)))
    load = LAG.stop()
    STATE.on_text = _ignore
    return {"sockets": len(conns), "latencies_us": latencies, "errors": dict(errors), **load}


def _fanout_on_text(conn: WSClient, payload: bytes, now_ns: int) -> None:
    if STATE.watch is not None and conn.group != STATE.watch:
        STATE.group_other[conn.group] += 1  # a frame where none should arrive
        return
    i = payload.find(STATE.tag)
    if i < 0:
        STATE.group_other[conn.group] += 1
        return
    STATE.group_tagged[conn.group] += 1
    i += len(STATE.tag)
    j = payload.find(b'"', i)
    seq, _, sent = payload[i:j].partition(b"-")
    STATE.delays.append((now_ns - int(sent)) // 1000)
    STATE.seqs.append(int(seq))
    STATE.per_seq[int(seq)] += 1


async def op_fanout_start(cmd: dict[str, Any]) -> dict[str, Any]:
    STATE.delays = []
    STATE.seqs = []
    STATE.per_seq = Counter()
    STATE.group_tagged = Counter()
    STATE.group_other = Counter()
    STATE.watch = cmd.get("watch")
    STATE.lost = 0
    STATE.tag = b'"last_name":"' + str(cmd.get("tag", "fanM")).encode()
    STATE.on_text = _fanout_on_text
    LAG.start()
    return {"open": _open_count()}


async def op_fanout_count(cmd: dict[str, Any]) -> dict[str, Any]:
    return {"delivered": len(STATE.delays), "open": _open_count(), "lost_sockets": STATE.lost}


async def op_fanout_stop(cmd: dict[str, Any]) -> dict[str, Any]:
    STATE.on_text = _ignore
    STATE.watch = None
    load = LAG.stop()
    delays, STATE.delays = STATE.delays, []
    seqs, STATE.seqs = STATE.seqs, []
    per_seq, STATE.per_seq = STATE.per_seq, Counter()
    return {
        "delays_us": delays,
        "seqs": seqs,
        "per_seq": {str(k): v for k, v in per_seq.items()},
        "group_tagged": dict(STATE.group_tagged),
        "group_other": dict(STATE.group_other),
        "group_open": dict(Counter(c.group for c in STATE.conns if c.open and not c.closed)),
        "open": _open_count(),
        "lost_sockets": STATE.lost,
        **load,
    }


def _listen_on_text(conn: WSClient, payload: bytes, now_ns: int) -> None:
    if b'"stream":"notifications"' not in payload[:40]:
        return
    try:
        data = orjson.loads(payload)["payload"]["data"]
        STATE.notifications.append((int(data["patient"]), str(data["type"]), now_ns))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        pass


async def op_listen_start(cmd: dict[str, Any]) -> dict[str, Any]:
    STATE.notifications = []
    STATE.on_text = _listen_on_text
    return {"open": _open_count()}


async def op_listen_stop(cmd: dict[str, Any]) -> dict[str, Any]:
    STATE.on_text = _ignore
    got, STATE.notifications = STATE.notifications, []
    return {"notifications": got, "open": _open_count(), "lost_sockets": STATE.lost}


async def op_write_loop(cmd: dict[str, Any]) -> dict[str, Any]:
    """The fan-out writer: PATCH a patient every ``period`` s over REST,
    ``warmup`` tagged fanW then ``count`` tagged fanM; last_name carries
    the time just before the request (time.time_ns())."""
    import aiohttp

    url, token = cmd["url"], cmd["token"]
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ValueError("loopback only")
    period, warm, count = float(cmd["period"]), int(cmd["warmup"]), int(cmd["count"])
    records: list[dict[str, Any]] = []
    headers = {"Authorization": f"Token {token}"}
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        async with session.get(url) as resp:  # open the keep-alive connection first
            await resp.read()
        first = time.time() + 0.2
        for k in range(warm + count):
            slot = first + k * period
            delay = slot - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            measured = k >= warm
            seq = k - warm if measured else k
            start_ns = time.time_ns()
            body = {"last_name": f"fan{'M' if measured else 'W'}{seq}-{start_ns}"}
            status = 0
            try:
                async with session.patch(url, json=body) as resp:
                    await resp.read()
                    status = resp.status
            except (TimeoutError, aiohttp.ClientError) as exc:
                status = -1
                print(f"writer: {exc!r}", file=sys.stderr)
            end_ns = time.time_ns()
            if measured:
                records.append(
                    {"seq": seq, "slot_ns": int(slot * 1e9), "start_ns": start_ns, "end_ns": end_ns, "status": status}
                )
    return {"writes": records}


class Probe:
    """GET one URL every ``interval`` s in the background, one at a time."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.latencies: list[int] = []
        self.failed = 0


PROBE = Probe()


async def _probe_loop(url: str, interval: float) -> None:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            t0 = time.perf_counter_ns()
            try:
                async with session.get(url) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            took = time.perf_counter_ns() - t0
            if ok:
                PROBE.latencies.append(took // 1000)
            else:
                PROBE.failed += 1
            await asyncio.sleep(max(0.0, interval - took / 1e9))


async def op_probe_start(cmd: dict[str, Any]) -> dict[str, Any]:
    """Start GETting ``url`` (loopback) every ``interval`` s until probe_stop."""
    url = cmd["url"]
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ValueError("loopback only")
    PROBE.latencies, PROBE.failed = [], 0
    PROBE.task = asyncio.get_running_loop().create_task(_probe_loop(url, float(cmd.get("interval", 0.05))))
    await asyncio.sleep(0)
    return {}


async def op_probe_stop(cmd: dict[str, Any]) -> dict[str, Any]:
    if PROBE.task is not None:
        PROBE.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await PROBE.task
        PROBE.task = None
    return {"latencies_us": PROBE.latencies, "failed": PROBE.failed}


async def op_login_waves(cmd: dict[str, Any]) -> dict[str, Any]:
    """Waves of ``parallel`` logins at once (POST /rest-auth/login/, one
    connection each), one wave after the other until ``duration`` s have
    passed (at least one wave, at most ``max_waves``): statuses and latencies."""
    import aiohttp

    url = cmd["url"]
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ValueError("loopback only")
    credentials: list[dict[str, str]] = cmd["credentials"]
    parallel, duration = int(cmd["parallel"]), float(cmd["duration"])
    max_waves = int(cmd.get("max_waves", 1000))
    statuses: Counter[int] = Counter()
    latencies: list[int] = []
    waves: list[dict[str, Any]] = []
    end = time.monotonic() + duration
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=parallel, force_close=True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def one(i: int) -> int:
            t0 = time.perf_counter_ns()
            try:
                async with session.post(url, json=credentials[i % len(credentials)]) as resp:
                    await resp.read()
                    status = resp.status
            except (TimeoutError, aiohttp.ClientError):
                status = -1
            latencies.append((time.perf_counter_ns() - t0) // 1000)
            return status

        while len(waves) < max_waves and (not waves or time.monotonic() < end):
            t0 = time.time()
            got = await asyncio.gather(*(one(i) for i in range(parallel)))
            statuses.update(got)
            waves.append({"start": t0, "end": time.time(), "statuses": {str(k): v for k, v in Counter(got).items()}})
    return {"statuses": {str(k): v for k, v in statuses.items()}, "latencies_us": latencies, "waves": waves}


OPS = {
    "connect": op_connect,
    "close_all": op_close_all,
    "status": op_status,
    "rr": op_rr,
    "fanout_start": op_fanout_start,
    "fanout_count": op_fanout_count,
    "fanout_stop": op_fanout_stop,
    "listen_start": op_listen_start,
    "listen_stop": op_listen_stop,
    "write_loop": op_write_loop,
    "probe_start": op_probe_start,
    "probe_stop": op_probe_stop,
    "login_waves": op_login_waves,
}


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = orjson.loads(line)
        if cmd.get("op") == "exit":
            break
        try:
            result = {"ok": True, **(await OPS[cmd["op"]](cmd))}
        except Exception as exc:
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        out.write(orjson.dumps(result) + b"\n")
        out.flush()
    for c in STATE.conns:
        c.close()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
