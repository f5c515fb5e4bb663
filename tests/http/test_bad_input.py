"""Bad input, one class per test: each gets DRF's exact status and body, and
none gets a 500 or changes anything."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from ..helpers import PATIENT, create_patient, create_report, report_body

MIB = 1024 * 1024
INVALID_INT = ["A valid integer is required."]
INVALID_NUMBER = ["A valid number is required."]
DATETIME_FORMAT = [
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
]


@pytest.fixture
async def patient(client, alice) -> dict[str, Any]:
    return await create_patient(client, alice)


async def post_report(client: Any, account: Any, patient_id: int, **fields: Any) -> tuple[int, Any]:
    resp = await client.post("/api/reports/", json=report_body(patient_id, **fields), headers=account.headers)
    return resp.status, await resp.json()


async def post_raw(
    client: Any, account: Any, path: str, body: bytes | str, content_type: str = "application/json"
) -> tuple[int, Any]:
    headers = {**account.headers, "Content-Type": content_type}
    resp = await client.post(path, data=body, headers=headers)
    assert resp.headers["Content-Type"] == "application/json"
    return resp.status, await resp.json()


@pytest.fixture(autouse=True)
async def nothing_changes(client, sql) -> Any:
    """Every request in this file is refused, so no test leaves more than its setup."""
    yield
    assert sql("SELECT count(*) FROM report_history WHERE history_type <> '+'") == [(0,)]


# --- the body as a whole -----------------------------------------------------


@pytest.mark.parametrize(
    "body, detail",
    [
        ("{bad", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        ('{"first_name": "Cy" "x"}', "Expecting ',' delimiter: line 1 column 21 (char 20)"),
        ("{'a': 1}", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        ('{"a": 1} x', "Extra data: line 1 column 10 (char 9)"),
        ('{"a": tru}', "Expecting value: line 1 column 7 (char 6)"),
        (b'{"a": "\xff"}', "'utf-8' codec can't decode byte 0xff in position 7: invalid start byte"),
        ('{"fever": NaN}', "Out of range float values are not JSON compliant: 'NaN'"),
        ('{"fever": Infinity}', "Out of range float values are not JSON compliant: 'Infinity'"),
        ('{"fever": -Infinity}', "Out of range float values are not JSON compliant: '-Infinity'"),
    ],
)
async def test_malformed_json(client, alice, body, detail) -> None:
    assert await post_raw(client, alice, "/api/patients/", body) == (400, {"detail": f"JSON parse error - {detail}"})


async def test_a_number_too_large_for_a_float(client, alice, patient) -> None:
    """1e400 is valid JSON; it parses as an infinite float, which no field takes."""
    body = (
        '{"patient": %d, "time": "2024-05-03T12:00:00Z", "status": "febrile", "monitoring_interval": 4, '
        '"fever": 1e400, "pulse": -1e400}'
    )
    assert await post_raw(client, alice, "/api/reports/", body % patient["id"]) == (
        400,
        {"fever": INVALID_NUMBER, "pulse": INVALID_INT},
    )


async def test_deeply_nested_json(client, alice, patient) -> None:
    depth = 100_000
    for body in ("[" * depth + "]" * depth, '{"diet": ' + "[" * depth + "]" * depth + "}"):
        status, reply = await post_raw(client, alice, "/api/reports/", body)
        assert status == 400
        assert reply["detail"].startswith("JSON parse error - ")


@pytest.mark.parametrize(
    "body, errors",
    [
        ("[]", {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        ('[{"first_name": "Cy"}]', {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        ('"Cy"', {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
        ("5", {"non_field_errors": ["Invalid data. Expected a dictionary, but got int."]}),
        ("true", {"non_field_errors": ["Invalid data. Expected a dictionary, but got bool."]}),
        ("null", {"non_field_errors": ["No data provided"]}),
    ],
)
async def test_body_that_is_not_an_object(client, alice, patient, body, errors) -> None:
    for path in ("/api/patients/", "/api/reports/"):
        assert await post_raw(client, alice, path, body) == (400, errors)
    resp = await client.patch(
        f"/api/patients/{patient['id']}/", data=body, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert (resp.status, await resp.json()) == (400, errors)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", ""])
async def test_empty_body_means_every_required_field_is_missing(client, alice, content_type) -> None:
    required = {
        "first_name": ["This field is required."],
        "last_name": ["This field is required."],
        "admission_date": ["This field is required."],
    }
    headers = {**alice.headers, "Content-Type": content_type} if content_type else alice.headers
    for body in (b"", b"  \n"):
        resp = await client.post("/api/patients/", data=body, headers=headers)
        assert (resp.status, await resp.json()) == (400, required)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain; charset=utf-8", "application/xml", "application/octet-stream", "text/html"],
)
async def test_unsupported_media_type(client, alice, content_type) -> None:
    assert await post_raw(client, alice, "/api/patients/", '{"first_name": "Cy"}', content_type) == (
        415,
        {"detail": f'Unsupported media type "{content_type}" in request.'},
    )


async def test_json_with_parameters_is_json(client, alice) -> None:
    import json

    status, body = await post_raw(
        client, alice, "/api/patients/", json.dumps(PATIENT), "application/json; charset=utf-8"
    )
    assert status == 201 and body["first_name"] == "Cy"


async def test_form_encoded_bodies_are_accepted(client, alice, patient) -> None:
    resp = await client.post("/api/patients/", data=PATIENT, headers=alice.headers)
    assert resp.status == 201 and (await resp.json())["last_name"] == "Ng"
    form = {
        "patient": str(patient["id"]),
        "time": "2024-05-03T12:00:00Z",
        "status": "febrile",
        "monitoring_interval": "4",
        "fever": "38.5",
        "pulse": "100",
        "diet": "soft",
    }
    resp = await client.post("/api/reports/", data=form, headers=alice.headers)
    assert resp.status == 201
    body = await resp.json()
    assert (body["patient"], body["monitoring_interval"], body["fever"], body["pulse"], body["diet"]) == (
        patient["id"],
        4,
        "38.50",
        100,
        "soft",
    )
    patched = await client.patch(f"/api/patients/{patient['id']}/", data={"last_name": "Form"}, headers=alice.headers)
    assert (await patched.json())["last_name"] == "Form"


async def test_multipart_bodies_are_accepted(client, alice) -> None:
    import aiohttp

    form = aiohttp.FormData()
    for key, value in PATIENT.items():
        form.add_field(key, value)
    resp = await client.post("/api/patients/", data=form(), headers=alice.headers)
    assert resp.status == 201 and (await resp.json())["first_name"] == "Cy"


async def test_form_encoded_errors(client, alice) -> None:
    resp = await client.post("/api/patients/", data={"first_name": "", "admission_date": "x"}, headers=alice.headers)
    assert (resp.status, await resp.json()) == (
        400,
        {
            "first_name": ["This field may not be blank."],
            "last_name": ["This field is required."],
            "admission_date": DATETIME_FORMAT,
        },
    )


async def test_body_over_one_mib_is_413(client, alice, sql) -> None:
    too_large = {"detail": f"Request body exceeds the limit of {MIB} bytes."}
    big = b'{"first_name": "' + b"x" * MIB + b'"}'
    assert await post_raw(client, alice, "/api/patients/", big) == (413, too_large)

    async def chunks() -> Any:  # no Content-Length: the limit applies while reading
        yield b'{"first_name": "'
        for _ in range(17):
            yield b"x" * 65536
        yield b'"}'

    resp = await client.post(
        "/api/patients/", data=chunks(), headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert (resp.status, await resp.json()) == (413, too_large)
    form = await client.post("/api/patients/", data={**PATIENT, "first_name": "x" * MIB}, headers=alice.headers)
    assert (form.status, await form.json()) == (413, too_large)
    assert sql("SELECT count(*) FROM patients") == [(0,)]


async def test_unknown_fields_are_ignored(client, alice, patient) -> None:
    resp = await client.post(
        "/api/patients/", headers=alice.headers, json={**PATIENT, "nickname": "C", "id": 1234, "updated_at": "x", "": 1}
    )
    assert resp.status == 201
    body = await resp.json()
    assert "nickname" not in body and body["id"] != 1234
    status, report = await post_report(client, alice, patient["id"], shift="X", intake_total=5, bogus=[1])
    assert status == 201 and report["shift"] == "D" and report["intake_total"] == 0


# --- field types -------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value, errors",
    [
        ("pulse", "fast", INVALID_INT),
        ("pulse", 1.5, INVALID_INT),
        ("pulse", "1.5", INVALID_INT),
        ("pulse", True, INVALID_INT),
        ("pulse", False, INVALID_INT),
        ("pulse", "", INVALID_INT),
        ("pulse", "1e2", INVALID_INT),
        ("pulse", [1], INVALID_INT),
        ("pulse", {"value": 1}, INVALID_INT),
        ("pulse", "1" * 1001, ["String value too large."]),
        ("monitoring_interval", "four", INVALID_INT),
        ("monitoring_interval", None, ["This field may not be null."]),
        ("fever", "hot", INVALID_NUMBER),
        ("fever", "NaN", INVALID_NUMBER),
        ("fever", "Infinity", INVALID_NUMBER),
        ("fever", "-inf", INVALID_NUMBER),
        ("fever", True, INVALID_NUMBER),
        ("fever", {"c": 38}, INVALID_NUMBER),
        ("weight", [70], INVALID_NUMBER),
        ("diet", {"a": 1}, ["Not a valid string."]),
        ("diet", ["soft"], ["Not a valid string."]),
        ("diet", True, ["Not a valid string."]),
        ("diet", None, ["This field may not be null."]),
        ("status", "dead", ['"dead" is not a valid choice.']),
        ("status", "", ['"" is not a valid choice.']),
        ("status", "Critical", ['"Critical" is not a valid choice.']),
        ("status", True, ['"True" is not a valid choice.']),
        ("status", None, ["This field may not be null."]),
        ("time", "yesterday", DATETIME_FORMAT),
        ("time", "", DATETIME_FORMAT),
        ("time", 12345, DATETIME_FORMAT),
        ("time", "2024-13-01T00:00:00Z", DATETIME_FORMAT),
        ("time", "2024-05-03T25:00:00Z", DATETIME_FORMAT),
        ("time", "2024-05-03T10:00:00+25:00", DATETIME_FORMAT),
        ("time", None, ["This field may not be null."]),
        ("time", "9999-12-31T23:59:59-01:00", ["Datetime value out of range."]),
        ("time", "0001-01-01T00:00:00+01:00", ["Datetime value out of range."]),
    ],
)
async def test_wrong_types(client, alice, patient, field, value, errors) -> None:
    assert await post_report(client, alice, patient["id"], **{field: value}) == (400, {field: errors})


@pytest.mark.parametrize(
    "field, value, stored",
    [
        ("pulse", "12", 12),
        ("pulse", " 12 ", 12),
        ("pulse", "12.0", 12),
        ("pulse", 12.0, 12),
        ("monitoring_interval", "24", 24),
        ("fever", "38", "38.00"),
        ("weight", 70, "70.00"),
        ("diet", 5, "5"),
        ("diet", 2.5, "2.5"),
        ("diet", "  ", ""),
        ("status", "recovery", "recovery"),
        ("wbc_count", "", None),
        ("pulse", None, None),
    ],
)
async def test_lenient_conversions(client, alice, patient, field, value, stored) -> None:
    status, body = await post_report(client, alice, patient["id"], **{field: value})
    assert (status, body[field]) == (201, stored)


@pytest.mark.parametrize(
    "body, errors",
    [
        ({"first_name": None}, {"first_name": ["This field may not be null."]}),
        ({"first_name": ""}, {"first_name": ["This field may not be blank."]}),
        ({"first_name": "   "}, {"first_name": ["This field may not be blank."]}),
        ({"last_name": {"x": 1}}, {"last_name": ["Not a valid string."]}),
        ({"first_name": "x" * 241}, {"first_name": ["Ensure this field has no more than 240 characters."]}),
        ({"admission_date": None}, {"admission_date": ["This field may not be null."]}),
        ({"dismissal_date": "soon"}, {"dismissal_date": DATETIME_FORMAT}),
    ],
)
async def test_patient_fields(client, alice, body, errors) -> None:
    resp = await client.post("/api/patients/", json={**PATIENT, **body}, headers=alice.headers)
    assert (resp.status, await resp.json()) == (400, errors)


async def test_text_of_exactly_240_characters(client, alice) -> None:
    body = await create_patient(client, alice, first_name="é" * 240)
    assert body["first_name"] == "é" * 240


async def test_several_errors_come_together_in_field_order(client, alice) -> None:
    resp = await client.post(
        "/api/reports/",
        headers=alice.headers,
        json={"status": "dead", "pulse": 301, "fever": "hot", "time": "x", "diet": {}},
    )
    assert resp.status == 400
    body = await resp.json()
    assert body == {
        "patient": ["This field is required."],
        "time": DATETIME_FORMAT,
        "fever": INVALID_NUMBER,
        "pulse": ["Ensure this value is less than or equal to 300."],
        "diet": ["Not a valid string."],
        "status": ['"dead" is not a valid choice.'],
        "monitoring_interval": ["This field is required."],
    }
    assert list(body) == ["patient", "time", "fever", "pulse", "diet", "status", "monitoring_interval"]


# --- ranges and precision ----------------------------------------------------


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("fever", 46, "Ensure this value is less than or equal to 45."),
        ("fever", "45.01", "Ensure this value is less than or equal to 45."),
        ("fever", 29.99, "Ensure this value is greater than or equal to 30."),
        ("fever", -1, "Ensure this value is greater than or equal to 30."),
        ("day_of_fever", 31, "Ensure this value is less than or equal to 30."),
        ("day_of_fever", -1, "Ensure this value is greater than or equal to 0."),
        ("pulse", 301, "Ensure this value is less than or equal to 300."),
        ("pulse", 10**30, "Ensure this value is less than or equal to 300."),
        ("respirations", 101, "Ensure this value is less than or equal to 100."),
        ("bp_systolic", 301, "Ensure this value is less than or equal to 300."),
        ("bp_diastolic", -5, "Ensure this value is greater than or equal to 0."),
        ("oral_fluids", -1, "Ensure this value is greater than or equal to 0."),
        ("urine_output", "-10", "Ensure this value is greater than or equal to 0."),
        ("pain_score", 11, "Ensure this value is less than or equal to 10."),
        ("abdominal_circumference", 301, "Ensure this value is less than or equal to 300."),
        ("weight", "500.01", "Ensure this value is less than or equal to 500."),
        ("weight", -1, "Ensure this value is greater than or equal to 0."),
        ("height", 301, "Ensure this value is less than or equal to 300."),
        ("o2_saturation", 101, "Ensure this value is less than or equal to 100."),
        ("hematocrit", 101, "Ensure this value is less than or equal to 100."),
        ("platelet_count", 2**31, "Ensure this value is less than or equal to 2147483647."),
        ("stools", 10**40, "Ensure this value is less than or equal to 2147483647."),
        ("wbc_count", "-0.01", "Ensure this value is greater than or equal to 0."),
        ("monitoring_interval", 0, "Ensure this value is greater than or equal to 1."),
        ("monitoring_interval", 25, "Ensure this value is less than or equal to 24."),
    ],
)
async def test_out_of_range(client, alice, patient, field, value, message) -> None:
    assert await post_report(client, alice, patient["id"], **{field: value}) == (400, {field: [message]})


@pytest.mark.parametrize(
    "field, value, accepted",
    [
        ("fever", 30, "30.00"),
        ("fever", "45.00", "45.00"),
        ("pulse", 300, 300),
        ("pulse", 0, 0),
        ("weight", "500", "500.00"),
        ("monitoring_interval", 1, 1),
        ("platelet_count", 2**31 - 1, 2**31 - 1),
    ],
)
async def test_range_bounds_are_inclusive(client, alice, patient, field, value, accepted) -> None:
    status, body = await post_report(client, alice, patient["id"], **{field: value})
    assert (status, body[field]) == (201, accepted)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("fever", "38.555", "Ensure that there are no more than 4 digits in total."),
        ("fever", 100, "Ensure that there are no more than 2 digits before the decimal point."),
        ("fever", "1e3", "Ensure that there are no more than 2 digits before the decimal point."),
        ("weight", "12.345", "Ensure that there are no more than 2 decimal places."),
        ("weight", "0.001", "Ensure that there are no more than 2 decimal places."),
        ("weight", "1000", "Ensure that there are no more than 3 digits before the decimal point."),
        ("weight", "123456", "Ensure that there are no more than 5 digits in total."),
        ("wbc_count", "12345.67", "Ensure that there are no more than 6 digits in total."),
        ("wbc_count", "12345.6", "Ensure that there are no more than 4 digits before the decimal point."),
        ("wbc_count", "1e10", "Ensure that there are no more than 6 digits in total."),
    ],
)
async def test_decimal_precision(client, alice, patient, field, value, message) -> None:
    assert await post_report(client, alice, patient["id"], **{field: value}) == (400, {field: [message]})


# --- characters PostgreSQL cannot store --------------------------------------


async def test_nul_characters_in_text(client, alice, patient) -> None:
    nul = ["Null characters are not allowed."]
    resp = await client.post("/api/patients/", json={**PATIENT, "first_name": "C\x00y"}, headers=alice.headers)
    assert (resp.status, await resp.json()) == (400, {"first_name": nul})
    for field in ("diet", "warning_signs", "additional_info", "medical_advice"):
        assert await post_report(client, alice, patient["id"], **{field: "a\x00b"}) == (400, {field: nul})
    patch = await client.patch(f"/api/patients/{patient['id']}/", json={"last_name": "\x00"}, headers=alice.headers)
    assert (patch.status, await patch.json()) == (400, {"last_name": nul})
    form = await client.post("/api/patients/", data={**PATIENT, "first_name": "C\x00y"}, headers=alice.headers)
    assert (form.status, await form.json()) == (400, {"first_name": nul})
    login = await client.post("/rest-auth/login/", json={"username": "a\x00", "password": "p\x00"})
    assert (login.status, await login.json()) == (400, {"username": nul, "password": nul})


async def test_lone_surrogates(client, alice, patient) -> None:
    body = '{"first_name": "\\ud800", "last_name": "Ng", "admission_date": "2024-05-03T10:00:00Z"}'
    assert await post_raw(client, alice, "/api/patients/", body) == (
        400,
        {"first_name": ["Surrogate characters are not allowed: U+D800."]},
    )
    status, reply = await post_raw(
        client,
        alice,
        "/api/reports/",
        '{"patient": ' + str(patient["id"]) + ', "time": "2024-05-03T12:00:00Z", '
        '"monitoring_interval": 4, "status": "\\udfff"}',
    )
    assert (status, reply) == (400, {"status": ['"\\udfff" is not a valid choice.']})


# --- ids ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, message",
    [
        (9999, 'Invalid pk "9999" - object does not exist.'),
        ("9999", 'Invalid pk "9999" - object does not exist.'),
        (-1, 'Invalid pk "-1" - object does not exist.'),
        (0, 'Invalid pk "0" - object does not exist.'),
        (99999999999999999999, 'Invalid pk "99999999999999999999" - object does not exist.'),
        ("99999999999999999999", 'Invalid pk "99999999999999999999" - object does not exist.'),
        ("9" * 40, f'Invalid pk "{"9" * 40}" - object does not exist.'),
        ("abc", "Incorrect type. Expected pk value, received str."),
        (True, "Incorrect type. Expected pk value, received bool."),
        ({"id": 1}, "Incorrect type. Expected pk value, received dict."),
        ([1], "Incorrect type. Expected pk value, received list."),
        (1.5, "Incorrect type. Expected pk value, received float."),
        ("", "This field may not be null."),  # DRF turns "" into None for a related field
        (None, "This field may not be null."),
    ],
)
async def test_bad_patient_reference(client, alice, patient, value, message) -> None:
    assert await post_report(client, alice, value) == (400, {"patient": [message]})


async def test_bad_patient_reference_on_update(client, alice, patient) -> None:
    report = await create_report(client, alice, patient["id"])
    for value, message in (
        (9999, 'Invalid pk "9999" - object does not exist.'),
        ("abc", "Incorrect type. Expected pk value, received str."),
        (2**63, f'Invalid pk "{2**63}" - object does not exist.'),
    ):
        resp = await client.patch(f"/api/reports/{report['id']}/", json={"patient": value}, headers=alice.headers)
        assert (resp.status, await resp.json()) == (400, {"patient": [message]})


@pytest.mark.parametrize("pk", ["99999999999999999999", str(2**63), str(-(2**63) - 1), "9" * 40])
async def test_ids_beyond_a_bigint_in_urls(client, admin, pk) -> None:
    urls = {
        "patients": "No Patient matches the given query.",
        "reports": "No Report matches the given query.",
        "history": "No HistoricalReport matches the given query.",
    }
    for name, detail in urls.items():
        for method in ("GET", "PATCH", "PUT", "DELETE"):
            resp = await client.request(method, f"/api/{name}/{pk}/", json={}, headers=admin.headers)
            assert (resp.status, await resp.json()) == (404, {"detail": detail}), (method, name)
    resp = await client.post(f"/api/history/{pk}/restore/", headers=admin.headers)
    assert resp.status == 404


# --- cross-field rules -------------------------------------------------------


async def test_dismissal_before_admission(client, alice) -> None:
    resp = await client.post(
        "/api/patients/", headers=alice.headers, json={**PATIENT, "dismissal_date": "2024-05-03T09:59:59Z"}
    )
    assert (resp.status, await resp.json()) == (
        400,
        {"dismissal_date": ["The dismissal date must not be before the admission date."]},
    )
    offset = await client.post(
        "/api/patients/", headers=alice.headers, json={**PATIENT, "dismissal_date": "2024-05-03T11:00:00+02:00"}
    )
    assert offset.status == 400  # 09:00 UTC, before the 10:00 UTC admission


async def test_diastolic_above_systolic(client, alice, patient) -> None:
    assert await post_report(client, alice, patient["id"], bp_systolic=90, bp_diastolic=100) == (
        400,
        {"bp_diastolic": ["The diastolic pressure must not be above the systolic pressure."]},
    )
    status, _ = await post_report(client, alice, patient["id"], bp_systolic=None, bp_diastolic=100)
    assert status == 201


async def test_field_errors_come_before_cross_field_rules(client, alice, patient) -> None:
    assert await post_report(client, alice, patient["id"], bp_systolic=90, bp_diastolic=100, pulse=-1) == (
        400,
        {"pulse": ["Ensure this value is greater than or equal to 0."]},
    )


# --- methods and query strings -----------------------------------------------


@pytest.mark.parametrize("method", ["PROPFIND", "PURGE", "LINK", "SEARCH"])
async def test_unknown_methods(client, alice, patient, method) -> None:
    for url, allow in (
        ("/api/patients/", "GET, POST, HEAD, OPTIONS"),
        (f"/api/patients/{patient['id']}/", "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"),
    ):
        resp = await client.request(method, url, headers=alice.headers)
        assert (resp.status, await resp.json()) == (405, {"detail": f'Method "{method}" not allowed.'})
        assert resp.headers["Allow"] == allow


EMPTY_PAGE = {"count": 0, "next": None, "previous": None, "results": []}
BAD_CHOICE = {"patient": ["Select a valid choice. That choice is not one of the available choices."]}


@pytest.mark.parametrize(
    "query, status, body",
    [
        ("limit=%00", 200, []),
        ("limit=" + "9" * 5000, 200, []),  # beyond Python's int() limit: not a valid limit
        ("offset=%ff&limit=1", 200, EMPTY_PAGE),
        ("offset=" + "9" * 5000 + "&limit=1", 200, EMPTY_PAGE),
        ("patient=%00%00", 400, BAD_CHOICE),
        ("patient=" + "9" * 5000, 400, BAD_CHOICE),
        ("patient=1&patient=abc", 400, BAD_CHOICE),  # Django's QueryDict: the last value counts
        ("patient=abc&patient=1", 200, []),
        ("patient=-9223372036854775808", 200, []),  # the smallest bigint: no such patient (Schemathesis)
        ("patient=-9223372036854775808&limit=1", 200, EMPTY_PAGE),
        ("limit=abc&limit=1&offset=5&offset=0", 200, EMPTY_PAGE),
    ],
)
async def test_odd_query_strings(client, alice, query, status, body) -> None:
    resp = await client.get(f"/api/reports/?{query}", headers=alice.headers)
    assert (resp.status, await resp.json()) == (status, body)


async def test_a_client_that_hangs_up_mid_body_is_not_a_server_error(client, alice, caplog) -> None:
    """The body is announced but never finishes: the server logs it as the
    client's doing (499 in the access log), without an ERROR or a traceback."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(
        b"POST /api/patients/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Token " + alice.token.encode() + b'\r\nContent-Length: 1000\r\n\r\n{"first_name":'
    )
    await writer.drain()
    with caplog.at_level(logging.INFO, logger="service"):
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(5):
            while not any(" 499 " in r.getMessage() for r in caplog.records):
                await asyncio.sleep(0.01)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert (await client.get("/api/patients/", headers=alice.headers)).status == 200


def test_a_client_that_hangs_up_mid_body_under_the_real_server(settings, alice) -> None:
    """``python -m service serve`` does not cancel the handler: its body read
    fails instead (wrk does this at the end of every benchmark window)."""
    import socket

    from ..servers import server, wait_until

    with server(settings) as process:
        with socket.create_connection(("127.0.0.1", process.port)) as sock:
            sock.sendall(
                b"POST /api/reports/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Token " + alice.token.encode() + b'\r\nContent-Length: 1000\r\n\r\n{"patient":'
            )
        wait_until(lambda: "POST /api/reports/ 499 " in process.log(), 10, "the access log line")
        assert "ERROR" not in process.log() and "Traceback" not in process.log(), process.log()


# --- form bodies that cannot be read -----------------------------------------

MULTIPART_PART = b'--x\r\nContent-Disposition: form-data; name="first_name"\r\n\r\nCy\r\n--x--\r\n'
UNREADABLE_FORMS = [
    # (Content-Type, body, detail)
    ("multipart/form-data", MULTIPART_PART, "Multipart form parse error - Invalid boundary in multipart: None"),
    (
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition form-data; name=a\r\n\r\n1\r\n--x--\r\n",
        "Multipart form parse error - Invalid HTTP header: b'Content-Disposition form-data; name=a'",
    ),
    (
        "multipart/form-data; boundary=x",
        b"--x\r\n: no name\r\n\r\n1\r\n--x--\r\n",
        "Multipart form parse error - Invalid HTTP header: b''",
    ),
    (
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: form-data\r\n\r\n1\r\n--x--\r\n",
        "Multipart form parse error - Multipart field missing name.",
    ),
    (
        "multipart/form-data; boundary=x",
        b"--y\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--y--\r\n",
        "Multipart form parse error - Could not find starting boundary b'--x'",
    ),
    (
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1",
        "Multipart form parse error - Reading after EOF",
    ),
    (
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n\xff\r\n--x--\r\n",
        "Multipart form parse error - 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
    ),
    (
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: form-data; name=a\r\nContent-Type: text/plain; charset=bogus\r\n"
        b"\r\n1\r\n--x--\r\n",
        "Multipart form parse error - unknown encoding: bogus",
    ),
    (
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: form-data; name=a\r\nContent-Transfer-Encoding: bogus\r\n\r\n1\r\n--x--\r\n",
        "Multipart form parse error - unknown content transfer encoding: bogus",
    ),
    (
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: form-data; name=a\r\nContent-Type: multipart/mixed; boundary=y\r\n\r\n"
        b"--y\r\n\r\n1\r\n--y--\r\n--x--\r\n",
        "Multipart form parse error - To decode nested multipart you need to use custom reader",
    ),
    (
        "multipart/form-data; boundary=" + "b" * 71,
        b"--" + b"b" * 71 + b"\r\n",
        f"Multipart form parse error - boundary '{'b' * 71}' is too long (70 chars max)",
    ),
    (
        "application/x-www-form-urlencoded",
        b"first_name=C\xffy",
        "Form parse error - 'utf-8' codec can't decode byte 0xff in position 12: invalid start byte",
    ),
    (
        "application/x-www-form-urlencoded",
        b"first_name=C%FFy",
        "Form parse error - 'utf-8' codec can't decode byte 0xff in position 1: invalid start byte",
    ),
    (
        "application/x-www-form-urlencoded",
        b"first_name=%E2%82",
        "Form parse error - 'utf-8' codec can't decode bytes in position 0-1: unexpected end of data",
    ),
    (
        "application/x-www-form-urlencoded",
        b"first_name=100%zz",
        "Form parse error - Invalid percent-encoding at position 14.",
    ),
    (
        "application/x-www-form-urlencoded",
        b"first_name=%",
        "Form parse error - Invalid percent-encoding at position 11.",
    ),
    (
        "application/x-www-form-urlencoded; charset=bogus",
        b"first_name=Cy",
        "Form parse error - unknown encoding: bogus",
    ),
    (
        "application/x-www-form-urlencoded",
        b"&".join(b"f%d=1" % i for i in range(1001)),
        "Form parse error - Too many fields: at most 1000 are accepted.",
    ),
]


@pytest.mark.parametrize("content_type, body, detail", UNREADABLE_FORMS)
async def test_unreadable_form_bodies_are_400(client, alice, patient, content_type, body, detail) -> None:
    assert await post_raw(client, alice, "/api/patients/", body, content_type) == (400, {"detail": detail})


async def test_too_many_multipart_fields(client, alice) -> None:
    parts = b"".join(b'--x\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n1\r\n' % i for i in range(1001))
    assert await post_raw(client, alice, "/api/patients/", parts + b"--x--\r\n", "multipart/form-data; boundary=x") == (
        400,
        {"detail": "Multipart form parse error - Too many fields: at most 1000 are accepted."},
    )


async def test_empty_form_bodies_mean_every_required_field_is_missing(client, alice) -> None:
    required = {
        "first_name": ["This field is required."],
        "last_name": ["This field is required."],
        "admission_date": ["This field is required."],
    }
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "multipart/form-data"):
        assert await post_raw(client, alice, "/api/patients/", b"", content_type) == (400, required)
