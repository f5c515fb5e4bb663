"""/api/audit/ (issue 14, point 6): every change to users, wards and ward
membership is recorded (who, what, before/after, when), listable by staff,
newest first, and nobody can change or delete an entry."""

from __future__ import annotations

from typing import Any

import psycopg2
import psycopg2.errors
import pytest

from ..helpers import moment
from ..two_wards import FORBIDDEN, not_found, two_wards
from .test_ward_cli import cli

ENTRY_KEYS = ["id", "at", "actor", "action", "target_type", "target_id", "before", "after"]


async def call(client: Any, method: str, path: str, account: Any, body: Any = None) -> tuple[int, Any]:
    resp = await client.request(method, path, json=body, headers=account.headers)
    text = await resp.text()
    return resp.status, (await resp.json() if text else None)


async def entries(client: Any, account: Any, query: str = "") -> list[dict[str, Any]]:
    status, body = await call(client, "GET", f"/api/audit/{query}", account)
    assert status == 200, body
    return body


def summary(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["actor"], r["action"], r["target_type"], r["target_id"], r["before"], r["after"]) for r in rows]


async def test_every_access_change_is_recorded_newest_first(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    root = make_user("root", superuser=True, wards=())
    assert await entries(client, w.staff) == []  # fixtures write SQL directly: nothing audited

    body = {"username": "new_nurse", "password": "a long new secret", "email": "nia@example.com", "wards": [w.a]}
    status, made = await call(client, "POST", "/api/users/", w.staff, body)
    assert status == 201
    uid = made["id"]
    status, _ = await call(client, "PATCH", f"/api/users/{uid}/", w.staff, {"first_name": "Nia", "wards": [w.a, w.b]})
    assert status == 200
    status, _ = await call(client, "PATCH", f"/api/users/{uid}/", w.staff, {"first_name": "Nia"})  # no change
    assert status == 200
    status, _ = await call(client, "PATCH", f"/api/users/{uid}/", root, {"is_staff": True})
    assert status == 200
    status, _ = await call(client, "POST", f"/api/users/{uid}/set_password/", w.staff, {"password": "another secret"})
    assert status == 200
    status, _ = await call(client, "PATCH", f"/api/users/{uid}/", w.staff, {"is_active": False})
    assert status == 200
    status, ward = await call(client, "POST", "/api/wards/", w.staff, {"name": "Ward C"})
    assert status == 201
    status, _ = await call(client, "PATCH", f"/api/wards/{ward['id']}/", w.staff, {"name": "Ward D"})
    assert status == 200
    status, _ = await call(client, "PATCH", f"/api/wards/{ward['id']}/", w.staff, {"name": "Ward D"})  # no change
    assert status == 200
    sql("INSERT INTO user_wards (user_id, ward) VALUES (%s, %s)", (w.nurse_a.id, ward["id"]))
    status, _ = await call(client, "DELETE", f"/api/wards/{ward['id']}/", w.staff)
    assert status == 204

    rows = await entries(client, w.staff)
    assert [list(r) for r in rows] == [ENTRY_KEYS] * len(rows)
    created_after = {
        "username": "new_nurse",
        "first_name": "",
        "last_name": "",
        "email": "nia@example.com",
        "is_active": True,
        "is_staff": False,
        "is_superuser": False,
        "wards": [w.a],
    }
    assert summary(rows) == [
        (w.staff.id, "ward.delete", "ward", ward["id"], {"name": "Ward D", "members": [w.nurse_a.id]}, None),
        (w.staff.id, "ward.update", "ward", ward["id"], {"name": "Ward C"}, {"name": "Ward D"}),
        (w.staff.id, "ward.create", "ward", ward["id"], None, {"name": "Ward C"}),
        (w.staff.id, "user.update", "user", uid, {"is_active": True}, {"is_active": False}),
        (w.staff.id, "user.set_password", "user", uid, None, {"sessions_ended": 0}),
        (root.id, "user.update", "user", uid, {"is_staff": False}, {"is_staff": True}),
        (
            w.staff.id,
            "user.update",
            "user",
            uid,
            {"first_name": "", "wards": [w.a]},
            {"first_name": "Nia", "wards": [w.a, w.b]},
        ),
        (w.staff.id, "user.create", "user", uid, None, created_after),
    ]
    times = [moment(r["at"]) for r in rows]
    assert times == sorted(times, reverse=True)
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    assert all("password" not in str(r["before"]) + str(r["after"]) for r in rows)
    status, one = await call(client, "GET", f"/api/audit/{rows[0]['id']}/", w.staff)
    assert (status, one) == (200, rows[0])
    assert await call(client, "GET", "/api/audit/999/", w.staff) == (404, not_found("AuditEntry"))


async def test_filter_by_user_and_limit(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    root = make_user("root", superuser=True, wards=())
    status, _ = await call(client, "PATCH", f"/api/users/{w.nurse_a.id}/", w.staff, {"first_name": "Ann"})
    assert status == 200
    status, _ = await call(client, "PATCH", f"/api/users/{w.nurse_b.id}/", root, {"first_name": "Bea"})
    assert status == 200
    status, _ = await call(client, "POST", "/api/wards/", root, {"name": "Ward C"})
    assert status == 201

    # ?user=: the entries by that user or about them
    about_a = await entries(client, w.staff, f"?user={w.nurse_a.id}")
    assert [(r["actor"], r["target_id"]) for r in about_a] == [(w.staff.id, w.nurse_a.id)]
    by_root = await entries(client, w.staff, f"?user={root.id}")
    assert [r["action"] for r in by_root] == ["ward.create", "user.update"]
    by_staff = await entries(client, w.staff, f"?user={w.staff.id}")
    assert [r["target_id"] for r in by_staff] == [w.nurse_a.id]
    assert await entries(client, w.staff, "?user=999") == []
    status, body = await call(client, "GET", "/api/audit/?user=abc", w.staff)
    assert (status, body) == (
        400,
        {"user": ["Select a valid choice. That choice is not one of the available choices."]},
    )

    status, page = await call(client, "GET", "/api/audit/?limit=2", w.staff)
    assert status == 200
    assert (page["count"], [r["action"] for r in page["results"]]) == (3, ["ward.create", "user.update"])
    assert page["next"] is not None and page["previous"] is None
    status, page = await call(client, "GET", f"/api/audit/?limit=1&user={root.id}", w.staff)
    assert (status, page["count"], [r["action"] for r in page["results"]]) == (200, 2, ["ward.create"])


async def test_only_staff_read_the_audit_log(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    status, _ = await call(client, "POST", "/api/wards/", w.staff, {"name": "Ward C"})
    assert status == 201
    ((entry_id,),) = sql("SELECT id FROM audit_log")
    for path in ("/api/audit/", "/api/audit/?limit=1", f"/api/audit/{entry_id}/", f"/api/audit/?user={w.staff.id}"):
        assert await call(client, "GET", path, w.nurse_a) == (403, FORBIDDEN), path
    # read-only over HTTP, for staff too
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        path = "/api/audit/" if method == "POST" else f"/api/audit/{entry_id}/"
        status, _ = await call(client, method, path, w.staff, {"action": "forged"})
        assert status == 405, method


def test_the_audit_log_is_append_only(sql, database_url) -> None:
    sql(
        "INSERT INTO audit_log (actor, action, target_type, target_id, after) "
        "VALUES (NULL, 'ward.create', 'ward', 1, '{\"name\": \"Dengue ward\"}')"
    )
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for statement in (
                "UPDATE audit_log SET action = 'forged'",
                "DELETE FROM audit_log",
            ):
                with pytest.raises(psycopg2.errors.IntegrityConstraintViolation) as raised:
                    cur.execute(statement)
                assert "audit_log is append-only" in str(raised.value)
    finally:
        conn.close()
    assert sql("SELECT action FROM audit_log") == [("ward.create",)]


async def test_the_command_line_is_audited_with_no_actor(settings, sql) -> None:
    code, _, err = await cli(settings, "wards", "create", "Ward C")
    assert code == 0, err
    code, _, err = await cli(
        settings, "createuser", "nia", "--password-stdin", "--ward", "Ward C", stdin="a long new secret\n"
    )
    assert code == 0, err
    code, _, err = await cli(settings, "deactivateuser", "nia")
    assert code == 0, err
    rows = sql("SELECT actor, action, target_type, before, after FROM audit_log ORDER BY id")
    assert rows == [
        (None, "ward.create", "ward", None, {"name": "Ward C"}),
        (
            None,
            "user.create",
            "user",
            None,
            {"username": "nia", "email": "", "is_staff": False, "is_superuser": False, "wards": [2]},
        ),
        (None, "user.update", "user", {"is_active": True}, {"is_active": False}),
    ]


async def test_a_users_changes_to_their_own_account_are_recorded(client, sql, make_user) -> None:
    """Every change to users is audited, those a user makes to their own
    account through dj-rest-auth's endpoints too: a new username, a new
    password (which ends their other sessions)."""
    w = two_wards(sql, make_user)
    resp = await client.patch("/rest-auth/user/", json={"username": "nurse_ann"}, headers=w.nurse_a.headers)
    assert resp.status == 200
    body = {
        "old_password": "correct horse battery",
        "new_password1": "a new long secret",
        "new_password2": "a new long secret",
    }
    resp = await client.post("/rest-auth/password/change/", json=body, headers=w.nurse_a.headers)
    assert resp.status == 200
    rows = await entries(client, w.staff, f"?user={w.nurse_a.id}")
    assert [(r["actor"], r["action"], r["target_id"]) for r in rows] == [
        (w.nurse_a.id, "user.set_password", w.nurse_a.id),
        (w.nurse_a.id, "user.update", w.nurse_a.id),
    ]
    assert (rows[1]["before"], rows[1]["after"]) == ({"username": "nurse_a"}, {"username": "nurse_ann"})
