"""Form bodies (urlencoded and multipart): a body that cannot be read is a
400 on every route that reads one, and an empty form value means what it
means to DRF's HTML input."""

from __future__ import annotations

from typing import Any

import pytest

from ..helpers import PATIENT, create_patient, create_report, report_body

INVALID_INT = ["A valid integer is required."]
DATETIME_FORMAT = [
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
]
MULTIPART_PART = b'--x\r\nContent-Disposition: form-data; name="first_name"\r\n\r\nCy\r\n--x--\r\n'


@pytest.fixture
async def patient(client, alice) -> dict[str, Any]:
    return await create_patient(client, alice)


async def post_raw(client: Any, account: Any, path: str, body: bytes | str, content_type: str) -> tuple[int, Any]:
    resp = await client.post(path, data=body, headers={**account.headers, "Content-Type": content_type})
    return resp.status, await resp.json()


async def test_unreadable_bodies_on_every_endpoint_that_reads_one(client, alice, patient, sql) -> None:
    """Every route that reads a body answers the same 400, the anonymous
    login included; the routes that read none answer as they always do."""
    report = await create_report(client, alice, patient["id"])
    (history_id,) = sql("SELECT history_id FROM report_history")[0]
    readers = [
        ("POST", "/api/patients/"),
        ("PUT", f"/api/patients/{patient['id']}/"),
        ("PATCH", f"/api/patients/{patient['id']}/"),
        ("POST", "/api/reports/"),
        ("PUT", f"/api/reports/{report['id']}/"),
        ("PATCH", f"/api/reports/{report['id']}/"),
        ("PUT", f"/api/history/{history_id}/"),
        ("PATCH", f"/api/history/{history_id}/"),
        ("POST", "/rest-auth/login/"),
        ("POST", "/rest-auth/login"),
        ("PUT", "/rest-auth/user/"),
        ("PATCH", "/rest-auth/user/"),
    ]
    bodies = [
        ("multipart/form-data", MULTIPART_PART, "Multipart form parse error - Invalid boundary in multipart: None"),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nBad Header\r\n\r\n1\r\n--x--\r\n",
            "Multipart form parse error - Invalid HTTP header: b'Bad Header'",
        ),
        (
            "application/x-www-form-urlencoded",
            b"a=%ff",
            "Form parse error - 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
        ),
        (
            "application/json",
            b'{"a": "\xff"}',
            "JSON parse error - 'utf-8' codec can't decode byte 0xff in position 7: invalid start byte",
        ),
    ]
    for method, path in readers:
        headers = {} if path.startswith("/rest-auth/login") else alice.headers
        for content_type, body, detail in bodies:
            resp = await client.request(method, path, data=body, headers={**headers, "Content-Type": content_type})
            assert (resp.status, await resp.json()) == (400, {"detail": detail}), (method, path, content_type)
    for method, path, status in (
        ("POST", f"/api/history/{history_id}/restore/", 200),
        ("DELETE", f"/api/reports/{report['id']}/", 204),
        ("POST", "/rest-auth/logout/", 200),  # last: it ends alice's token
    ):
        resp = await client.request(
            method, path, data=MULTIPART_PART, headers={**alice.headers, "Content-Type": "multipart/form-data"}
        )
        assert resp.status == status, (method, path, await resp.text())


# --- empty form values, as DRF reads HTML input ----------------------------------


async def test_an_empty_form_value_of_a_nullable_field_is_null(client, alice, patient) -> None:
    form = {
        "patient": str(patient["id"]),
        "time": "2024-05-03T12:00:00Z",
        "status": "febrile",
        "monitoring_interval": "4",
        "pulse": "",
        "fever": "",
        "weight": "",
        "diet": "",
        "warning_signs": "",
    }
    resp = await client.post("/api/reports/", data=form, headers=alice.headers)
    assert resp.status == 201, await resp.text()
    report = await resp.json()
    assert (report["pulse"], report["fever"], report["weight"], report["diet"], report["warning_signs"]) == (
        None,
        None,
        None,
        "",
        "",
    )
    patched = await client.patch(f"/api/reports/{report['id']}/", data={"pulse": "90"}, headers=alice.headers)
    assert (await patched.json())["pulse"] == 90
    cleared = await client.patch(f"/api/reports/{report['id']}/", data={"pulse": ""}, headers=alice.headers)
    assert (cleared.status, (await cleared.json())["pulse"]) == (200, None)
    dismissed = await client.post("/api/patients/", data={**PATIENT, "dismissal_date": ""}, headers=alice.headers)
    assert (dismissed.status, (await dismissed.json())["dismissal_date"]) == (201, None)


async def test_an_empty_multipart_value_of_a_nullable_field_is_null(client, alice, patient) -> None:
    import aiohttp

    form = aiohttp.FormData()
    for key, value in report_body(patient["id"], pulse="", diet="").items():
        form.add_field(key, str(value))
    resp = await client.post("/api/reports/", data=form(), headers=alice.headers)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert (body["pulse"], body["diet"]) == (None, "")


async def test_json_empty_strings_keep_their_meaning(client, alice, patient) -> None:
    """Only HTML form input reads "" as null; JSON's "" is a value."""
    resp = await client.post("/api/reports/", json=report_body(patient["id"], pulse=""), headers=alice.headers)
    assert (resp.status, await resp.json()) == (400, {"pulse": INVALID_INT})
    resp = await client.post("/api/patients/", json={**PATIENT, "dismissal_date": ""}, headers=alice.headers)
    assert (resp.status, await resp.json()) == (400, {"dismissal_date": DATETIME_FORMAT})


async def test_empty_form_values_of_required_fields(client, alice, patient) -> None:
    form = {"patient": "", "time": "", "status": "", "monitoring_interval": ""}
    resp = await client.post("/api/reports/", data=form, headers=alice.headers)
    assert (resp.status, await resp.json()) == (
        400,
        {
            "patient": ["This field may not be null."],
            "time": DATETIME_FORMAT,
            "status": ['"" is not a valid choice.'],
            "monitoring_interval": INVALID_INT,
        },
    )
    patient_form = {"first_name": "", "last_name": "Ng", "admission_date": ""}
    resp = await client.post("/api/patients/", data=patient_form, headers=alice.headers)
    assert (resp.status, await resp.json()) == (
        400,
        {"first_name": ["This field may not be blank."], "admission_date": DATETIME_FORMAT},
    )


async def test_a_repeated_form_key_takes_its_last_value(client, alice) -> None:
    """As Django's QueryDict does."""
    body = "first_name=One&first_name=Two&last_name=Ng&admission_date=2024-05-03T10:00:00Z"
    status, created = await post_raw(client, alice, "/api/patients/", body, "application/x-www-form-urlencoded")
    assert (status, created["first_name"]) == (201, "Two")
