"""/api/history/: the audit trail of reports (django-simple-history's rows),
its only edit (the change reason, by the row's author or staff, logged),
superuser deletes and restore."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from ..helpers import REPORT_FIELDS, create_patient, create_report, moment

HISTORY_FIELDS = ["history_id", "history_date", "history_change_reason", "history_type", "history_user"]
LOG = "history_change_reason_log"  # after the report's fields
FORBIDDEN = {"detail": "You do not have permission to perform this action."}


async def history(client: Any, account: Any, query: str = "") -> list[dict[str, Any]]:
    resp = await client.get(f"/api/history/{query}", headers=account.headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


def report_part(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in REPORT_FIELDS}


def summary(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["history_type"], r["id"], r["history_user"]) for r in rows]


async def test_every_write_leaves_one_row_by_its_author(client, alice, make_user) -> None:
    bob = make_user("bob")
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"], fever="38.5", pulse=100)
    assert summary(await history(client, alice)) == [("+", report["id"], alice.id)]

    patched = await client.patch(f"/api/reports/{report['id']}/", json={"pulse": 90}, headers=bob.headers)
    after_patch = await patched.json()
    rows = await history(client, alice)
    assert summary(rows) == [("~", report["id"], bob.id), ("+", report["id"], alice.id)]
    assert list(rows[0]) == HISTORY_FIELDS + REPORT_FIELDS + [LOG]
    assert rows[0][LOG] == rows[1][LOG] == []
    assert report_part(rows[0]) == report_part(after_patch)  # the values after the change
    assert report_part(rows[1]) == report_part(report)
    assert rows[0]["fever"] == "38.50" and rows[0]["history_change_reason"] is None
    assert rows[0]["history_date"].endswith("Z")
    assert moment(rows[0]["history_date"]) > moment(rows[1]["history_date"])

    deleted = await client.delete(f"/api/reports/{report['id']}/", headers=alice.headers)
    assert deleted.status == 204
    rows = await history(client, alice)
    assert summary(rows) == [("-", report["id"], alice.id), ("~", report["id"], bob.id), ("+", report["id"], alice.id)]
    assert report_part(rows[0]) == report_part(after_patch)  # the values before the delete


async def test_failed_writes_leave_no_history(client, alice) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"], bp_systolic=100)
    before = await history(client, alice)
    attempts = [
        (
            "POST",
            "/api/reports/",
            {"patient": 9999, "time": "2024-05-03T12:00:00Z", "status": "febrile", "monitoring_interval": 4},
        ),
        ("POST", "/api/reports/", {"patient": patient["id"]}),
        ("PATCH", f"/api/reports/{report['id']}/", {"pulse": 301}),
        ("PATCH", f"/api/reports/{report['id']}/", {"bp_diastolic": 120}),
        ("PATCH", f"/api/reports/{report['id']}/", {"patient": 9999}),
        ("DELETE", "/api/reports/999/", None),
    ]
    for method, url, body in attempts:
        resp = await client.request(method, url, json=body, headers=alice.headers)
        assert resp.status in (400, 404), (method, url)
    assert await history(client, alice) == before


async def test_list_filters_and_order(client, alice) -> None:
    first = await create_patient(client, alice)
    second = await create_patient(client, alice, first_name="Two")
    a = await create_report(client, alice, first["id"])
    b = await create_report(client, alice, second["id"])
    await client.patch(f"/api/reports/{a['id']}/", json={"pulse": 80}, headers=alice.headers)
    everything = await history(client, alice)
    assert [r["history_id"] for r in everything] == [3, 2, 1]  # newest first
    assert summary(await history(client, alice, f"?report={a['id']}")) == [
        ("~", a["id"], alice.id),
        ("+", a["id"], alice.id),
    ]
    assert summary(await history(client, alice, f"?patient={second['id']}")) == [("+", b["id"], alice.id)]
    assert await history(client, alice, f"?report={a['id']}&patient={second['id']}") == []
    assert await history(client, alice, "?report=999") == []
    page = await client.get("/api/history/?limit=1&offset=1", headers=alice.headers)
    body = await page.json()
    assert body["count"] == 3 and body["results"] == [everything[1]]
    assert body["next"] == str(client.make_url("/api/history/?limit=1&offset=2"))
    assert body["previous"] == str(client.make_url("/api/history/?limit=1"))


@pytest.mark.parametrize("query", ["report=abc", "patient=abc", "report=99999999999999999999", "report=1.5"])
async def test_bad_filters(client, alice, query) -> None:
    name = query.split("=")[0]
    resp = await client.get(f"/api/history/?{query}", headers=alice.headers)
    assert (resp.status, await resp.json()) == (
        400,
        {name: ["Select a valid choice. That choice is not one of the available choices."]},
    )


async def test_retrieve(client, alice) -> None:
    patient = await create_patient(client, alice)
    await create_report(client, alice, patient["id"])
    (row,) = await history(client, alice)
    resp = await client.get(f"/api/history/{row['history_id']}/", headers=alice.headers)
    assert (resp.status, await resp.json()) == (200, row)
    for pk, detail in (
        ("999", "No HistoricalReport matches the given query."),
        ("99999999999999999999", "No HistoricalReport matches the given query."),
        ("abc", "Not found."),
    ):
        missing = await client.get(f"/api/history/{pk}/", headers=alice.headers)
        assert (missing.status, await missing.json()) == (404, {"detail": detail})


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_edit_changes_only_the_reason(client, alice, method) -> None:
    patient = await create_patient(client, alice)
    await create_report(client, alice, patient["id"], pulse=100)
    (row,) = await history(client, alice)
    url = f"/api/history/{row['history_id']}/"
    resp = await client.request(
        method,
        url,
        headers=alice.headers,
        json={
            "history_change_reason": "checked by the night nurse",
            "pulse": 1,
            "history_type": "-",
            "history_user": 999,
            "id": 999,
            "history_date": "2000-01-01T00:00:00Z",
            LOG: [],
        },
    )
    assert resp.status == 200
    annotated = await resp.json()
    assert len(annotated[LOG]) == 1
    assert annotated == {**row, "history_change_reason": "checked by the night nurse", LOG: annotated[LOG]}
    ignored = await client.request(method, url, json={"pulse": 2}, headers=alice.headers)
    assert (ignored.status, await ignored.json()) == (200, annotated)
    cleared = await client.request(method, url, json={"history_change_reason": None}, headers=alice.headers)
    cleared_row = await cleared.json()
    assert {**cleared_row, LOG: []} == row
    assert [entry["previous"] for entry in cleared_row[LOG]] == [None, "checked by the night nurse"]
    too_long = await client.request(method, url, json={"history_change_reason": "x" * 101}, headers=alice.headers)
    assert (too_long.status, await too_long.json()) == (
        400,
        {"history_change_reason": ["Ensure this field has no more than 100 characters."]},
    )
    assert await history(client, alice) == [cleared_row]
    assert (await client.get(f"/api/reports/{row['id']}/", headers=alice.headers)).status == 200


async def test_every_change_of_the_reason_is_logged_oldest_first(client, alice, sql) -> None:
    patient = await create_patient(client, alice)
    await create_report(client, alice, patient["id"])
    (row,) = await history(client, alice)
    assert row[LOG] == []
    url = f"/api/history/{row['history_id']}/"

    before = dt.datetime.now(dt.UTC)
    first = await client.patch(url, json={"history_change_reason": "admission round"}, headers=alice.headers)
    after = dt.datetime.now(dt.UTC)
    assert first.status == 200
    (entry,) = (await first.json())[LOG]
    assert list(entry) == ["changed_by", "changed_at", "previous"]
    assert (entry["changed_by"], entry["previous"]) == (alice.id, None)
    assert entry["changed_at"].endswith("Z") and before <= moment(entry["changed_at"]) <= after

    second = await client.put(url, json={"history_change_reason": "night round"}, headers=alice.headers)
    body = await second.json()
    assert body["history_change_reason"] == "night round"
    assert body[LOG][0] == entry  # appended, the first entry as it was
    assert [(e["changed_by"], e["previous"]) for e in body[LOG]] == [(alice.id, None), (alice.id, "admission round")]
    assert moment(body[LOG][1]["changed_at"]) >= moment(entry["changed_at"])

    # The list (plain and paginated) and retrieve show the same log.
    assert (await history(client, alice)) == [body]
    paged = await (await client.get("/api/history/?limit=10", headers=alice.headers)).json()
    assert paged["results"] == [body]
    assert await (await client.get(url, headers=alice.headers)).json() == body

    # The same value again, or no reason at all in the body: nothing changes,
    # nothing is logged.
    for payload in ({"history_change_reason": "night round"}, {"pulse": 1}, {}):
        same = await client.patch(url, json=payload, headers=alice.headers)
        assert (same.status, await same.json()) == (200, body)
    assert sql("SELECT count(*) FROM report_history_reasons") == [(2,)]


async def test_concurrent_changes_log_an_unbroken_chain(client, alice) -> None:
    """Each entry's "previous" is the value the change before it set: none lost."""
    patient = await create_patient(client, alice)
    await create_report(client, alice, patient["id"])
    (row,) = await history(client, alice)
    url = f"/api/history/{row['history_id']}/"
    reasons = [f"reason {i}" for i in range(6)]
    replies = await asyncio.gather(
        *(client.patch(url, json={"history_change_reason": r}, headers=alice.headers) for r in reasons)
    )
    assert [r.status for r in replies] == [200] * len(reasons)
    (final,) = await history(client, alice)
    previous = [e["previous"] for e in final[LOG]]
    assert previous[0] is None and len(previous) == len(reasons)
    assert sorted([*previous[1:], final["history_change_reason"]]) == reasons


async def test_each_row_of_a_list_carries_its_own_log(client, alice) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"])
    for pulse in (80, 70, 60):
        await client.patch(f"/api/reports/{report['id']}/", json={"pulse": pulse}, headers=alice.headers)
    rows = await history(client, alice)
    assert [r["history_id"] for r in rows] == [4, 3, 2, 1]
    for history_id, reasons in ((3, ["a", "b"]), (1, ["c"])):
        for reason in reasons:
            resp = await client.patch(
                f"/api/history/{history_id}/", json={"history_change_reason": reason}, headers=alice.headers
            )
            assert resp.status == 200
    expected = {4: [], 3: [None, "a"], 2: [], 1: [None]}

    def previous(rows: list[dict[str, Any]]) -> dict[int, list[Any]]:
        return {r["history_id"]: [e["previous"] for e in r[LOG]] for r in rows}

    assert previous(await history(client, alice)) == expected
    assert previous(await history(client, alice, f"?report={report['id']}")) == expected
    for offset in range(4):
        page = await (await client.get(f"/api/history/?limit=1&offset={offset}", headers=alice.headers)).json()
        (row,) = page["results"]
        assert previous([row]) == {4 - offset: expected[4 - offset]}
        one = await (await client.get(f"/api/history/{row['history_id']}/", headers=alice.headers)).json()
        assert one == row


async def test_only_the_author_or_staff_change_the_reason(client, alice, admin, make_user, sql) -> None:
    bob = make_user("bob")
    nurse_lead = make_user("lead")
    sql("UPDATE users SET is_staff = true WHERE id = %s", (nurse_lead.id,))  # staff, not superuser
    patient = await create_patient(client, alice)
    await create_report(client, alice, patient["id"])
    (row,) = await history(client, alice)
    url = f"/api/history/{row['history_id']}/"

    # Permission is checked before the body is looked at (DRF's order).
    for body in ({"history_change_reason": "not mine"}, {"history_change_reason": "x" * 101}, {"pulse": 1}):
        for method in ("PATCH", "PUT"):
            refused = await client.request(method, url, json=body, headers=bob.headers)
            assert (refused.status, await refused.json()) == (403, FORBIDDEN)
    assert await history(client, alice) == [row]
    assert sql("SELECT count(*) FROM report_history_reasons") == [(0,)]
    missing = await client.patch("/api/history/999/", json={"history_change_reason": "x"}, headers=bob.headers)
    assert missing.status == 404

    by_staff = await client.patch(url, json={"history_change_reason": "by the lead"}, headers=nurse_lead.headers)
    assert by_staff.status == 200
    by_superuser = await client.patch(url, json={"history_change_reason": "by admin"}, headers=admin.headers)
    assert by_superuser.status == 200
    logged = (await by_superuser.json())[LOG]
    assert [(e["changed_by"], e["previous"]) for e in logged] == [(nurse_lead.id, None), (admin.id, "by the lead")]

    # A row without an author (history_user NULL) is for staff only.
    sql(
        "INSERT INTO report_history SELECT nextval('report_history_history_id_seq'), now(), NULL, '~', NULL, r.* "
        "FROM reports r"
    )
    orphan = (await history(client, alice))[0]
    assert orphan["history_user"] is None
    orphan_url = f"/api/history/{orphan['history_id']}/"
    assert (await client.patch(orphan_url, json={"history_change_reason": "x"}, headers=alice.headers)).status == 403
    assert (
        await client.patch(orphan_url, json={"history_change_reason": "x"}, headers=nurse_lead.headers)
    ).status == 200


async def test_a_superuser_delete_takes_the_log_with_the_row(client, alice, admin, sql) -> None:
    patient = await create_patient(client, alice)
    await create_report(client, alice, patient["id"])
    (row,) = await history(client, alice)
    url = f"/api/history/{row['history_id']}/"
    await client.patch(url, json={"history_change_reason": "checked"}, headers=alice.headers)
    assert sql("SELECT count(*) FROM report_history_reasons") == [(1,)]
    assert (await client.delete(url, headers=admin.headers)).status == 204
    assert sql("SELECT count(*) FROM report_history_reasons") == [(0,)]


async def test_edit_of_an_unknown_row_is_404_before_validation(client, alice) -> None:
    resp = await client.patch("/api/history/999/", json={"history_change_reason": "x" * 101}, headers=alice.headers)
    assert (resp.status, await resp.json()) == (404, {"detail": "No HistoricalReport matches the given query."})


async def test_only_a_superuser_deletes_history(client, alice, admin) -> None:
    patient = await create_patient(client, alice)
    await create_report(client, alice, patient["id"])
    (row,) = await history(client, alice)
    url = f"/api/history/{row['history_id']}/"
    refused = await client.delete(url, headers=alice.headers)
    assert (refused.status, await refused.json()) == (403, FORBIDDEN)
    assert "WWW-Authenticate" not in refused.headers
    assert await history(client, alice) == [row]
    allowed = await client.delete(url, headers=admin.headers)
    assert (allowed.status, await allowed.read()) == (204, b"")
    assert await history(client, alice) == []
    again = await client.delete(url, headers=admin.headers)
    assert (again.status, await again.json()) == (404, {"detail": "No HistoricalReport matches the given query."})
    assert (await client.get(f"/api/reports/{row['id']}/", headers=alice.headers)).status == 200


async def test_restore_an_existing_report(client, alice, make_user) -> None:
    bob = make_user("bob")
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"], pulse=100, fever="38.5")
    await client.patch(f"/api/reports/{report['id']}/", json={"pulse": 60, "fever": None}, headers=alice.headers)
    first = (await history(client, alice))[-1]
    resp = await client.post(f"/api/history/{first['history_id']}/restore/", headers=bob.headers)
    assert resp.status == 200
    restored = await resp.json()
    assert restored["id"] == report["id"]
    assert (restored["pulse"], restored["fever"], restored["created_by"]) == (100, "38.50", alice.id)
    assert list(restored)[-4:] == ["intake_total", "output_total", "fluid_balance", "shift"]
    assert await (await client.get(f"/api/reports/{report['id']}/", headers=alice.headers)).json() == restored
    newest = (await history(client, alice))[0]
    assert (newest["history_type"], newest["history_user"], newest["pulse"]) == ("~", bob.id, 100)
    assert newest["history_change_reason"] == f"Restored from history {first['history_id']}"
    assert len(await history(client, alice)) == 3


async def test_restore_a_deleted_report_keeps_its_id(client, alice, make_user) -> None:
    bob = make_user("bob")
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"], pulse=100)
    later = await create_report(client, alice, patient["id"], time="2024-05-03T13:00:00Z")
    await client.delete(f"/api/reports/{report['id']}/", headers=alice.headers)
    deletion = (await history(client, alice, f"?report={report['id']}"))[0]
    assert deletion["history_type"] == "-"
    resp = await client.post(f"/api/history/{deletion['history_id']}/restore/", headers=bob.headers)
    assert resp.status == 201
    restored = await resp.json()
    assert restored["id"] == report["id"] and restored["pulse"] == 100 and restored["created_by"] == alice.id
    assert restored["created_at"] == report["created_at"]
    listed = await (await client.get("/api/reports/", headers=alice.headers)).json()
    assert [r["id"] for r in listed] == [later["id"], report["id"]]
    newest = (await history(client, alice, f"?report={report['id']}"))[0]
    assert (newest["history_type"], newest["history_user"]) == ("+", bob.id)
    # Restoring again now updates the report that is back.
    again = await client.post(f"/api/history/{deletion['history_id']}/restore/", headers=alice.headers)
    assert again.status == 200
    # New reports still get fresh ids.
    fresh = await create_report(client, alice, patient["id"])
    assert fresh["id"] not in (report["id"], later["id"])


async def test_restore_errors(client, alice) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"])
    (row,) = await history(client, alice)
    for pk, detail in (
        ("999", "No HistoricalReport matches the given query."),
        ("99999999999999999999", "No HistoricalReport matches the given query."),
        ("abc", "Not found."),
    ):
        resp = await client.post(f"/api/history/{pk}/restore/", headers=alice.headers)
        assert (resp.status, await resp.json()) == (404, {"detail": detail})
    await client.delete(f"/api/patients/{patient['id']}/", headers=alice.headers)
    orphan = await client.post(f"/api/history/{row['history_id']}/restore/", headers=alice.headers)
    assert (orphan.status, await orphan.json()) == (
        409,
        {"detail": "The patient of this report no longer exists; it cannot be restored."},
    )
    assert (await client.get(f"/api/reports/{report['id']}/", headers=alice.headers)).status == 404
    assert [r["history_type"] for r in await history(client, alice)] == ["-", "+"]
