"""The real npm package dcrf-client 0.3.0, in Node, against the real server.

The driver (tests/node/drive.js) creates, lists, retrieves, updates,
patches and deletes a patient, subscribes to it, sees a change made over
HTTP, survives a server restart (queued request flushed, subscription
re-sent with its old request_id) and sees the next change and the delete.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ..servers import free_port, server

pytestmark = pytest.mark.slow
NODE_DIR = Path(__file__).resolve().parent.parent / "node"


def _read_step(proc: subprocess.Popen[str]) -> dict[str, Any]:
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line, f"node exited early: {proc.stderr.read()}"  # type: ignore[union-attr]
    step = json.loads(line)
    assert step["step"] != "error", step["message"]
    return step


def test_dcrf_client_0_3_0_works_unchanged(settings, alice) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required (it is part of the machine image)"
    assert (NODE_DIR / "node_modules" / "dcrf-client").is_dir(), "run: npm ci --prefix tests/node"
    version = json.loads((NODE_DIR / "node_modules" / "dcrf-client" / "package.json").read_text())["version"]
    assert version == "0.3.0"

    port = free_port()
    steps: dict[str, dict[str, Any]] = {}
    with server(settings, port=port) as first:
        proc = subprocess.Popen(
            [node, str(NODE_DIR / "drive.js"), first.url, alice.token],
            cwd=NODE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            while (step := _read_step(proc))["step"] != "await-restart":
                steps[step["step"]] = step
            first.stop()
        except BaseException:
            proc.kill()
            raise
    try:
        proc.stdin.write("stopped\n")
        proc.stdin.flush()  # type: ignore[union-attr]
        assert _read_step(proc)["step"] == "queued"
        with server(settings, port=port) as second:
            proc.stdin.write("restarted\n")
            proc.stdin.flush()  # type: ignore[union-attr]
            while (step := _read_step(proc))["step"] != "done":
                steps[step["step"]] = step
            assert proc.wait(10) == 0
            log = second.log()
    finally:
        if proc.poll() is None:
            proc.kill()

    created = steps["create"]["data"]
    pk = created["id"]
    assert created["first_name"] == "Node"
    assert [p["id"] for p in steps["list"]["data"]] == [pk]
    assert steps["retrieve"]["data"]["id"] == pk
    assert steps["update"]["data"]["first_name"] == "Upd"
    assert steps["patch"]["data"]["last_name"] == "Patched"
    assert steps["missing"]["payload"]["response_status"] == 404
    assert steps["missing"]["payload"]["errors"] == ["Not found"]
    assert steps["invalid"]["payload"]["response_status"] == 400
    assert steps["invalid"]["payload"]["errors"][0]["first_name"] == ["This field may not be blank."]
    assert steps["subscribe"]["data"] is None
    assert steps["update-event"]["action"] == "update"
    assert steps["update-event"]["data"]["first_name"] == "ViaHTTP"
    assert steps["queued-reply"]["data"]["first_name"] == "ViaHTTP"
    assert steps["reconnected"]["value"] is True
    assert steps["update-event-after-reconnect"]["data"]["first_name"] == "AfterRestart"
    assert steps["delete"]["data"] is None
    assert steps["delete-event"]["action"] == "delete"
    assert steps["delete-event"]["data"]["pk"] == pk
    assert "WebSocket connected: user alice" in log
