"""/api/wards/ (issue 14, point 2): everyone reads, staff write, only an
empty ward can be deleted; and the old contract with one ward: a patient
created without "ward" goes to the only ward."""

from __future__ import annotations

from typing import Any

from ..helpers import PATIENT, create_patient, moment
from ..two_wards import FORBIDDEN, add_ward, no_such, not_found, two_wards

WARD_KEYS = ["id", "name", "created_at", "updated_at"]
NO_WARD = not_found("Ward")


async def call(client: Any, method: str, path: str, account: Any, body: Any = None) -> tuple[int, Any]:
    resp = await client.request(method, path, json=body, headers=account.headers)
    text = await resp.text()
    return resp.status, (await resp.json() if text else None)


async def test_everyone_lists_and_reads_the_wards(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    for account in (w.nurse_a, w.nurse_b, w.staff, make_user("nobody", wards=())):
        status, wards = await call(client, "GET", "/api/wards/", account)
        assert status == 200
        assert [list(ward) for ward in wards] == [WARD_KEYS] * 2
        assert [(ward["id"], ward["name"]) for ward in wards] == [(w.b, "Isolation ward"), (w.a, "Dengue ward")]
        status, one = await call(client, "GET", f"/api/wards/{w.b}/", account)
        assert (status, one) == (200, wards[0])
    assert await call(client, "GET", "/api/wards/999/", w.nurse_a) == (404, NO_WARD)
    resp = await client.get("/api/wards/")
    assert resp.status == 401


async def test_staff_create_and_rename_wards(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    status, made = await call(client, "POST", "/api/wards/", w.staff, {"name": "Paediatric ward"})
    assert status == 201
    assert list(made) == WARD_KEYS
    assert (made["id"], made["name"]) == (3, "Paediatric ward")
    assert made["created_at"] == made["updated_at"]
    assert sql("SELECT name FROM wards WHERE id = 3") == [("Paediatric ward",)]

    status, renamed = await call(client, "PATCH", "/api/wards/3/", w.staff, {"name": "Children's ward"})
    assert status == 200
    assert (renamed["id"], renamed["name"], renamed["created_at"]) == (3, "Children's ward", made["created_at"])
    assert moment(renamed["updated_at"]) > moment(made["updated_at"])
    status, put = await call(client, "PUT", "/api/wards/3/", w.staff, {"name": "Ward C"})
    assert (status, put["name"]) == (200, "Ward C")
    assert await call(client, "PATCH", "/api/wards/999/", w.staff, {"name": "X"}) == (404, NO_WARD)


async def test_bad_ward_names_are_400(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    taken = {"name": ["A ward with that name already exists."]}
    assert await call(client, "POST", "/api/wards/", w.staff, {"name": "Isolation ward"}) == (400, taken)
    assert await call(client, "PATCH", f"/api/wards/{w.a}/", w.staff, {"name": "Isolation ward"}) == (400, taken)
    assert await call(client, "POST", "/api/wards/", w.staff, {}) == (400, {"name": ["This field is required."]})
    blank = {"name": ["This field may not be blank."]}
    assert await call(client, "POST", "/api/wards/", w.staff, {"name": "   "}) == (400, blank)
    too_long = {"name": ["Ensure this field has no more than 100 characters."]}
    assert await call(client, "POST", "/api/wards/", w.staff, {"name": "x" * 101}) == (400, too_long)
    assert sql("SELECT id, name FROM wards ORDER BY id") == [(w.a, "Dengue ward"), (w.b, "Isolation ward")]


async def test_non_staff_cannot_write_wards(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    for method, path, body in (
        ("POST", "/api/wards/", {"name": "Mine"}),
        ("PATCH", f"/api/wards/{w.a}/", {"name": "Mine"}),
        ("PUT", f"/api/wards/{w.a}/", {"name": "Mine"}),
        ("DELETE", f"/api/wards/{w.b}/", None),
    ):
        assert await call(client, method, path, w.nurse_a, body) == (403, FORBIDDEN), (method, path)
    assert sql("SELECT id, name FROM wards ORDER BY id") == [(w.a, "Dengue ward"), (w.b, "Isolation ward")]


async def test_only_an_empty_ward_can_be_deleted(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    patient = await create_patient(client, w.nurse_b, ward=w.b)
    busy = {"detail": "The ward still has patients; move them to another ward first."}
    assert await call(client, "DELETE", f"/api/wards/{w.b}/", w.staff) == (409, busy)
    assert sql("SELECT count(*) FROM wards") == [(2,)]

    status, _ = await call(client, "PATCH", f"/api/patients/{patient['id']}/", w.staff, {"ward": w.a})
    assert status == 200
    assert await call(client, "DELETE", f"/api/wards/{w.b}/", w.staff) == (204, None)
    assert await call(client, "GET", f"/api/wards/{w.b}/", w.staff) == (404, NO_WARD)
    assert await call(client, "DELETE", f"/api/wards/{w.b}/", w.staff) == (404, NO_WARD)
    # its memberships went with it
    assert sql("SELECT ward FROM user_wards WHERE user_id = %s", (w.nurse_b.id,)) == []
    status, nurse_b = await call(client, "GET", f"/api/users/{w.nurse_b.id}/", w.staff)
    assert (status, nurse_b["wards"]) == (200, [])


async def test_a_ward_of_dismissed_patients_is_not_empty(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    patient = await create_patient(client, w.nurse_b, ward=w.b)
    status, _ = await call(
        client, "PATCH", f"/api/patients/{patient['id']}/", w.nurse_b, {"dismissal_date": "2024-05-10T10:00:00Z"}
    )
    assert status == 200
    status, _ = await call(client, "DELETE", f"/api/wards/{w.b}/", w.staff)
    assert status == 409


# --- the old contract: one ward that every user belongs to -----------------------


async def test_with_one_ward_a_patient_without_ward_goes_there(client, alice, make_user) -> None:
    bob = make_user("bob")
    resp = await client.post("/api/patients/", json=PATIENT, headers=alice.headers)
    assert resp.status == 201
    patient = await resp.json()
    assert patient["ward"] == 1
    # every user of the ward sees it, edits it, and a PUT without ward keeps it there
    resp = await client.put(
        f"/api/patients/{patient['id']}/", json={**PATIENT, "first_name": "Di"}, headers=bob.headers
    )
    assert resp.status == 200 and (await resp.json())["ward"] == 1
    resp = await client.get("/api/patients/", headers=bob.headers)
    assert [p["id"] for p in await resp.json()] == [patient["id"]]


async def test_with_two_wards_the_ward_is_required(client, sql, alice) -> None:
    add_ward(sql)
    resp = await client.post("/api/patients/", json=PATIENT, headers=alice.headers)
    assert (resp.status, await resp.json()) == (400, {"ward": ["This field is required."]})
    resp = await client.post("/api/patients/", json={**PATIENT, "ward": 2}, headers=alice.headers)
    assert (resp.status, await resp.json()) == (400, {"ward": [no_such(2)]})  # alice is in ward 1 only
    resp = await client.post("/api/patients/", json={**PATIENT, "ward": 1}, headers=alice.headers)
    assert resp.status == 201
    # a ward deleted again: one ward, and the old front end works as before
    sql("DELETE FROM wards WHERE id = 2")
    resp = await client.post("/api/patients/", json=PATIENT, headers=alice.headers)
    assert resp.status == 201 and (await resp.json())["ward"] == 1


async def test_patient_ward_must_be_an_id(client, alice) -> None:
    for bad, message in (
        ("one", "Incorrect type. Expected pk value, received str."),
        (None, "This field may not be null."),
    ):
        resp = await client.post("/api/patients/", json={**PATIENT, "ward": bad}, headers=alice.headers)
        assert (resp.status, await resp.json()) == (400, {"ward": [message]}), bad
