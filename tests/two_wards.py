"""Two wards with a nurse in each and a staff user, and one patient per ward
with a report (whose warning signs raise a notification): the setting of
the need-to-know tests (issue 14, point 3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .conftest import Account
from .helpers import PATIENT, report_body

FORBIDDEN = {"detail": "You do not have permission to perform this action."}
WARD_A = 1  # the ward every test starts with (conftest re-creates it)


def not_found(model: str) -> dict[str, str]:
    return {"detail": f"No {model} matches the given query."}


def no_such(value: Any) -> str:
    return f'Invalid pk "{value}" - object does not exist.'


@dataclass
class Wards:
    a: int  # ward 1
    b: int  # the second ward
    nurse_a: Account  # belongs to ward a only
    nurse_b: Account  # belongs to ward b only
    staff: Account  # is_staff, belongs to no ward: sees every ward


def add_ward(sql: Any, name: str = "Isolation ward") -> int:
    ((ward_id,),) = sql("INSERT INTO wards (name) VALUES (%s) RETURNING id", (name,))
    return int(ward_id)


def two_wards(sql: Any, make_user: Any) -> Wards:
    b = add_ward(sql)
    return Wards(
        a=WARD_A,
        b=b,
        nurse_a=make_user("nurse_a", wards=(WARD_A,)),
        nurse_b=make_user("nurse_b", wards=(b,)),
        staff=make_user("staff", staff=True, wards=()),
    )


@dataclass
class Seeded:
    """One patient per ward, each with a report raising a notification."""

    patient_a: dict[str, Any]
    patient_b: dict[str, Any]
    report_a: dict[str, Any]
    report_b: dict[str, Any]
    history_a: int  # the history_id of report_a's "+" row
    history_b: int
    note_a: int  # the id of report_a's notification
    note_b: int


async def _post(client: Any, account: Account, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post(path, json=body, headers=account.headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def seed(client: Any, sql: Any, w: Wards) -> Seeded:
    patient_a = await _post(client, w.nurse_a, "/api/patients/", {**PATIENT, "first_name": "Ann", "ward": w.a})
    patient_b = await _post(client, w.nurse_b, "/api/patients/", {**PATIENT, "first_name": "Bea", "ward": w.b})
    report_a = await _post(client, w.nurse_a, "/api/reports/", report_body(patient_a["id"], warning_signs="vomiting"))
    report_b = await _post(client, w.nurse_b, "/api/reports/", report_body(patient_b["id"], warning_signs="bleeding"))

    def only(query: str, report_id: int) -> int:
        ((value,),) = sql(query, (report_id,))
        return int(value)

    return Seeded(
        patient_a,
        patient_b,
        report_a,
        report_b,
        history_a=only("SELECT history_id FROM report_history WHERE id = %s", report_a["id"]),
        history_b=only("SELECT history_id FROM report_history WHERE id = %s", report_b["id"]),
        note_a=only("SELECT id FROM notifications WHERE report = %s", report_a["id"]),
        note_b=only("SELECT id FROM notifications WHERE report = %s", report_b["id"]),
    )
