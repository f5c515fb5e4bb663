"""What property-based fuzzing (Schemathesis, ``scripts/fuzz``) found, one
regression test per finding: each request below answered 500 before its fix."""

from __future__ import annotations

from typing import Any

import pytest

from ..helpers import create_patient, create_report, report_body

UNKNOWN = 987654321


@pytest.fixture
async def patient(client, admin) -> dict[str, Any]:
    return await create_patient(client, admin)


# --- a report for a patient that does not exist, written by staff -------------
# Staff see every ward, so "may the user see this patient's ward" was true for
# a patient that does not exist and the insert hit the foreign key (500).


async def test_staff_create_a_report_for_an_unknown_patient(client, admin, sql) -> None:
    resp = await client.post("/api/reports/", json=report_body(UNKNOWN), headers=admin.headers)
    assert resp.status == 400
    assert await resp.json() == {"patient": [f'Invalid pk "{UNKNOWN}" - object does not exist.']}
    assert sql("SELECT count(*) FROM reports") == [(0,)]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_staff_move_a_report_to_an_unknown_patient(client, admin, patient, sql, method) -> None:
    report = await create_report(client, admin, patient["id"])
    body = report_body(UNKNOWN) if method == "PUT" else {"patient": UNKNOWN}
    resp = await client.request(method, f"/api/reports/{report['id']}/", json=body, headers=admin.headers)
    assert resp.status == 400
    assert await resp.json() == {"patient": [f'Invalid pk "{UNKNOWN}" - object does not exist.']}
    assert sql("SELECT patient FROM reports") == [(patient["id"],)]
