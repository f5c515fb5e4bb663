"""Small helpers shared by tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

# A report's wire fields, in order (the derived ones follow them).
REPORT_FIELDS = [
    "id",
    "patient",
    "time",
    "day_of_fever",
    "fever",
    "pulse",
    "respirations",
    "bp_systolic",
    "bp_diastolic",
    "diet",
    "oral_fluids",
    "parenteral_fluids",
    "other_fluids",
    "intake_8h",
    "urine_output",
    "uf",
    "emesis",
    "drainage",
    "output_8h",
    "pain_score",
    "abdominal_circumference",
    "stools",
    "urine_count",
    "weight",
    "height",
    "o2_saturation",
    "hematocrit",
    "platelet_count",
    "wbc_count",
    "status",
    "monitoring_interval",
    "warning_signs",
    "additional_info",
    "medical_advice",
    "created_by",
    "created_at",
    "updated_at",
]


def moment(text: str) -> dt.datetime:
    """A returned ISO 8601 timestamp, for comparing times (not strings)."""
    return dt.datetime.fromisoformat(text)


PATIENT = {"first_name": "Cy", "last_name": "Ng", "admission_date": "2024-05-03T10:00:00Z"}


def report_body(patient_id: int, **fields: Any) -> dict[str, Any]:
    """The fields a report needs (status is required: no phase is assumed)."""
    body = {"patient": patient_id, "time": "2024-05-03T12:00:00Z", "status": "febrile", "monitoring_interval": 4}
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


async def next_frame(ws: Any, match: Any = None, timeout: float = 5.0) -> dict[str, Any]:
    """The next JSON frame (that satisfies ``match``), waiting at most ``timeout``."""
    import asyncio

    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.receive_json()
            if match is None or match(frame):
                return frame


async def request(ws: Any, stream: str, payload: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one DCRF request and return the payload of its reply."""
    import uuid

    payload = {**payload, "request_id": payload.get("request_id", str(uuid.uuid4()))}
    await ws.send_json({"stream": stream, "payload": payload})
    frame = await next_frame(
        ws,
        lambda f: (
            f["stream"] == stream
            and f["payload"].get("request_id") == payload["request_id"]
            and "event_id" not in f["payload"]
        ),
        timeout,
    )
    return frame["payload"]


def broadcast(stream: str, action: str, **data: Any) -> Any:
    """A predicate for the stream-wide broadcast of one change."""

    def match(frame: dict[str, Any]) -> bool:
        p = frame["payload"]
        return (
            frame["stream"] == stream
            and p.get("action") == action
            and p.get("request_id") is None
            and "event_id" in p
            and all(p["data"].get(k) == v for k, v in data.items())
        )

    return match


async def waiting_on_locks(sql: Any, count: int) -> None:
    """Until ``count`` of the service's connections wait for a lock."""
    import asyncio

    async with asyncio.timeout(10):
        while True:
            ((waiting,),) = sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'dengue-ward' AND wait_event_type = 'Lock'"
            )
            if waiting >= count:
                return
            await asyncio.sleep(0.02)
