"""Per-device sessions over REST: listing and ending them, expiry, password
change, login throttling and the bound on password hashing."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from typing import Any

import pytest

from service.app import create_app, make_login_guard
from service.appkeys import GUARD
from service.auth.passwords import Hasher, verify

from ..conftest import PASSWORD

INVALID = {"detail": "Invalid token."}


def token(key: str) -> dict[str, str]:
    return {"Authorization": f"Token {key}"}


async def login(client: Any, username: str = "alice", password: str = PASSWORD, **headers: str) -> Any:
    return await client.post("/rest-auth/login/", json={"username": username, "password": password}, headers=headers)


async def key_of(client: Any, username: str = "alice", password: str = PASSWORD, **headers: str) -> str:
    resp = await login(client, username, password, **headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["key"]


async def status_with(client: Any, key: str) -> int:
    return (await client.get("/rest-auth/user/", headers=token(key))).status


# --- listing and ending sessions ---------------------------------------------


async def test_sessions_are_listed_with_the_current_one_marked(client, alice, make_user) -> None:
    phone = await key_of(client, **{"User-Agent": "Phone/1.0"})
    make_user("bob")  # someone else's sessions are not listed
    resp = await client.get("/rest-auth/sessions/", headers=token(phone))
    assert resp.status == 200
    listed = await resp.json()
    assert [list(s) for s in listed] == [["id", "created", "last_used", "user_agent", "client", "current"]] * 2
    newest, oldest = listed  # newest first
    assert (newest["current"], newest["user_agent"], newest["client"]) == (True, "Phone/1.0", "127.0.0.1")
    assert oldest["current"] is False
    mine = await (await client.get("/rest-auth/sessions/", headers=alice.headers)).json()
    assert [s["current"] for s in mine] == [False, True]


async def test_ending_one_session_leaves_the_others(client, alice, make_user) -> None:
    laptop = await key_of(client)
    sessions = await (await client.get("/rest-auth/sessions/", headers=token(laptop))).json()
    station = next(s for s in sessions if not s["current"])
    resp = await client.delete(f"/rest-auth/sessions/{station['id']}/", headers=token(laptop))
    assert resp.status == 204
    assert await status_with(client, alice.token) == 401
    assert await status_with(client, laptop) == 200

    bob = make_user("bob")
    bobs = await (await client.get("/rest-auth/sessions/", headers=bob.headers)).json()
    foreign = await client.delete(f"/rest-auth/sessions/{bobs[0]['id']}/", headers=token(laptop))
    assert (foreign.status, await foreign.json()) == (404, {"detail": "Not found."})
    assert await status_with(client, bob.token) == 200
    for pk in ("999999", "abc"):
        missing = await client.delete(f"/rest-auth/sessions/{pk}/", headers=token(laptop))
        assert missing.status == 404


async def test_end_others_keeps_only_the_current_session(client, alice) -> None:
    others = [await key_of(client) for _ in range(2)]
    resp = await client.post("/rest-auth/sessions/end-others/", headers=alice.headers)
    assert (resp.status, await resp.json()) == (200, {"detail": "Every other session has ended.", "ended": 2})
    assert [await status_with(client, key) for key in others] == [401, 401]
    assert await status_with(client, alice.token) == 200


async def test_session_endpoints_need_a_session(client) -> None:
    for method, path in (("GET", "/rest-auth/sessions/"), ("POST", "/rest-auth/sessions/end-others/")):
        resp = await client.request(method, path)
        assert resp.status == 401
    wrong = await client.post("/rest-auth/sessions/", headers=token("a" * 40))
    assert wrong.status == 401


async def test_last_used_is_written_at_most_once_a_minute(client, alice, sql) -> None:
    sql("UPDATE auth_sessions SET last_used = now() - interval '30 seconds'")
    await client.get("/rest-auth/user/", headers=alice.headers)
    ((recent,),) = sql("SELECT now() - last_used > interval '25 seconds' FROM auth_sessions")
    assert recent is True  # not rewritten: it was used within the minute

    sql("UPDATE auth_sessions SET last_used = now() - interval '5 minutes'")
    await client.get("/rest-auth/user/", headers=alice.headers)
    ((fresh,),) = sql("SELECT now() - last_used < interval '5 seconds' FROM auth_sessions")
    assert fresh is True


# --- expiry --------------------------------------------------------------------


async def test_a_session_idle_too_long_or_too_old_is_an_invalid_token(client, alice, make_user, sql) -> None:
    bob = make_user("bob")
    sql("UPDATE auth_sessions SET last_used = now() - interval '12 hours 1 second' WHERE user_id = %s", (alice.id,))
    sql("UPDATE auth_sessions SET created = now() - interval '7 days 1 second' WHERE user_id = %s", (bob.id,))
    for account in (alice, bob):
        resp = await client.get("/api/patients/", headers=account.headers)
        assert (resp.status, await resp.json()) == (401, INVALID)
        assert resp.headers["WWW-Authenticate"] == "Token"
    # a fresh login works again
    assert await status_with(client, await key_of(client)) == 200


async def test_expiry_limits_are_settings(aiohttp_client, settings, alice, sql) -> None:
    client = await aiohttp_client(create_app(settings.with_(token_idle_seconds=60, token_max_age_seconds=3600)))
    assert await status_with(client, alice.token) == 200
    sql("UPDATE auth_sessions SET last_used = now() - interval '61 seconds'")
    assert await status_with(client, alice.token) == 401


# --- password change -----------------------------------------------------------


def change(old: str, new1: str, new2: str | None = None) -> dict[str, str]:
    return {"old_password": old, "new_password1": new1, "new_password2": new1 if new2 is None else new2}


async def test_password_change_ends_every_other_session(client, alice, sql) -> None:
    other = await key_of(client)
    resp = await client.post(
        "/rest-auth/password/change/", json=change(PASSWORD, "a much better secret"), headers=alice.headers
    )
    assert (resp.status, await resp.json()) == (200, {"detail": "New password has been saved."})
    assert await status_with(client, alice.token) == 200  # this device stays logged in
    assert await status_with(client, other) == 401
    assert (await login(client)).status == 400
    assert await status_with(client, await key_of(client, password="a much better secret")) == 200
    ((stored,),) = sql("SELECT password FROM users WHERE id = %s", (alice.id,))
    assert verify(stored, "a much better secret")


@pytest.mark.parametrize(
    "body, errors",
    [
        (
            change("wrong", "a much better secret"),
            {"old_password": ["Your old password was entered incorrectly. Please enter it again."]},
        ),
        (
            change(PASSWORD, "a much better secret", "another secret"),
            {"new_password2": ["The two password fields didn’t match."]},
        ),
        (change(PASSWORD, "password"), {"new_password2": ["This password is too common."]}),
        (change(PASSWORD, "alice_w7"), {"new_password2": ["The password is too similar to the username."]}),
        (change(PASSWORD, "9081726354"), {"new_password2": ["This password is entirely numeric."]}),
        (
            change(PASSWORD, "x7!kq"),
            {"new_password2": ["This password is too short. It must contain at least 8 characters."]},
        ),
        ({}, {name: ["This field is required."] for name in ("old_password", "new_password1", "new_password2")}),
    ],
)
async def test_password_change_errors_as_dj_rest_auth(client, alice, body, errors) -> None:
    other = await key_of(client)
    resp = await client.post("/rest-auth/password/change/", json=body, headers=alice.headers)
    assert (resp.status, await resp.json()) == (400, errors)
    assert await status_with(client, other) == 200  # nothing ended
    assert (await login(client)).status == 200


async def test_password_change_needs_a_session_and_a_post(client, alice) -> None:
    assert (await client.post("/rest-auth/password/change/", json=change(PASSWORD, "x" * 12))).status == 401
    resp = await client.get("/rest-auth/password/change/", headers=alice.headers)
    assert (resp.status, await resp.json()) == (405, {"detail": 'Method "GET" not allowed.'})


# --- throttling ------------------------------------------------------------------


THROTTLED = re.compile(r"Request was throttled\. Expected available in (\d+) seconds?\.")


async def assert_throttled(resp: Any, window: int = 900) -> None:
    assert resp.status == 429
    detail = (await resp.json())["detail"]
    match = THROTTLED.fullmatch(detail)
    assert match, detail
    assert 0 < int(match.group(1)) <= window
    assert resp.headers["Retry-After"] == match.group(1)


@pytest.fixture
def fresh_channel(settings, request):
    """Throttle counters live in Redis under the channel's name: one per test."""
    return settings.with_(redis_channel=f"{settings.redis_channel}:{request.node.name}")


async def test_five_failures_throttle_the_pair_even_with_the_right_password(
    aiohttp_client, fresh_channel, alice, make_user
) -> None:
    make_user("bob")
    client = await aiohttp_client(create_app(fresh_channel))
    for _ in range(5):
        assert (await login(client, password="guess")).status == 400
    await assert_throttled(await login(client))  # the right password too
    await assert_throttled(await login(client, password="guess"))
    assert (await login(client, "bob")).status == 200  # another user from the same address


async def test_a_success_resets_the_pairs_count(aiohttp_client, fresh_channel, alice) -> None:
    client = await aiohttp_client(create_app(fresh_channel))
    for _ in range(4):
        assert (await login(client, password="guess")).status == 400
    assert (await login(client)).status == 200
    for _ in range(4):
        assert (await login(client, password="guess")).status == 400
    assert (await login(client)).status == 200


async def test_counters_are_shared_by_processes(aiohttp_client, fresh_channel, alice) -> None:
    one = await aiohttp_client(create_app(fresh_channel))
    two = await aiohttp_client(create_app(fresh_channel))
    for client in (one, two, one, two, one):
        assert (await login(client, password="guess")).status == 400
    await assert_throttled(await login(two))


async def test_many_failures_from_one_address_throttle_it(aiohttp_client, fresh_channel, make_user) -> None:
    names = [make_user(f"user{i}").username for i in range(4)]
    client = await aiohttp_client(create_app(fresh_channel.with_(login_throttle_client=3)))
    for name in names[:3]:
        assert (await login(client, name, "guess")).status == 400
    await assert_throttled(await login(client, names[3]))


async def test_one_username_from_many_addresses(aiohttp_client, fresh_channel, alice, make_user, caplog) -> None:
    make_user("bob")
    settings = fresh_channel.with_(trusted_proxies=("127.0.0.1",), login_throttle_username=3)
    client = await aiohttp_client(create_app(settings))
    with caplog.at_level(logging.WARNING, logger="service.auth.throttle"):
        for i in range(3):
            resp = await login(client, password="guess", **{"X-Forwarded-For": f"203.0.113.{i}"})
            assert resp.status == 400
    assert any("failed logins for username 'alice'" in r.getMessage() for r in caplog.records)
    await assert_throttled(await login(client, **{"X-Forwarded-For": "198.51.100.7"}))
    assert (await login(client, "bob", **{"X-Forwarded-For": "198.51.100.7"})).status == 200


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(
    aiohttp_client, fresh_channel, alice, make_user
) -> None:
    make_user("bob")
    client = await aiohttp_client(create_app(fresh_channel))  # no trusted proxies
    for i in range(5):  # a client cannot dodge the limit by inventing addresses
        resp = await login(client, password="guess", **{"X-Forwarded-For": f"203.0.113.{i}"})
        assert resp.status == 400
    await assert_throttled(await login(client, **{"X-Forwarded-For": "203.0.113.99"}))
    bob = await key_of(client, "bob", **{"X-Forwarded-For": "203.0.113.99"})
    sessions = await (await client.get("/rest-auth/sessions/", headers=token(bob))).json()
    assert sessions[0]["client"] == "127.0.0.1"


async def test_the_client_behind_trusted_proxies_is_the_last_untrusted_hop(
    aiohttp_client, fresh_channel, alice
) -> None:
    settings = fresh_channel.with_(trusted_proxies=("127.0.0.0/8", "10.0.0.0/8"))
    client = await aiohttp_client(create_app(settings))
    # the client wrote the first hop itself; 10.1.2.3 is our own load balancer
    key = await key_of(client, **{"X-Forwarded-For": "6.6.6.6, 198.51.100.20, 10.1.2.3"})
    sessions = await (await client.get("/rest-auth/sessions/", headers=token(key))).json()
    assert sessions[0]["client"] == "198.51.100.20"


async def test_a_redis_outage_does_not_switch_throttling_off(aiohttp_client, fresh_channel, alice, caplog) -> None:
    settings = fresh_channel.with_(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    client = await aiohttp_client(create_app(settings))
    with caplog.at_level(logging.ERROR, logger="service.auth.throttle"):
        for _ in range(5):
            assert (await login(client, password="guess")).status == 400
        await assert_throttled(await login(client))
    assert any("falls back to this process's counters" in r.getMessage() for r in caplog.records)


# --- bounded hashing -----------------------------------------------------------


async def test_sign_ins_beyond_the_hashing_queue_are_503(aiohttp_client, settings, alice) -> None:
    started, release = threading.Event(), threading.Event()

    def slow_verify(stored: str | None, password: str) -> bool:
        started.set()
        release.wait(10)
        return verify(stored, password)

    app = create_app(settings)
    app[GUARD] = make_login_guard(settings, Hasher(1, 1, verify_fn=slow_verify))
    client = await aiohttp_client(app)
    hashing = asyncio.ensure_future(login(client))  # holds the only slot
    assert await asyncio.to_thread(started.wait, 10)
    waiting = asyncio.ensure_future(login(client))  # takes the only place in line
    guard = app[GUARD]
    async with asyncio.timeout(10):
        while guard.hasher.waiting < 1:
            await asyncio.sleep(0.01)
    refused = await login(client)
    assert (refused.status, await refused.json()) == (
        503,
        {"detail": "Too many sign-ins at once; try again in a moment."},
    )
    assert refused.headers["Retry-After"] == "1"
    release.set()
    assert [(await r).status for r in (hashing, waiting)] == [200, 200]
