"""/api/users/ (issue 14, point 1): staff manage users; only superusers
touch the flags; the last active superuser stays; users are never deleted;
set_password and deactivation end every session and close the sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from ..conftest import PASSWORD
from ..helpers import create_patient, next_frame, request
from ..two_wards import FORBIDDEN, no_such, not_found, two_wards

USER_KEYS = [
    "id",
    "username",
    "first_name",
    "last_name",
    "email",
    "is_active",
    "is_staff",
    "is_superuser",
    "wards",
    "last_login",
    "date_joined",
]
NO_USER = not_found("User")
FLAGS_FORBIDDEN = {"detail": "Only superusers may change is_staff or is_superuser."}
SUPERUSER_ACCOUNT = {"detail": "Only superusers may change a superuser's account."}
LAST_SUPERUSER = "The last active superuser must stay an active superuser."
PASSWORD_SET = {"detail": "The password has been set; every session of the user has ended."}
SESSION_ENDED = 4401
NEW_NURSE = {
    "username": "new_nurse",
    "password": "a long new secret",
    "first_name": "Nia",
    "last_name": "Ward",
    "email": "nia@example.com",
}


async def call(client: Any, method: str, path: str, account: Any, body: Any = None) -> tuple[int, Any]:
    resp = await client.request(method, path, json=body, headers=account.headers)
    text = await resp.text()
    return resp.status, (await resp.json() if text else None)


async def login(client: Any, username: str, password: str) -> aiohttp.ClientResponse:
    return await client.post("/rest-auth/login/", json={"username": username, "password": password})


async def key_of(client: Any, username: str, password: str = PASSWORD) -> str:
    resp = await login(client, username, password)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["key"]


def by_token(key: str) -> dict[str, str]:
    return {"Authorization": f"Token {key}"}


async def closed_with(ws: Any, timeout: float = 1.0) -> int | None:
    async with asyncio.timeout(timeout):
        async for _ in ws:
            pass
    return ws.close_code


# --- who may ----------------------------------------------------------------------


async def test_users_api_is_for_staff_only(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    path = f"/api/users/{w.nurse_b.id}/"
    for method, url, body in (
        ("GET", "/api/users/", None),
        ("GET", "/api/users/?limit=1", None),
        ("GET", "/api/users/?cursor=", None),
        ("POST", "/api/users/", NEW_NURSE),
        ("GET", path, None),
        ("PATCH", path, {"first_name": "X"}),
        ("PUT", path, {"first_name": "X"}),
        ("PATCH", f"/api/users/{w.nurse_a.id}/", {"wards": [w.a, w.b]}),  # not even one's own wards
        ("POST", f"{path}set_password/", {"password": "a long new secret"}),
        ("GET", "/api/users/999/", None),
    ):
        assert await call(client, method, url, w.nurse_a, body) == (403, FORBIDDEN), (method, url)
    assert sql("SELECT count(*) FROM users") == [(3,)]
    assert sql("SELECT first_name FROM users WHERE id = %s", (w.nurse_b.id,)) == [("",)]
    resp = await client.get("/api/users/")
    assert resp.status == 401


# --- list and detail ----------------------------------------------------------------


async def test_staff_list_and_read_users(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    sql("UPDATE users SET first_name = 'Ann', last_name = 'Ay' WHERE id = %s", (w.nurse_a.id,))
    await key_of(client, "nurse_a")  # sets last_login
    status, users = await call(client, "GET", "/api/users/", w.staff)
    assert status == 200
    assert [list(u) for u in users] == [USER_KEYS] * 3
    assert [u["id"] for u in users] == [w.staff.id, w.nurse_b.id, w.nurse_a.id]  # newest first
    nurse_a = users[2]
    assert {k: v for k, v in nurse_a.items() if k not in ("last_login", "date_joined")} == {
        "id": w.nurse_a.id,
        "username": "nurse_a",
        "first_name": "Ann",
        "last_name": "Ay",
        "email": "nurse_a@example.com",
        "is_active": True,
        "is_staff": False,
        "is_superuser": False,
        "wards": [w.a],
    }
    assert nurse_a["last_login"] is not None and users[1]["last_login"] is None
    assert (users[0]["is_staff"], users[0]["wards"]) == (True, [])
    assert "password" not in nurse_a
    assert await call(client, "GET", f"/api/users/{w.nurse_a.id}/", w.staff) == (200, nurse_a)
    assert await call(client, "GET", "/api/users/999/", w.staff) == (404, NO_USER)
    status, page = await call(client, "GET", "/api/users/?limit=2", w.staff)
    assert (status, page["count"], [u["id"] for u in page["results"]]) == (200, 3, [w.staff.id, w.nurse_b.id])


# --- create -------------------------------------------------------------------------


async def test_staff_create_a_user_who_then_sees_their_wards(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    patient_b = await create_patient(client, w.staff, ward=w.b)
    await create_patient(client, w.staff, ward=w.a)
    status, made = await call(client, "POST", "/api/users/", w.staff, {**NEW_NURSE, "wards": [w.b]})
    assert status == 201, made
    assert list(made) == USER_KEYS
    assert {k: v for k, v in made.items() if k != "date_joined"} == {
        "id": made["id"],
        "username": "new_nurse",
        "first_name": "Nia",
        "last_name": "Ward",
        "email": "nia@example.com",
        "is_active": True,
        "is_staff": False,
        "is_superuser": False,
        "wards": [w.b],
        "last_login": None,
    }
    ((stored,),) = sql("SELECT password FROM users WHERE id = %s", (made["id"],))
    assert stored.startswith("$argon2id$") and "a long new secret" not in stored
    key = await key_of(client, "new_nurse", "a long new secret")
    resp = await client.get("/api/patients/", headers=by_token(key))
    assert [p["id"] for p in await resp.json()] == [patient_b["id"]]


async def test_creating_a_user_validates_like_django(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    cases = [
        (
            {**NEW_NURSE, "password": "short"},
            {"password": ["This password is too short. It must contain at least 8 characters."]},
        ),
        ({**NEW_NURSE, "password": "password"}, {"password": ["This password is too common."]}),
        ({**NEW_NURSE, "password": "83920174652"}, {"password": ["This password is entirely numeric."]}),
        ({**NEW_NURSE, "password": "new_nurse1"}, {"password": ["The password is too similar to the username."]}),
        ({**NEW_NURSE, "username": "nurse_a"}, {"username": ["A user with that username already exists."]}),
        (
            {**NEW_NURSE, "username": "no spaces"},
            {
                "username": [
                    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."
                ]
            },
        ),
        ({"password": "a long new secret"}, {"username": ["This field is required."]}),
        ({"username": "x"}, {"password": ["This field is required."]}),
        ({**NEW_NURSE, "wards": [w.a, 99]}, {"wards": [no_such(99)]}),
        ({**NEW_NURSE, "wards": w.a}, {"wards": ['Expected a list of items but got type "int".']}),
        ({**NEW_NURSE, "email": "not an address"}, {"email": ["Enter a valid email address."]}),
    ]
    for body, errors in cases:
        assert await call(client, "POST", "/api/users/", w.staff, body) == (400, errors), body
    assert sql("SELECT count(*) FROM users") == [(3,)]


async def test_staff_sending_flags_get_403_never_a_silent_ignore(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    for flags in ({"is_staff": True}, {"is_superuser": True}, {"is_staff": False}, {"is_superuser": False}):
        body = {**NEW_NURSE, **flags}
        assert await call(client, "POST", "/api/users/", w.staff, body) == (403, FLAGS_FORBIDDEN), flags
    assert sql("SELECT count(*) FROM users WHERE username = 'new_nurse'") == [(0,)]


async def test_superusers_make_staff_and_superusers(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    root = make_user("root", superuser=True, wards=())
    status, made = await call(client, "POST", "/api/users/", root, {**NEW_NURSE, "is_staff": True})
    assert (status, made["is_staff"], made["is_superuser"]) == (201, True, False)
    body = {**NEW_NURSE, "username": "root2", "is_superuser": True}
    status, made2 = await call(client, "POST", "/api/users/", root, body)
    assert (status, made2["is_staff"], made2["is_superuser"]) == (201, True, True)  # a superuser is staff
    status, _ = await call(client, "PATCH", f"/api/users/{w.nurse_a.id}/", root, {"is_staff": True})
    assert status == 200
    assert sql("SELECT is_staff FROM users WHERE id = %s", (w.nurse_a.id,)) == [(True,)]


# --- update ----------------------------------------------------------------------------


async def test_staff_edit_names_email_activity_and_wards(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    path = f"/api/users/{w.nurse_a.id}/"
    body = {"first_name": "Ann", "last_name": "Ay", "email": "ann@example.org", "wards": [w.b, w.a]}
    status, changed = await call(client, "PATCH", path, w.staff, body)
    assert status == 200
    assert (changed["first_name"], changed["last_name"], changed["email"], changed["wards"]) == (
        "Ann",
        "Ay",
        "ann@example.org",
        [w.a, w.b],
    )
    assert changed["username"] == "nurse_a"  # not changed here, whatever is sent
    status, again = await call(client, "PATCH", path, w.staff, {"username": "other", "wards": []})
    assert (status, again["username"], again["wards"]) == (200, "nurse_a", [])
    status, put = await call(client, "PUT", path, w.staff, {"first_name": "Anna"})  # PUT is partial too
    assert (status, put["first_name"], put["last_name"]) == (200, "Anna", "Ay")
    assert await call(client, "PATCH", "/api/users/999/", w.staff, {"first_name": "X"}) == (404, NO_USER)
    unknown = await call(client, "PATCH", path, w.staff, {"wards": [99]})
    assert unknown == (400, {"wards": [no_such(99)]})
    assert await call(client, "PATCH", path, w.staff, {"is_active": "maybe"}) == (
        400,
        {"is_active": ["Must be a valid boolean."]},
    )


async def test_staff_cannot_change_flags_or_superusers(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    root = make_user("root", superuser=True, wards=())
    for flags in ({"is_staff": True}, {"is_superuser": True}, {"is_staff": False}):
        status, body = await call(client, "PATCH", f"/api/users/{w.nurse_a.id}/", w.staff, {**flags, "first_name": "X"})
        assert (status, body) == (403, FLAGS_FORBIDDEN), flags
    status, body = await call(client, "PATCH", f"/api/users/{w.staff.id}/", w.staff, {"is_staff": False})
    assert (status, body) == (403, FLAGS_FORBIDDEN)
    status, body = await call(client, "PATCH", f"/api/users/{root.id}/", w.staff, {"first_name": "X"})
    assert (status, body) == (403, SUPERUSER_ACCOUNT)
    status, body = await call(client, "POST", f"/api/users/{root.id}/set_password/", w.staff, {"password": "x" * 12})
    assert (status, body) == (403, SUPERUSER_ACCOUNT)
    assert sql(
        "SELECT first_name, is_staff FROM users WHERE id IN (%s, %s) ORDER BY id", (w.nurse_a.id, w.staff.id)
    ) == [
        ("", False),
        ("", True),
    ]


async def test_the_last_active_superuser_stays(client, sql, make_user) -> None:
    root = make_user("root", superuser=True, wards=())
    path = f"/api/users/{root.id}/"
    for body, field in (
        ({"is_superuser": False}, "is_superuser"),
        ({"is_active": False}, "is_active"),
        ({"is_superuser": False, "is_active": False}, "is_active"),
    ):
        assert await call(client, "PATCH", path, root, body) == (400, {field: [LAST_SUPERUSER]}), body
    assert sql("SELECT is_active, is_superuser FROM users WHERE id = %s", (root.id,)) == [(True, True)]
    # an inactive superuser does not count
    sleeper = make_user("sleeper", superuser=True, active=False, wards=())
    assert await call(client, "PATCH", path, root, {"is_superuser": False}) == (400, {"is_superuser": [LAST_SUPERUSER]})
    # with a second active one, either may go
    status, _ = await call(client, "PATCH", f"/api/users/{sleeper.id}/", root, {"is_active": True})
    assert status == 200
    status, demoted = await call(client, "PATCH", path, root, {"is_superuser": False})
    assert (status, demoted["is_superuser"], demoted["is_staff"]) == (200, False, True)
    # and now the other is the last one
    other = make_user("other", superuser=True, wards=())
    status, _ = await call(client, "PATCH", f"/api/users/{other.id}/", other, {"is_active": False})
    assert status == 200
    assert await call(client, "PATCH", f"/api/users/{sleeper.id}/", sleeper, {"is_active": False}) == (
        400,
        {"is_active": [LAST_SUPERUSER]},
    )


async def test_users_are_never_deleted(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    root = make_user("root", superuser=True, wards=())
    for account in (w.staff, root):
        resp = await client.delete(f"/api/users/{w.nurse_a.id}/", headers=account.headers)
        assert (resp.status, await resp.json()) == (405, {"detail": 'Method "DELETE" not allowed.'})
        assert resp.headers["Allow"] == "GET, PUT, PATCH, HEAD, OPTIONS"
    assert sql("SELECT count(*) FROM users WHERE id = %s", (w.nurse_a.id,)) == [(1,)]


# --- set_password and deactivation end sessions and sockets -------------------------


async def test_set_password_ends_every_session_and_socket(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    other = await key_of(client, "nurse_a")
    ws = await client.ws_connect("/ws/", params={"token": w.nurse_a.token})
    assert (await request(ws, "patients", {"action": "list"}))["response_status"] == 200
    bystander = await client.ws_connect("/ws/", params={"token": w.nurse_b.token})

    path = f"/api/users/{w.nurse_a.id}/set_password/"
    assert await call(client, "POST", path, w.staff, {"password": "a brand new secret"}) == (200, PASSWORD_SET)
    assert await closed_with(ws) == SESSION_ENDED
    for key in (w.nurse_a.token, other):
        resp = await client.get("/api/patients/", headers=by_token(key))
        assert (resp.status, await resp.json()) == (401, {"detail": "Invalid token."})
    assert (await login(client, "nurse_a", PASSWORD)).status == 400
    await key_of(client, "nurse_a", "a brand new secret")
    # someone else's socket stays open
    assert (await request(bystander, "patients", {"action": "list"}))["response_status"] == 200
    await bystander.close()


async def test_set_password_applies_the_policy(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    path = f"/api/users/{w.nurse_a.id}/set_password/"
    for body, errors in (
        ({"password": "short"}, {"password": ["This password is too short. It must contain at least 8 characters."]}),
        ({"password": "nurse_a_123"}, {"password": ["The password is too similar to the username."]}),
        ({"password": "nurse_a@example.com"}, {"password": ["The password is too similar to the email address."]}),
        ({"password": "password1"}, {"password": ["This password is too common."]}),
        ({}, {"password": ["This field is required."]}),
        ({"password": ""}, {"password": ["This field may not be blank."]}),
    ):
        assert await call(client, "POST", path, w.staff, body) == (400, errors), body
    assert await call(client, "POST", "/api/users/999/set_password/", w.staff, {"password": "x"}) == (404, NO_USER)
    # nothing ended
    resp = await client.get("/api/patients/", headers=w.nurse_a.headers)
    assert resp.status == 200
    resp = await client.get(path, headers=w.staff.headers)
    assert resp.status == 405


async def test_deactivation_ends_sessions_and_closes_sockets_at_once(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    ws = await client.ws_connect("/ws/", params={"token": w.nurse_a.token})
    assert (await request(ws, "patients", {"action": "list"}))["response_status"] == 200
    status, body = await call(client, "PATCH", f"/api/users/{w.nurse_a.id}/", w.staff, {"is_active": False})
    assert (status, body["is_active"]) == (200, False)
    assert await closed_with(ws) == SESSION_ENDED
    resp = await client.get("/api/patients/", headers=w.nurse_a.headers)
    assert (resp.status, await resp.json()) == (401, {"detail": "Invalid token."})
    resp = await login(client, "nurse_a", PASSWORD)
    assert (resp.status, await resp.json()) == (
        400,
        {"non_field_errors": ["Unable to log in with provided credentials."]},
    )
    assert sql("SELECT count(*) FROM auth_sessions WHERE user_id = %s", (w.nurse_a.id,)) == [(0,)]
    # reactivated: may log in again
    status, body = await call(client, "PATCH", f"/api/users/{w.nurse_a.id}/", w.staff, {"is_active": True})
    assert (status, body["is_active"]) == (200, True)
    await key_of(client, "nurse_a")


async def test_a_ward_change_applies_to_an_open_socket(client, sql, make_user) -> None:
    """The in-process variant; tests/realtime/test_ward_processes.py does it across processes."""
    w = two_wards(sql, make_user)
    patient_b = await create_patient(client, w.staff, ward=w.b)
    ws = await client.ws_connect("/ws/", params={"token": w.nurse_a.token})
    assert (await request(ws, "patients", {"action": "list"}))["data"] == []
    status, _ = await call(client, "PATCH", f"/api/users/{w.nurse_a.id}/", w.staff, {"wards": [w.a, w.b]})
    assert status == 200
    gained = await next_frame(ws, timeout=1.0)
    assert (gained["payload"]["action"], gained["payload"]["data"]) == ("create", {**patient_b, "pk": patient_b["id"]})
    listed = await request(ws, "patients", {"action": "list"})
    assert [p["id"] for p in listed["data"]] == [patient_b["id"]]
    await ws.close()


async def test_two_superusers_deactivated_at_once_while_a_third_stays(client, sql, make_user, database_url) -> None:
    """Each write counts the other active superusers under their row locks;
    two such writes at once must queue, not deadlock. Forced interleaving:
    a transaction of ours holds the middle superuser's row, so the first
    write waits there holding its target, the second holds its own target
    and waits for the first's; then ours lets go."""
    import psycopg2

    from ..helpers import waiting_on_locks

    first, middle, last = (make_user(name, superuser=True, wards=()) for name in ("su1", "su2", "su3"))
    holder = psycopg2.connect(database_url)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT id FROM users WHERE id = %s FOR UPDATE", (middle.id,))
        one = asyncio.create_task(call(client, "PATCH", f"/api/users/{first.id}/", middle, {"is_active": False}))
        await waiting_on_locks(sql, 1)
        two = asyncio.create_task(call(client, "PATCH", f"/api/users/{last.id}/", middle, {"is_active": False}))
        await waiting_on_locks(sql, 2)
    finally:
        holder.rollback()
        holder.close()
    (status_one, body_one), (status_two, body_two) = await asyncio.gather(one, two)
    assert (status_one, body_one["is_active"]) == (200, False), body_one
    assert (status_two, body_two["is_active"]) == (200, False), body_two
    assert sql("SELECT username FROM users WHERE is_superuser AND is_active") == [("su2",)]


async def test_users_and_wards_take_if_match(client, sql, make_user) -> None:
    w = two_wards(sql, make_user)
    stale = {"detail": "This record was changed by someone else since you loaded it."}
    for path, change in ((f"/api/users/{w.nurse_a.id}/", {"first_name": "Ann"}), (f"/api/wards/{w.b}/", {"name": "B"})):
        resp = await client.get(path, headers=w.staff.headers)
        tag = resp.headers["ETag"]
        resp = await client.patch(path, json=change, headers={**w.staff.headers, "If-Match": tag})
        assert resp.status == 200
        resp = await client.patch(path, json=change, headers={**w.staff.headers, "If-Match": tag})
        assert (resp.status, await resp.json()) == (412, stale)


async def test_a_user_created_without_wards_joins_the_only_ward(client, sql, make_user) -> None:
    """As createuser does: while exactly one ward exists, a user made without
    ``wards`` belongs to it (with two, to none)."""
    boss = make_user("boss", staff=True)
    status, created = await call(client, "POST", "/api/users/", boss, NEW_NURSE)
    assert (status, created["wards"]) == (201, [1])
    w = two_wards(sql, make_user)
    status, other = await call(client, "POST", "/api/users/", w.staff, {**NEW_NURSE, "username": "second"})
    assert (status, other["wards"]) == (201, [])


async def test_deleting_a_ward_updates_its_members_open_sockets(client, sql, make_user) -> None:
    """The ward leaves its members' rights at once: every process is told
    (the internal event that re-authorises their sockets), and the member's
    socket carries on with their other ward."""
    w = two_wards(sql, make_user)
    status, spare = await call(client, "POST", "/api/wards/", w.staff, {"name": "Spare"})
    assert status == 201
    status, _ = await call(client, "PATCH", f"/api/users/{w.nurse_a.id}/", w.staff, {"wards": [w.a, spare["id"]]})
    assert status == 200
    ws = await client.ws_connect("/ws/", params={"token": w.nurse_a.token})
    await request(ws, "patients", {"action": "list"})
    status, _ = await call(client, "DELETE", f"/api/wards/{spare['id']}/", w.staff)
    assert status == 204
    me = await call(client, "GET", "/rest-auth/user/", w.nurse_a)
    assert me[1]["wards"] == [w.a]
    ((told,),) = sql(
        "SELECT data::jsonb -> 'wards' FROM events WHERE stream = '_auth' AND action = 'user_changed' "
        "AND object_id = %s ORDER BY id DESC LIMIT 1",
        (w.nurse_a.id,),
    )
    assert told == [w.a]
    # a change in the nurse's own ward still arrives, in order after the delete
    patient = await create_patient(client, w.staff, ward=w.a, first_name="After")
    frame = await next_frame(ws, lambda f: f["payload"].get("event_id") is not None, timeout=5)
    assert (frame["payload"]["action"], frame["payload"]["data"]["id"]) == ("create", patient["id"])
    await ws.close()
