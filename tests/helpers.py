"""Small helpers shared by tests."""
from __future__ import annotations

from typing import Any

PATIENT = {"first_name": "Cy", "last_name": "Ng", "admission_date": "2024-05-03T10:00:00Z"}


def report_body(patient_id: int, **fields: Any) -> dict[str, Any]:
    body = {"patient": patient_id, "time": "2024-05-03T12:00:00Z", "monitoring_interval": 4}
    body.update(fields)
    return body


async def create_patient(client: Any, account: Any, **fields: Any) -> dict[str, Any]:
    resp = await client.post("/api/patients/", json={**PATIENT, **fields}, headers=account.headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def create_report(client: Any, account: Any, patient_id: int, **fields: Any) -> dict[str, Any]:
    resp = await client.post("/api/reports/", json=report_body(patient_id, **fields), headers=account.headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()
