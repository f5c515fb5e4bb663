"""/api/reports/ over REST: CRUD, the patient filter, derived fields, and how
decimals and datetimes travel."""

from __future__ import annotations

import pytest

from ..helpers import REPORT_FIELDS, create_patient, create_report, report_body, request

DERIVED = ["intake_total", "output_total", "fluid_balance", "shift"]
NULLABLE = [
    "day_of_fever",
    "fever",
    "pulse",
    "respirations",
    "bp_systolic",
    "bp_diastolic",
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
]
FULL = {
    "day_of_fever": 3,
    "fever": 38.5,
    "pulse": 100,
    "respirations": 20,
    "bp_systolic": 120,
    "bp_diastolic": 80,
    "diet": "soft",
    "oral_fluids": 500,
    "parenteral_fluids": 1000,
    "other_fluids": 50,
    "intake_8h": 1550,
    "urine_output": 400,
    "uf": 0,
    "emesis": 100,
    "drainage": 20,
    "output_8h": 520,
    "pain_score": 4,
    "abdominal_circumference": 80,
    "stools": 1,
    "urine_count": 3,
    "weight": "70.5",
    "height": 170,
    "o2_saturation": 97,
    "hematocrit": 42,
    "platelet_count": 150,
    "wbc_count": 4,
    "status": "critical",
    "warning_signs": "abdominal pain",
    "additional_info": "info",
    "medical_advice": "fluids",
}


async def test_create_with_every_field(client, alice) -> None:
    patient = await create_patient(client, alice)
    resp = await client.post("/api/reports/", json=report_body(patient["id"], **FULL), headers=alice.headers)
    assert resp.status == 201
    body = await resp.json()
    assert list(body) == REPORT_FIELDS + DERIVED
    sent = {k: v for k, v in FULL.items() if k not in ("fever", "weight", "wbc_count")}
    assert {k: body[k] for k in sent} == sent
    assert (body["fever"], body["weight"], body["wbc_count"]) == ("38.50", "70.50", "4.00")
    assert body["patient"] == patient["id"] and body["time"] == "2024-05-03T12:00:00Z"
    assert body["monitoring_interval"] == 4 and body["created_by"] == alice.id
    assert (body["intake_total"], body["output_total"], body["fluid_balance"], body["shift"]) == (1550, 520, 1030, "D")
    got = await client.get(f"/api/reports/{body['id']}/", headers=alice.headers)
    assert (got.status, await got.json()) == (200, body)


async def test_create_with_the_required_fields_only(client, alice) -> None:
    patient = await create_patient(client, alice)
    body = await create_report(client, alice, patient["id"])
    assert {k: body[k] for k in NULLABLE} == dict.fromkeys(NULLABLE)
    assert {k: body[k] for k in ("diet", "warning_signs", "additional_info", "medical_advice")} == dict.fromkeys(
        ("diet", "warning_signs", "additional_info", "medical_advice"), ""
    )
    assert body["status"] == "febrile"  # as sent: report_body always says the phase
    assert (body["intake_total"], body["output_total"], body["fluid_balance"]) == (0, 0, 0)


async def test_required_fields(client, alice) -> None:
    resp = await client.post("/api/reports/", json={}, headers=alice.headers)
    assert resp.status == 400
    assert await resp.json() == {
        "patient": ["This field is required."],
        "time": ["This field is required."],
        "status": ["This field is required."],
        "monitoring_interval": ["This field is required."],
    }


async def test_a_report_without_a_phase_is_refused_not_assumed_febrile(client, alice, sql) -> None:
    """As in the original model, which had no default: status is required on
    create and on PUT (PATCH may leave it out), over REST and the socket."""
    patient = await create_patient(client, alice)
    body = report_body(patient["id"])
    del body["status"]
    refused = await client.post("/api/reports/", json=body, headers=alice.headers)
    assert (refused.status, await refused.json()) == (400, {"status": ["This field is required."]})
    report = await create_report(client, alice, patient["id"], status="critical")
    url = f"/api/reports/{report['id']}/"
    put = await client.put(url, json=body, headers=alice.headers)
    assert (put.status, await put.json()) == (400, {"status": ["This field is required."]})
    patched = await client.patch(url, json={"pulse": 80}, headers=alice.headers)
    assert (patched.status, (await patched.json())["status"]) == (200, "critical")
    ws = await client.ws_connect("/ws/", params={"token": alice.token})
    over_ws = await request(ws, "reports", {"action": "create", "data": body})
    assert (over_ws["response_status"], over_ws["errors"]) == (400, [{"status": ["This field is required."]}])
    update = await request(ws, "reports", {"action": "update", "pk": report["id"], "data": body})
    assert (update["response_status"], update["errors"]) == (400, [{"status": ["This field is required."]}])
    await ws.close()
    assert sql("SELECT count(*), min(status) FROM reports") == [(1, "critical")]


async def test_created_by_is_the_acting_user_and_read_only(client, alice, make_user) -> None:
    bob = make_user("bob")
    patient = await create_patient(client, alice)
    report = await create_report(client, bob, patient["id"], created_by=alice.id)
    assert report["created_by"] == bob.id
    patched = await client.patch(
        f"/api/reports/{report['id']}/", json={"pulse": 90, "created_by": alice.id}, headers=alice.headers
    )
    body = await patched.json()
    assert (body["pulse"], body["created_by"]) == (90, bob.id)


@pytest.mark.parametrize(
    "sent, returned",
    [
        (38.5, "38.50"),
        (39, "39.00"),
        ("37.25", "37.25"),
        ("  40.1 ", "40.10"),
        ("4e1", "40.00"),
        (None, None),
        ("", None),
    ],  # "" is null for a nullable decimal, as with DRF
)
async def test_decimals_are_strings_with_two_places(client, alice, sent, returned) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"], fever=sent)
    assert report["fever"] == returned


@pytest.mark.parametrize(
    "sent, returned",
    [
        ("2024-05-02T08:30:00.123456+07:00", "2024-05-02T01:30:00.123456Z"),
        ("2024-05-02T08:30:00.5Z", "2024-05-02T08:30:00.500000Z"),
        ("2024-05-02T08:30", "2024-05-02T08:30:00Z"),
        ("2024-05-03", "2024-05-03T00:00:00Z"),
    ],
)
async def test_report_time(client, alice, sent, returned) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"], time=sent)
    assert report["time"] == returned


@pytest.mark.parametrize(
    "time, shift",
    [
        ("2024-05-03T06:59:59.999999Z", "N"),
        ("2024-05-03T07:00:00Z", "D"),
        ("2024-05-03T14:59:59Z", "D"),
        ("2024-05-03T15:00:00Z", "E"),
        ("2024-05-03T22:59:59Z", "E"),
        ("2024-05-03T23:00:00Z", "N"),
        ("2024-05-03T00:00:00Z", "N"),
        ("2024-05-03T08:00:00+02:00", "N"),  # 06:00 UTC
        ("2024-05-03T01:30:00+02:00", "N"),  # 23:30 UTC the day before
        ("2024-05-03T10:00:00-05:00", "E"),  # 15:00 UTC
    ],
)
async def test_shift_boundaries(client, alice, time, shift) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"], time=time)
    assert report["shift"] == shift


async def test_fluid_totals(client, alice) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(
        client,
        alice,
        patient["id"],
        oral_fluids=200,
        other_fluids=30,
        urine_output=500,
        drainage=10,
        intake_8h=9999,
        output_8h=9999,
    )
    assert (report["intake_total"], report["output_total"], report["fluid_balance"]) == (230, 510, -280)
    patched = await client.patch(
        f"/api/reports/{report['id']}/", json={"parenteral_fluids": 1000, "uf": 5}, headers=alice.headers
    )
    body = await patched.json()
    assert (body["intake_total"], body["output_total"], body["fluid_balance"]) == (1230, 515, 715)


async def test_list_newest_time_first_and_filter_by_patient(client, alice) -> None:
    first = await create_patient(client, alice)
    second = await create_patient(client, alice, first_name="Two")
    a = await create_report(client, alice, first["id"], time="2024-05-03T08:00:00Z")
    b = await create_report(client, alice, second["id"], time="2024-05-03T10:00:00Z")
    c = await create_report(client, alice, first["id"], time="2024-05-03T09:00:00Z")
    d = await create_report(client, alice, first["id"], time="2024-05-03T09:00:00Z")  # same time: newest id first
    everything = await client.get("/api/reports/", headers=alice.headers)
    assert (everything.status, await everything.json()) == (200, [b, d, c, a])
    mine = await client.get(f"/api/reports/?patient={first['id']}", headers=alice.headers)
    assert await mine.json() == [d, c, a]
    theirs = await client.get(f"/api/reports/?patient={second['id']}", headers=alice.headers)
    assert await theirs.json() == [b]
    blank = await client.get("/api/reports/?patient=", headers=alice.headers)
    assert await blank.json() == [b, d, c, a]
    paged = await client.get(f"/api/reports/?patient={first['id']}&limit=2&offset=1", headers=alice.headers)
    assert (await paged.json())["results"] == [c, a]


@pytest.mark.parametrize("value", ["abc", "1.5", "99999999999999999999", "%00"])
async def test_bad_patient_filter(client, alice, value) -> None:
    resp = await client.get(f"/api/reports/?patient={value}", headers=alice.headers)
    assert resp.status == 400
    assert await resp.json() == {"patient": ["Select a valid choice. That choice is not one of the available choices."]}


async def test_put_requires_every_required_field(client, alice) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"], pulse=100, fever=38)
    url = f"/api/reports/{report['id']}/"
    incomplete = await client.put(url, json={"pulse": 90}, headers=alice.headers)
    assert incomplete.status == 400
    assert await incomplete.json() == {
        "patient": ["This field is required."],
        "time": ["This field is required."],
        "status": ["This field is required."],
        "monitoring_interval": ["This field is required."],
    }
    resp = await client.put(
        url,
        json=report_body(patient["id"], time="2024-05-04T16:00:00Z", pulse=90, monitoring_interval=2, id=999),
        headers=alice.headers,
    )
    assert resp.status == 200
    body = await resp.json()
    assert (body["id"], body["time"], body["pulse"], body["monitoring_interval"], body["shift"]) == (
        report["id"],
        "2024-05-04T16:00:00Z",
        90,
        2,
        "E",
    )
    assert body["fever"] == "38.00"  # omitted on PUT: kept, as a DRF ModelSerializer does
    assert await (await client.get(url, headers=alice.headers)).json() == body


async def test_patch_can_move_a_report_to_another_patient(client, alice) -> None:
    first = await create_patient(client, alice)
    second = await create_patient(client, alice, first_name="Two")
    report = await create_report(client, alice, first["id"])
    resp = await client.patch(
        f"/api/reports/{report['id']}/", json={"patient": str(second["id"])}, headers=alice.headers
    )
    assert resp.status == 200 and (await resp.json())["patient"] == second["id"]
    unknown = await client.patch(f"/api/reports/{report['id']}/", json={"patient": 9999}, headers=alice.headers)
    assert (unknown.status, await unknown.json()) == (400, {"patient": ['Invalid pk "9999" - object does not exist.']})


async def test_patch_checks_blood_pressure_against_the_stored_values(client, alice) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"], bp_systolic=100, bp_diastolic=70)
    url = f"/api/reports/{report['id']}/"
    resp = await client.patch(url, json={"bp_diastolic": 110}, headers=alice.headers)
    assert (resp.status, await resp.json()) == (
        400,
        {"bp_diastolic": ["The diastolic pressure must not be above the systolic pressure."]},
    )
    equal = await client.patch(url, json={"bp_systolic": 70}, headers=alice.headers)
    assert equal.status == 200
    cleared = await client.patch(url, json={"bp_systolic": None, "bp_diastolic": 200}, headers=alice.headers)
    assert cleared.status == 200


async def test_delete(client, alice) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"])
    url = f"/api/reports/{report['id']}/"
    resp = await client.delete(url, headers=alice.headers)
    assert (resp.status, await resp.read()) == (204, b"")
    assert "Content-Type" not in resp.headers
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        gone = await client.request(method, url, json={}, headers=alice.headers)
        assert (gone.status, await gone.json()) == (404, {"detail": "No Report matches the given query."}), method
    patient_still = await client.get(f"/api/patients/{patient['id']}/", headers=alice.headers)
    assert patient_still.status == 200


@pytest.mark.parametrize(
    "pk, detail",
    [
        ("999", "No Report matches the given query."),
        ("99999999999999999999", "No Report matches the given query."),
        ("abc", "Not found."),
    ],
)
async def test_not_found(client, alice, pk, detail) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        resp = await client.request(method, f"/api/reports/{pk}/", json={"pulse": "x"}, headers=alice.headers)
        assert (resp.status, await resp.json()) == (404, {"detail": detail}), method
