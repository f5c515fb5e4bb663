"""dj-rest-auth over REST (login, logout, the user's details), DRF's token
authentication errors, and the user management command line."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sys
from typing import Any

import pytest

from ..conftest import PASSWORD, ROOT

LOGIN_FAILED = {"non_field_errors": ["Unable to log in with provided credentials."]}
USERNAME_INVALID = ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]


async def login(client: Any, username: str, password: str, path: str = "/rest-auth/login/") -> Any:
    return await client.post(path, json={"username": username, "password": password})


async def token_of(client: Any, username: str, password: str) -> str:
    resp = await login(client, username, password)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["key"]


def token(key: str) -> dict[str, str]:
    return {"Authorization": f"Token {key}"}


# --- login -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/rest-auth/login/", "/rest-auth/login"])
async def test_every_login_is_a_new_session_with_its_own_key(client, alice, path) -> None:
    first = await login(client, "alice", PASSWORD, path)
    assert first.status == 200
    body = await first.json()
    assert list(body) == ["key"] and re.fullmatch(r"[0-9a-f]{40}", body["key"])
    again = await token_of(client, "alice", PASSWORD)
    assert len({body["key"], again, alice.token}) == 3  # one key per device
    for key in (body["key"], again, alice.token):
        assert (await client.get("/rest-auth/user/", headers=token(key))).status == 200


async def test_the_database_holds_no_usable_key(client, make_user, sql) -> None:
    bob = make_user("bob", token=False)
    key = await token_of(client, "bob", PASSWORD)
    stored = sql("SELECT * FROM auth_sessions WHERE user_id = %s", (bob.id,))
    assert len(stored) == 1
    assert key not in repr(stored) and key.encode() not in b"".join(
        bytes(v) if isinstance(v, memoryview) else str(v).encode() for v in stored[0]
    )
    assert sql("SELECT encode(key_hash, 'hex') FROM auth_sessions WHERE user_id = %s", (bob.id,)) == [
        (hashlib.sha256(key.encode()).hexdigest(),)
    ]
    me = await client.get("/rest-auth/user/", headers=token(key))
    assert (await me.json())["username"] == "bob"


async def test_login_by_email(client, alice) -> None:
    resp = await client.post("/rest-auth/login/", json={"email": "alice@example.com", "password": PASSWORD})
    assert resp.status == 200
    key = (await resp.json())["key"]
    me = await client.get("/rest-auth/user/", headers=token(key))
    assert (await me.json())["username"] == "alice"


async def test_login_failures_all_look_the_same(client, alice, make_user) -> None:
    make_user("sleepy", active=False)
    attempts = [
        {"username": "alice", "password": "wrong password"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "sleepy", "password": PASSWORD},
        {"password": PASSWORD},
        {"username": "", "password": PASSWORD},
    ]
    for body in attempts:
        resp = await client.post("/rest-auth/login/", json=body)
        assert (resp.status, await resp.json()) == (400, LOGIN_FAILED), body


@pytest.mark.parametrize(
    "body, expected",
    [
        ({}, {"password": ["This field is required."]}),
        ({"username": "alice"}, {"password": ["This field is required."]}),
        ({"username": "alice", "password": ""}, {"password": ["This field may not be blank."]}),
        ({"username": "alice", "password": None}, {"password": ["This field may not be null."]}),
    ],
)
async def test_login_validation(client, alice, body, expected) -> None:
    resp = await client.post("/rest-auth/login/", json=body)
    assert resp.status == 400
    assert await resp.json() == expected


async def test_login_with_an_empty_body(client) -> None:
    resp = await client.post("/rest-auth/login/")
    assert (resp.status, await resp.json()) == (400, {"password": ["This field is required."]})


async def test_login_accepts_a_form(client, alice) -> None:
    resp = await client.post("/rest-auth/login/", data={"username": "alice", "password": PASSWORD})
    assert resp.status == 200 and re.fullmatch(r"[0-9a-f]{40}", (await resp.json())["key"])


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_login_only_posts(client, method) -> None:
    resp = await client.request(method, "/rest-auth/login/")
    assert resp.status == 405
    assert await resp.json() == {"detail": f'Method "{method}" not allowed.'}
    assert resp.headers["Allow"] == "POST, OPTIONS"


# --- logout ------------------------------------------------------------------


async def test_logout_ends_only_the_callers_session(client, alice) -> None:
    other_device = await token_of(client, "alice", PASSWORD)
    resp = await client.post("/rest-auth/logout/", headers=alice.headers)
    assert (resp.status, await resp.json()) == (200, {"detail": "Successfully logged out."})
    after = await client.get("/api/patients/", headers=alice.headers)
    assert (after.status, await after.json()) == (401, {"detail": "Invalid token."})
    assert after.headers["WWW-Authenticate"] == "Token"
    assert (await client.get("/api/patients/", headers=token(other_device))).status == 200


async def test_logout_without_slash(client, alice) -> None:
    resp = await client.post("/rest-auth/logout", headers=alice.headers)
    assert (resp.status, await resp.json()) == (200, {"detail": "Successfully logged out."})


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer abc"}])
async def test_logout_without_credentials(client, headers) -> None:
    resp = await client.post("/rest-auth/logout/", headers=headers)
    assert (resp.status, await resp.json()) == (200, {"detail": "Successfully logged out."})


async def test_logout_with_a_bad_token(client, alice) -> None:
    resp = await client.post("/rest-auth/logout/", headers=token("0" * 40))
    assert (resp.status, await resp.json()) == (401, {"detail": "Invalid token."})
    assert resp.headers["WWW-Authenticate"] == "Token"
    still = await client.get("/rest-auth/user/", headers=alice.headers)
    assert still.status == 200


async def test_logout_get_is_not_allowed(client, alice) -> None:
    resp = await client.get("/rest-auth/logout/", headers=alice.headers)
    assert (resp.status, await resp.json()) == (405, {"detail": 'Method "GET" not allowed.'})
    assert (await client.get("/rest-auth/user/", headers=alice.headers)).status == 200


# --- user details ------------------------------------------------------------

ALICE = {
    "pk": None,
    "username": "alice",
    "email": "alice@example.com",
    "first_name": "",
    "last_name": "",
    "is_staff": False,
    "is_superuser": False,
    "wards": [1],
}


async def test_user_details(client, alice) -> None:
    resp = await client.get("/rest-auth/user/", headers=alice.headers)
    assert resp.status == 200
    assert await resp.json() == {**ALICE, "pk": alice.id}
    assert resp.headers["Content-Type"] == "application/json"


async def test_user_details_patch_is_partial_and_ignores_read_only(client, alice) -> None:
    resp = await client.patch(
        "/rest-auth/user/",
        headers=alice.headers,
        json={"first_name": "Alice", "email": "evil@example.com", "pk": 999, "id": 999},
    )
    assert resp.status == 200
    expected = {**ALICE, "pk": alice.id, "first_name": "Alice"}
    assert await resp.json() == expected
    again = await client.get("/rest-auth/user/", headers=alice.headers)
    assert await again.json() == expected


async def test_user_details_put_requires_username(client, alice) -> None:
    resp = await client.put("/rest-auth/user/", headers=alice.headers, json={"first_name": "A"})
    assert (resp.status, await resp.json()) == (400, {"username": ["This field is required."]})
    ok = await client.put(
        "/rest-auth/user/", headers=alice.headers, json={"username": "alice2", "last_name": "Liddell"}
    )
    assert ok.status == 200
    assert await ok.json() == {**ALICE, "pk": alice.id, "username": "alice2", "last_name": "Liddell"}
    assert (await login(client, "alice2", PASSWORD)).status == 200


@pytest.mark.parametrize(
    "username, errors",
    [
        ("bad name!", USERNAME_INVALID),
        ("", ["This field may not be blank."]),
        ("x" * 151, ["Ensure this field has no more than 150 characters."]),
        ("a²", USERNAME_INVALID),  # a Unicode digit Python accepts but the database refuses
    ],
)
async def test_user_details_username_validation(client, alice, username, errors) -> None:
    resp = await client.patch("/rest-auth/user/", headers=alice.headers, json={"username": username})
    assert (resp.status, await resp.json()) == (400, {"username": errors})


async def test_user_details_unicode_username(client, alice) -> None:
    resp = await client.patch("/rest-auth/user/", headers=alice.headers, json={"username": "Jörg.o+1@x-y_z"})
    assert resp.status == 200 and (await resp.json())["username"] == "Jörg.o+1@x-y_z"


async def test_user_details_username_must_be_unique(client, alice, make_user) -> None:
    make_user("bob")
    resp = await client.patch("/rest-auth/user/", headers=alice.headers, json={"username": "bob"})
    assert (resp.status, await resp.json()) == (400, {"username": ["A user with that username already exists."]})
    unchanged = await client.get("/rest-auth/user/", headers=alice.headers)
    assert (await unchanged.json())["username"] == "alice"


@pytest.mark.parametrize("method", ["DELETE", "POST"])
async def test_user_details_methods_not_allowed(client, alice, method) -> None:
    resp = await client.request(method, "/rest-auth/user/", headers=alice.headers)
    assert (resp.status, await resp.json()) == (405, {"detail": f'Method "{method}" not allowed.'})
    assert resp.headers["Allow"] == "GET, PUT, PATCH, HEAD, OPTIONS"


async def test_user_details_need_authentication(client) -> None:
    for method in ("GET", "PUT", "PATCH"):
        resp = await client.request(method, "/rest-auth/user/", json={"username": "x"})
        assert resp.status == 401
        assert await resp.json() == {"detail": "Authentication credentials were not provided."}


async def test_password_is_never_returned(client, alice, sql) -> None:
    ((stored,),) = sql("SELECT password FROM users WHERE id = %s", (alice.id,))
    assert stored.startswith("$argon2id$")
    for resp in (
        await client.get("/rest-auth/user/", headers=alice.headers),
        await client.patch("/rest-auth/user/", json={"first_name": "A"}, headers=alice.headers),
        await login(client, "alice", PASSWORD),
    ):
        text = await resp.text()
        assert resp.status == 200 and "password" not in text and "argon" not in text


# --- token authentication (wire-protocol 5.3) --------------------------------

NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize(
    "header, detail",
    [
        (None, NOT_PROVIDED["detail"]),
        ("", NOT_PROVIDED["detail"]),
        ("Bearer abc", NOT_PROVIDED["detail"]),
        ("Basic YWxpY2U6c2VjcmV0", NOT_PROVIDED["detail"]),
        ("Token " + "0" * 40, "Invalid token."),
        ("Token nonsense", "Invalid token."),
        ("Token", "Invalid token header. No credentials provided."),
        ("Token   ", "Invalid token header. No credentials provided."),
        ("Token a b", "Invalid token header. Token string should not contain spaces."),
    ],
)
async def test_401_variants(client, alice, header, detail) -> None:
    headers = {} if header is None else {"Authorization": header}
    resp = await client.get("/api/patients/", headers=headers)
    assert resp.status == 401
    assert await resp.json() == {"detail": detail}
    assert resp.headers["WWW-Authenticate"] == "Token"
    assert resp.headers["Content-Type"] == "application/json"


async def test_token_of_an_inactive_user(client, make_user) -> None:
    sleepy = make_user("sleepy", active=False)
    resp = await client.get("/api/patients/", headers=sleepy.headers)
    assert (resp.status, await resp.json()) == (401, {"detail": "User inactive or deleted."})
    assert resp.headers["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("keyword", ["token", "TOKEN", "Token"])
async def test_token_keyword_is_case_insensitive(client, alice, keyword) -> None:
    resp = await client.get("/api/patients/", headers={"Authorization": f"{keyword} {alice.token}"})
    assert (resp.status, await resp.json()) == (200, [])


async def test_a_key_is_case_sensitive(client, alice) -> None:
    resp = await client.get("/api/patients/", headers=token(alice.token.upper()))
    assert (resp.status, await resp.json()) == (401, {"detail": "Invalid token."})


# --- the command line --------------------------------------------------------


async def cli(database_url: str, *args: str, stdin: str = "") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_createuser_then_login(client, database_url, sql) -> None:
    code, out, err = await cli(
        database_url, "createuser", "nurse", "--password-stdin", "--email", "nurse@example.com", stdin="s3cret-pass\n"
    )
    assert code == 0, err
    ((user_id, email, staff, superuser, stored),) = sql(
        "SELECT id, email, is_staff, is_superuser, password FROM users WHERE username = 'nurse'"
    )
    assert out.strip() == f"Created user 'nurse' (id {user_id})."
    assert (email, staff, superuser) == ("nurse@example.com", False, False)
    assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored
    key = await token_of(client, "nurse", "s3cret-pass")
    me = await client.get("/rest-auth/user/", headers=token(key))
    assert await me.json() == {
        "pk": user_id,
        "username": "nurse",
        "email": "nurse@example.com",
        "first_name": "",
        "last_name": "",
        "is_staff": False,
        "is_superuser": False,
        "wards": [1],  # the only ward there is
    }
    assert (await login(client, "nurse", "wrong-pass")).status == 400


async def test_createuser_superuser(client, database_url, sql) -> None:
    code, _, err = await cli(
        database_url, "createuser", "boss", "--superuser", "--password-stdin", stdin="boss-password\n"
    )
    assert code == 0, err
    assert sql("SELECT is_staff, is_superuser FROM users WHERE username = 'boss'") == [(True, True)]


async def test_changepassword(client, database_url, alice, sql) -> None:
    code, out, err = await cli(
        database_url, "changepassword", "alice", "--password-stdin", stdin="brand new password\n"
    )
    assert code == 0, err
    assert out.strip() == "Password changed for 'alice'."
    ((stored,),) = sql("SELECT password FROM users WHERE id = %s", (alice.id,))
    assert stored.startswith("$argon2id$")
    assert (await login(client, "alice", PASSWORD)).status == 400
    fresh = await token_of(client, "alice", "brand new password")
    assert (await client.get("/rest-auth/user/", headers=token(fresh))).status == 200
    # a reset from the command line ends every session the user had
    assert (await client.get("/rest-auth/user/", headers=alice.headers)).status == 401


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (
            ("createuser", "shorty"),
            "short\n",
            "Error: password: This password is too short. It must contain at least 8 characters.",
        ),
        (("createuser", "numbers"), "1234567890\n", "Error: password: This password is entirely numeric."),
        (("createuser", "bad name"), "long enough password\n", f"Error: username: {USERNAME_INVALID[0]}"),
        (
            ("createuser", "alice"),
            "long enough password\n",
            "Error: username: A user with that username already exists.",
        ),
        (
            ("changepassword", "alice"),
            "short\n",
            "Error: password: This password is too short. It must contain at least 8 characters.",
        ),
        (("changepassword", "nobody"), "long enough password\n", 'Error: username: User "nobody" does not exist.'),
    ],
)
async def test_cli_refusals(client, database_url, alice, sql, args, stdin, message) -> None:
    before = sql("SELECT id, username, password FROM users ORDER BY id")
    code, out, err = await cli(database_url, *args, "--password-stdin", stdin=stdin)
    assert code == 1
    assert message in err.splitlines()
    assert "Traceback" not in err
    assert sql("SELECT id, username, password FROM users ORDER BY id") == before
    assert (await login(client, "alice", PASSWORD)).status == 200


async def test_login_with_a_bad_token_header_is_401_as_in_drf(client, alice, make_user) -> None:
    """DRF authenticates before any view code, AllowAny views too
    (wire-protocol.md 5.3): a stale token sent along with a login fails it."""
    stale = {"Authorization": "Token " + "0" * 40}
    resp = await client.post("/rest-auth/login/", json={"username": "alice", "password": PASSWORD}, headers=stale)
    assert (resp.status, await resp.json()) == (401, {"detail": "Invalid token."})
    assert resp.headers["WWW-Authenticate"] == "Token"

    bob = make_user("bob")  # someone else's valid token does not get in the way
    resp = await client.post("/rest-auth/login/", json={"username": "alice", "password": PASSWORD}, headers=bob.headers)
    assert resp.status == 200 and list(await resp.json()) == ["key"]
