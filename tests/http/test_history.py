"""/api/history/: the audit trail of reports (django-simple-history's rows),
its only edit (the change reason), superuser deletes and restore."""

from __future__ import annotations

from typing import Any

import pytest

from ..helpers import REPORT_FIELDS, create_patient, create_report, moment

HISTORY_FIELDS = ["history_id", "history_date", "history_change_reason", "history_type", "history_user"]
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
    assert list(rows[0]) == HISTORY_FIELDS + REPORT_FIELDS
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
        },
    )
    assert resp.status == 200
    assert await resp.json() == {**row, "history_change_reason": "checked by the night nurse"}
    ignored = await client.request(method, url, json={"pulse": 2}, headers=alice.headers)
    assert (ignored.status, await ignored.json()) == (
        200,
        {**row, "history_change_reason": "checked by the night nurse"},
    )
    cleared = await client.request(method, url, json={"history_change_reason": None}, headers=alice.headers)
    assert await cleared.json() == row
    too_long = await client.request(method, url, json={"history_change_reason": "x" * 101}, headers=alice.headers)
    assert (too_long.status, await too_long.json()) == (
        400,
        {"history_change_reason": ["Ensure this field has no more than 100 characters."]},
    )
    assert await history(client, alice) == [row]
    assert (await client.get(f"/api/reports/{row['id']}/", headers=alice.headers)).status == 200


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
