"""Bounded values: clinical datetimes between 1900 and a day past the
server's now, text limits, over REST and the socket alike, and no datetime
that reaches a server error in any clinical time zone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from service.app import create_app

from ..helpers import PATIENT, create_patient, create_report, report_body, request

FLOOR = "Ensure this value is greater than or equal to 1900-01-01T00:00:00Z."
OVERFLOW = "Datetime value out of range."


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ceilings(before: dt.datetime, after: dt.datetime) -> set[str]:
    """The ceiling messages possible for a request made between ``before``
    and ``after``: now + 24 h, to the second, in UTC."""
    first = (before + dt.timedelta(hours=24)).replace(microsecond=0)
    last = (after + dt.timedelta(hours=24)).replace(microsecond=0)
    seconds = int((last - first).total_seconds())
    moments = (first + dt.timedelta(seconds=s) for s in range(seconds + 1))
    return {f"Ensure this value is less than or equal to {iso(m)}." for m in moments}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
async def patient(client, alice) -> dict[str, Any]:
    return await create_patient(client, alice, admission_date="1900-01-01T00:00:00Z")


# The three bounded datetimes, each with a way to send a body that has it.
async def post_report(client: Any, account: Any, patient: Any, value: Any) -> Any:
    return await client.post("/api/reports/", json=report_body(patient["id"], time=value), headers=account.headers)


async def post_admission(client: Any, account: Any, patient: Any, value: Any) -> Any:
    return await client.post("/api/patients/", json={**PATIENT, "admission_date": value}, headers=account.headers)


async def patch_dismissal(client: Any, account: Any, patient: Any, value: Any) -> Any:
    url = f"/api/patients/{patient['id']}/"
    return await client.patch(url, json={"dismissal_date": value}, headers=account.headers)


SENDERS = {"time": post_report, "admission_date": post_admission, "dismissal_date": patch_dismissal}


@pytest.mark.parametrize("field", list(SENDERS))
@pytest.mark.parametrize(
    "value",
    [
        "1899-12-31T23:59:59Z",
        "1899-12-31T23:59:59.999999Z",
        "1900-01-01T06:59:59+07:00",  # 1899-12-31T23:59:59Z
        "1000-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "1899-12-31",
    ],
)
async def test_before_1900_is_refused(client, alice, patient, field, value) -> None:
    resp = await SENDERS[field](client, alice, patient, value)
    assert (resp.status, await resp.json()) == (400, {field: [FLOOR]})


@pytest.mark.parametrize("field", list(SENDERS))
@pytest.mark.parametrize(
    "ahead", [dt.timedelta(hours=24, seconds=2), dt.timedelta(days=2), dt.timedelta(days=365 * 7000)]
)
async def test_more_than_a_day_ahead_is_refused(client, alice, patient, field, ahead) -> None:
    before = now()
    resp = await SENDERS[field](client, alice, patient, iso(before + ahead))
    after = now()
    body = await resp.json()
    assert resp.status == 400 and list(body) == [field]
    (message,) = body[field]
    assert message in ceilings(before, after)


@pytest.mark.parametrize("field", list(SENDERS))
@pytest.mark.parametrize("value", ["9999-12-31T23:00:00Z", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59+14:00"])
async def test_the_far_future_is_refused_with_the_ceiling(client, alice, patient, field, value) -> None:
    before = now()
    resp = await SENDERS[field](client, alice, patient, value)
    after = now()
    body = await resp.json()
    assert resp.status == 400 and body[field][0] in ceilings(before, after)


@pytest.mark.parametrize("field", list(SENDERS))
async def test_the_bounds_themselves_are_accepted(client, alice, patient, field) -> None:
    floor = await SENDERS[field](client, alice, patient, "1900-01-01T00:00:00Z")
    assert floor.status in (200, 201), await floor.text()
    near_ceiling = iso(now() + dt.timedelta(hours=23, minutes=59))
    ahead = await SENDERS[field](client, alice, patient, near_ceiling)
    assert ahead.status in (200, 201), await ahead.text()


async def test_the_ceiling_message_names_the_bound_that_was_applied(client, alice, patient) -> None:
    """The bound is now + 24 h cut to the second; the value at that second is
    accepted, the next one refused with that exact bound."""
    before = now()
    first = await post_report(client, alice, patient, iso(before + dt.timedelta(days=3)))
    after = now()
    (message,) = (await first.json())["time"]
    assert message in ceilings(before, after)
    bound = dt.datetime.fromisoformat(message.removeprefix("Ensure this value is less than or equal to ")[:-1])
    assert bound.microsecond == 0 and bound.tzinfo is not None
    assert before + dt.timedelta(hours=24) - dt.timedelta(seconds=1) < bound <= after + dt.timedelta(hours=24)


async def test_several_bounded_fields_fail_together(client, alice) -> None:
    resp = await client.post(
        "/api/patients/",
        json={**PATIENT, "admission_date": "1850-01-01T00:00:00Z", "dismissal_date": "1899-01-01T00:00:00Z"},
        headers=alice.headers,
    )
    assert (resp.status, await resp.json()) == (400, {"admission_date": [FLOOR], "dismissal_date": [FLOOR]})


async def test_naive_datetimes_are_bounded_in_the_clinical_time_zone(aiohttp_client, settings, alice) -> None:
    """Midnight of 1900-01-01 at UTC+7 is 17:00 the day before in UTC."""
    client = await aiohttp_client(create_app(settings.with_(clinical_timezone="Etc/GMT-7")))
    resp = await client.post(
        "/api/patients/", json={**PATIENT, "admission_date": "1900-01-01T00:00"}, headers=alice.headers
    )
    assert (resp.status, await resp.json()) == (400, {"admission_date": [FLOOR]})
    ok = await client.post(
        "/api/patients/", json={**PATIENT, "admission_date": "1900-01-01T07:00"}, headers=alice.headers
    )
    assert (ok.status, (await ok.json())["admission_date"]) == (201, "1900-01-01T00:00:00Z")


async def test_bounds_over_the_socket(client, alice, patient) -> None:
    ws = await client.ws_connect("/ws/", params={"token": alice.token})
    early = await request(ws, "reports", {"action": "create", "data": report_body(patient["id"], time="1899-12-31")})
    assert (early["response_status"], early["errors"]) == (400, [{"time": [FLOOR]}])
    before = now()
    late = await request(
        ws, "patients", {"action": "patch", "pk": patient["id"], "data": {"dismissal_date": "9999-12-31T23:00:00Z"}}
    )
    after = now()
    assert late["response_status"] == 400
    [errors] = late["errors"]
    assert list(errors) == ["dismissal_date"] and errors["dismissal_date"][0] in ceilings(before, after)
    admitted = await request(ws, "patients", {"action": "create", "data": {**PATIENT, "admission_date": "1066-10-14"}})
    assert admitted["errors"] == [{"admission_date": [FLOOR]}]
    await ws.close()


# --- text limits ---------------------------------------------------------------


@pytest.mark.parametrize(
    "field, limit", [("diet", 200), ("warning_signs", 5000), ("additional_info", 5000), ("medical_advice", 5000)]
)
async def test_report_text_limits(client, alice, patient, field, limit) -> None:
    too_long = {field: [f"Ensure this field has no more than {limit} characters."]}
    resp = await client.post(
        "/api/reports/", json=report_body(patient["id"], **{field: "é" * (limit + 1)}), headers=alice.headers
    )
    assert (resp.status, await resp.json()) == (400, too_long)
    report = await create_report(client, alice, patient["id"], **{field: "é" * limit})
    assert report[field] == "é" * limit
    patched = await client.patch(
        f"/api/reports/{report['id']}/", json={field: "x" * (limit + 1)}, headers=alice.headers
    )
    assert (patched.status, await patched.json()) == (400, too_long)
    ws = await client.ws_connect("/ws/", params={"token": alice.token})
    over_ws = await request(
        ws, "reports", {"action": "create", "data": report_body(patient["id"], **{field: "x" * (limit + 1)})}
    )
    assert (over_ws["response_status"], over_ws["errors"]) == (400, [too_long])
    await ws.close()


@pytest.mark.parametrize(
    "path, method, field, limit",
    [
        ("/api/patients/", "POST", "first_name", 240),
        ("/api/patients/", "POST", "last_name", 240),
        ("/rest-auth/user/", "PATCH", "first_name", 150),
        ("/rest-auth/user/", "PATCH", "last_name", 150),
    ],
)
async def test_name_limits(client, alice, path, method, field, limit) -> None:
    body = {**PATIENT, field: "x" * (limit + 1)} if path == "/api/patients/" else {field: "x" * (limit + 1)}
    resp = await client.request(method, path, json=body, headers=alice.headers)
    assert (resp.status, await resp.json()) == (
        400,
        {field: [f"Ensure this field has no more than {limit} characters."]},
    )


async def test_change_reason_limit(client, alice, patient) -> None:
    await create_report(client, alice, patient["id"])
    [row] = await (await client.get("/api/history/", headers=alice.headers)).json()
    url = f"/api/history/{row['history_id']}/"
    resp = await client.patch(url, json={"history_change_reason": "x" * 101}, headers=alice.headers)
    assert (resp.status, await resp.json()) == (
        400,
        {"history_change_reason": ["Ensure this field has no more than 100 characters."]},
    )
    ok = await client.patch(url, json={"history_change_reason": "x" * 100}, headers=alice.headers)
    assert ok.status == 200


# --- no datetime reaches a 500, in any time zone ---------------------------------

ZONES = ["UTC", "Asia/Ho_Chi_Minh", "Pacific/Kiritimati", "Etc/GMT+12", "America/St_Johns", "Asia/Kathmandu"]
EXTREMES = [
    "9999-12-31T23:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59",
    "9999-12-31T12:00:00-12:00",
    "9999-12-31",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00",
    "0001-01-01T13:59:59+14:00",
    "0001-01-01",
    "1900-01-01T00:00",
    "1900-01-01T00:00:00Z",
    "1899-12-31T23:00:00-12:00",
]


@pytest.mark.parametrize("zone", ZONES)
async def test_extreme_datetimes_in_every_time_zone(aiohttp_client, settings, alice, zone) -> None:
    client = await aiohttp_client(create_app(settings.with_(clinical_timezone=zone)))
    patient = await create_patient(client, alice, admission_date="1900-01-01T00:00:00Z")
    for value in EXTREMES:
        before = now()
        for resp in (
            await client.post("/api/reports/", json=report_body(patient["id"], time=value), headers=alice.headers),
            await client.post("/api/patients/", json={**PATIENT, "admission_date": value}, headers=alice.headers),
        ):
            after = now()
            body = await resp.json()
            assert resp.status in (201, 400), (zone, value, resp.status, body)
            if resp.status == 400:
                [(field, [message])] = body.items()
                assert message in {FLOOR, OVERFLOW} | ceilings(before, after), (zone, value, body)
            elif "shift" in body:
                assert body["shift"] in ("D", "E", "N")
