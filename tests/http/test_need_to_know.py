"""Need-to-know over REST (issue 14, point 3): a user who is not staff sees
only the patients of their wards and those patients' reports, history and
notifications; staff see and do everything. Two wards, a nurse in each, a
staff user."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg2

from ..helpers import PATIENT, report_body, waiting_on_locks
from ..two_wards import FORBIDDEN, Seeded, Wards, no_such, not_found, seed, two_wards

NO_PATIENT = not_found("Patient")
NO_REPORT = not_found("Report")
NO_HISTORY = not_found("HistoricalReport")
NO_NOTIFICATION = not_found("Notification")


async def get(client: Any, account: Any, path: str) -> tuple[int, Any]:
    resp = await client.get(path, headers=account.headers)
    return resp.status, await resp.json()


async def ids(client: Any, account: Any, path: str, key: str = "id") -> list[int]:
    status, body = await get(client, account, path)
    assert status == 200, body
    return [row[key] for row in body]


async def setting(client: Any, sql: Any, make_user: Any) -> tuple[Wards, Seeded]:
    w = two_wards(sql, make_user)
    return w, await seed(client, sql, w)


# --- lists ----------------------------------------------------------------------


async def test_lists_hold_only_the_users_wards(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    pa, pb = s.patient_a["id"], s.patient_b["id"]
    ra, rb = s.report_a["id"], s.report_b["id"]
    for nurse, patient, report, history, note in (
        (w.nurse_a, pa, ra, s.history_a, s.note_a),
        (w.nurse_b, pb, rb, s.history_b, s.note_b),
    ):
        assert await ids(client, nurse, "/api/patients/") == [patient]
        assert await ids(client, nurse, "/api/reports/") == [report]
        assert await ids(client, nurse, "/api/history/", "history_id") == [history]
        assert await ids(client, nurse, "/api/notifications/") == [note]
    # staff: every ward, newest first
    assert await ids(client, w.staff, "/api/patients/") == [pb, pa]
    assert await ids(client, w.staff, "/api/reports/") == [rb, ra]
    assert await ids(client, w.staff, "/api/history/", "history_id") == [s.history_b, s.history_a]
    assert await ids(client, w.staff, "/api/notifications/") == [s.note_b, s.note_a]


async def test_filters_and_pages_never_reach_another_ward(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    pb = s.patient_b["id"]
    for path in (
        f"/api/reports/?patient={pb}",
        f"/api/history/?patient={pb}",
        f"/api/history/?report={s.report_b['id']}",
        f"/api/notifications/?patient={pb}",
        "/api/patients/?search=Bea",
        "/api/patients/?admitted=true&search=Bea",
    ):
        assert await get(client, w.nurse_a, path) == (200, []), path
    # the paginated shapes count only what the user may see
    for path in ("/api/patients/", "/api/reports/", "/api/history/", "/api/notifications/"):
        status, page = await get(client, w.nurse_a, f"{path}?limit=10")
        assert status == 200 and page["count"] == 1 and len(page["results"]) == 1, (path, page)
        status, page = await get(client, w.staff, f"{path}?limit=10")
        assert status == 200 and page["count"] == 2, (path, page)
        status, page = await get(client, w.nurse_a, f"{path}?cursor=")
        assert status == 200 and len(page["results"]) == 1 and page["next"] is None, (path, page)


async def test_a_nurse_of_both_wards_sees_both(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    both = make_user("float_nurse", wards=(w.a, w.b))
    assert await ids(client, both, "/api/patients/") == [s.patient_b["id"], s.patient_a["id"]]
    assert await ids(client, both, "/api/notifications/") == [s.note_b, s.note_a]


# --- details of another ward's records ---------------------------------------------


async def test_details_of_another_wards_records_are_404(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    other = {
        f"/api/patients/{s.patient_b['id']}/": NO_PATIENT,
        f"/api/reports/{s.report_b['id']}/": NO_REPORT,
        f"/api/history/{s.history_b}/": NO_HISTORY,
        f"/api/notifications/{s.note_b}/": NO_NOTIFICATION,
    }
    for path, body in other.items():
        assert await get(client, w.nurse_a, path) == (404, body), path
        status, seen = await get(client, w.staff, path)
        assert status == 200, (path, seen)
        status, seen = await get(client, w.nurse_b, path)
        assert status == 200, (path, seen)
    own = await get(client, w.nurse_a, f"/api/patients/{s.patient_a['id']}/")
    assert own == (200, s.patient_a)


async def test_writes_to_another_wards_records_are_404_and_change_nothing(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    h = w.nurse_a.headers
    pb, rb = s.patient_b["id"], s.report_b["id"]
    attempts = [
        (client.patch(f"/api/patients/{pb}/", json={"first_name": "X"}, headers=h), NO_PATIENT),
        (client.put(f"/api/patients/{pb}/", json={**PATIENT, "ward": w.a}, headers=h), NO_PATIENT),
        (client.delete(f"/api/patients/{pb}/", headers=h), NO_PATIENT),
        (client.patch(f"/api/reports/{rb}/", json={"pulse": 80}, headers=h), NO_REPORT),
        (client.put(f"/api/reports/{rb}/", json=report_body(s.patient_a["id"]), headers=h), NO_REPORT),
        (client.delete(f"/api/reports/{rb}/", headers=h), NO_REPORT),
        (client.patch(f"/api/history/{s.history_b}/", json={"history_change_reason": "x"}, headers=h), NO_HISTORY),
        (client.post(f"/api/history/{s.history_b}/restore/", headers=h), NO_HISTORY),
        (client.post(f"/api/notifications/{s.note_b}/acknowledge/", headers=h), NO_NOTIFICATION),
    ]
    events_before = sql("SELECT count(*) FROM events")
    for call, body in attempts:
        resp = await call
        assert (resp.status, await resp.json()) == (404, body), resp.url
    assert sql("SELECT count(*) FROM events") == events_before
    assert await get(client, w.nurse_b, f"/api/patients/{pb}/") == (200, s.patient_b)
    assert await get(client, w.nurse_b, f"/api/reports/{rb}/") == (200, s.report_b)
    status, note = await get(client, w.nurse_b, f"/api/notifications/{s.note_b}/")
    assert status == 200 and note["acknowledged_at"] is None


async def test_a_superuser_of_no_ward_may_delete_any_wards_history_row(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    root = make_user("root", superuser=True, wards=())
    resp = await client.delete(f"/api/history/{s.history_b}/", headers=root.headers)
    assert resp.status == 204
    assert await get(client, w.nurse_b, f"/api/history/{s.history_b}/") == (404, NO_HISTORY)


# --- creating and moving into another ward ----------------------------------------


async def test_creating_a_patient_in_another_ward_is_400_under_ward(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    for ward in (w.b, 999):
        resp = await client.post("/api/patients/", json={**PATIENT, "ward": ward}, headers=w.nurse_a.headers)
        assert (resp.status, await resp.json()) == (400, {"ward": [no_such(ward)]})
    # with two wards, the ward must be named
    resp = await client.post("/api/patients/", json=PATIENT, headers=w.nurse_a.headers)
    assert (resp.status, await resp.json()) == (400, {"ward": ["This field is required."]})
    assert sql("SELECT count(*) FROM patients") == [(0,)]
    # one's own ward, and staff in any
    resp = await client.post("/api/patients/", json={**PATIENT, "ward": w.a}, headers=w.nurse_a.headers)
    assert resp.status == 201 and (await resp.json())["ward"] == w.a
    for ward in (w.a, w.b):
        resp = await client.post("/api/patients/", json={**PATIENT, "ward": ward}, headers=w.staff.headers)
        assert resp.status == 201 and (await resp.json())["ward"] == ward


async def test_moving_ones_own_patient_to_another_ward_is_400(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    pa = s.patient_a["id"]
    patch = await client.patch(f"/api/patients/{pa}/", json={"ward": w.b}, headers=w.nurse_a.headers)
    assert (patch.status, await patch.json()) == (400, {"ward": [no_such(w.b)]})
    put = await client.put(f"/api/patients/{pa}/", json={**PATIENT, "ward": w.b}, headers=w.nurse_a.headers)
    assert (put.status, await put.json()) == (400, {"ward": [no_such(w.b)]})
    assert await get(client, w.nurse_a, f"/api/patients/{pa}/") == (200, s.patient_a)
    # a PUT without "ward" keeps the patient where they are
    put = await client.put(f"/api/patients/{pa}/", json={**PATIENT, "first_name": "Ann"}, headers=w.nurse_a.headers)
    assert put.status == 200 and (await put.json())["ward"] == w.a


async def test_staff_move_a_patient_and_sight_follows_the_ward(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    pa, ra = s.patient_a["id"], s.report_a["id"]
    resp = await client.patch(f"/api/patients/{pa}/", json={"ward": w.b}, headers=w.staff.headers)
    assert resp.status == 200
    moved = await resp.json()
    assert moved["ward"] == w.b
    assert await get(client, w.nurse_a, f"/api/patients/{pa}/") == (404, NO_PATIENT)
    assert await get(client, w.nurse_a, f"/api/reports/{ra}/") == (404, NO_REPORT)
    assert await ids(client, w.nurse_a, "/api/patients/") == []
    assert await ids(client, w.nurse_a, "/api/notifications/") == []
    assert await get(client, w.nurse_b, f"/api/patients/{pa}/") == (200, moved)
    assert await ids(client, w.nurse_b, "/api/reports/") == [s.report_b["id"], ra]
    assert await ids(client, w.nurse_b, "/api/history/", "history_id") == [s.history_b, s.history_a]
    assert await ids(client, w.nurse_b, "/api/notifications/") == [s.note_b, s.note_a]
    assert await ids(client, w.staff, f"/api/reports/?ward={w.b}") == [s.report_b["id"], ra]
    assert await ids(client, w.staff, f"/api/notifications/?ward={w.a}") == []


# A report, its history and notifications are filed under their patient's
# ward by the database (0013). Writes that race a move: whichever commits
# first, every row ends up in the ward the patient is in.


async def test_a_report_being_written_while_its_patient_moves_follows_the_patient(
    client, sql, make_user, database_url
) -> None:
    w, s = await setting(client, sql, make_user)
    pa = s.patient_a["id"]
    writer = psycopg2.connect(database_url)
    try:
        with writer.cursor() as cur:  # a report written, not yet committed
            cur.execute(
                "INSERT INTO reports (patient, time, monitoring_interval) VALUES (%s, now(), 4) RETURNING id", (pa,)
            )
            ((late,),) = cur.fetchall()
        move = asyncio.ensure_future(client.patch(f"/api/patients/{pa}/", json={"ward": w.b}, headers=w.staff.headers))
        await waiting_on_locks(sql, 1)  # the move waits for the writer
        writer.commit()
        assert (await move).status == 200
    finally:
        writer.close()
    assert sql("SELECT ward FROM reports WHERE id = %s", (late,)) == [(w.b,)]
    assert late in await ids(client, w.nurse_b, "/api/reports/")
    assert await ids(client, w.nurse_a, "/api/reports/") == []


async def test_a_report_written_while_its_patient_moves_lands_in_the_new_ward(
    client, sql, make_user, database_url
) -> None:
    w, s = await setting(client, sql, make_user)
    pa = s.patient_a["id"]
    mover = psycopg2.connect(database_url)
    try:
        with mover.cursor() as cur:  # a move, not yet committed
            cur.execute("UPDATE patients SET ward = %s WHERE id = %s", (w.b, pa))
        write = asyncio.ensure_future(
            client.post("/api/reports/", json=report_body(pa, warning_signs="vomiting"), headers=w.staff.headers)
        )
        await waiting_on_locks(sql, 1)  # the report waits for the move
        mover.commit()
        resp = await write
        assert resp.status == 201
        report = await resp.json()
    finally:
        mover.close()
    assert sql("SELECT ward FROM reports WHERE id = %s", (report["id"],)) == [(w.b,)]
    assert sql("SELECT DISTINCT ward FROM report_history WHERE id = %s", (report["id"],)) == [(w.b,)]
    assert sql("SELECT DISTINCT ward FROM notifications WHERE report = %s", (report["id"],)) == [(w.b,)]
    assert report["id"] in await ids(client, w.nurse_b, "/api/reports/")
    assert await ids(client, w.nurse_a, "/api/notifications/") == []


async def test_a_report_for_another_wards_patient_is_400_under_patient(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    pb = s.patient_b["id"]
    resp = await client.post("/api/reports/", json=report_body(pb), headers=w.nurse_a.headers)
    assert (resp.status, await resp.json()) == (400, {"patient": [no_such(pb)]})
    # nor can one's own report be moved to them
    ra = s.report_a["id"]
    resp = await client.patch(f"/api/reports/{ra}/", json={"patient": pb}, headers=w.nurse_a.headers)
    assert (resp.status, await resp.json()) == (400, {"patient": [no_such(pb)]})
    assert sql("SELECT patient FROM reports WHERE id = %s", (ra,)) == [(s.patient_a["id"],)]
    assert sql("SELECT count(*) FROM reports") == [(2,)]
    # staff may write a report for anyone
    resp = await client.post("/api/reports/", json=report_body(pb), headers=w.staff.headers)
    assert resp.status == 201


async def test_staff_see_and_do_everything(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    h = w.staff.headers
    pb, rb = s.patient_b["id"], s.report_b["id"]
    resp = await client.patch(f"/api/patients/{pb}/", json={"first_name": "Bee"}, headers=h)
    assert resp.status == 200
    resp = await client.patch(f"/api/reports/{rb}/", json={"pulse": 70}, headers=h)
    assert resp.status == 200
    resp = await client.patch(f"/api/history/{s.history_b}/", json={"history_change_reason": "checked"}, headers=h)
    assert resp.status == 200
    resp = await client.post(f"/api/history/{s.history_b}/restore/", headers=h)
    assert resp.status == 200
    resp = await client.post(f"/api/notifications/{s.note_b}/acknowledge/", headers=h)
    assert resp.status == 200 and (await resp.json())["acknowledged_by"] == w.staff.id
    resp = await client.delete(f"/api/reports/{rb}/", headers=h)
    assert resp.status == 204
    resp = await client.delete(f"/api/patients/{pb}/", headers=h)
    assert resp.status == 204


async def test_a_deleted_patients_history_stays_with_their_ward(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    resp = await client.delete(f"/api/patients/{s.patient_a['id']}/", headers=w.nurse_a.headers)
    assert resp.status == 204
    rows = await ids(client, w.nurse_a, f"/api/history/?report={s.report_a['id']}", "history_id")
    assert len(rows) == 2 and rows[-1] == s.history_a  # "-" (Patient deleted), then "+"
    assert await ids(client, w.nurse_b, "/api/history/", "history_id") == [s.history_b]
    assert await get(client, w.nurse_b, f"/api/history/{rows[0]}/") == (404, NO_HISTORY)
    status, row = await get(client, w.nurse_a, f"/api/history/{rows[0]}/")
    assert status == 200 and row["history_type"] == "-"


async def test_a_change_of_wards_applies_to_the_next_request(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    sql("INSERT INTO user_wards (user_id, ward) VALUES (%s, %s)", (w.nurse_a.id, w.b))
    assert await ids(client, w.nurse_a, "/api/patients/") == [s.patient_b["id"], s.patient_a["id"]]
    sql("DELETE FROM user_wards WHERE user_id = %s AND ward = %s", (w.nurse_a.id, w.a))
    assert await ids(client, w.nurse_a, "/api/patients/") == [s.patient_b["id"]]
    assert await get(client, w.nurse_a, f"/api/patients/{s.patient_a['id']}/") == (404, NO_PATIENT)


async def test_a_user_of_no_ward_sees_no_patient(client, sql, make_user) -> None:
    w, s = await setting(client, sql, make_user)
    nobody = make_user("new_nurse", wards=())
    for path in ("/api/patients/", "/api/reports/", "/api/history/", "/api/notifications/"):
        assert await get(client, nobody, path) == (200, []), path
    resp = await client.post("/api/patients/", json={**PATIENT, "ward": w.a}, headers=nobody.headers)
    assert (resp.status, await resp.json()) == (400, {"ward": [no_such(w.a)]})


async def test_non_staff_cannot_manage(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    for path in ("/api/users/", "/api/audit/", f"/api/users/{w.nurse_a.id}/"):
        assert await get(client, w.nurse_a, path) == (403, FORBIDDEN), path
