"""/api/patients/ over REST, and what every REST resource shares: the API
root, pagination, authentication, wrong methods and the trailing slash."""

from __future__ import annotations

from typing import Any

import pytest

from ..helpers import PATIENT, create_patient, create_report, moment

PATIENT_KEYS = ["id", "first_name", "last_name", "admission_date", "dismissal_date", "ward", "created_at", "updated_at"]
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
LIST_ALLOW = "GET, POST, HEAD, OPTIONS"
DETAIL_ALLOW = "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"


def absolute(client: Any, path: str) -> str:
    return str(client.make_url(path))


async def admitted(client: Any, account: Any, *days: int) -> list[dict[str, Any]]:
    """One patient per day of May 2024, created in the order given."""
    return [
        await create_patient(client, account, first_name=f"P{day}", admission_date=f"2024-05-{day:02d}T10:00:00Z")
        for day in days
    ]


# --- create, retrieve, list --------------------------------------------------


async def test_create_returns_201_with_the_object(client, alice) -> None:
    resp = await client.post(
        "/api/patients/", json={**PATIENT, "id": 77, "created_at": "2000-01-01T00:00:00Z"}, headers=alice.headers
    )
    assert resp.status == 201
    assert resp.headers["Content-Type"] == "application/json"
    assert "Location" not in resp.headers
    body = await resp.json()
    assert list(body) == PATIENT_KEYS
    assert body["id"] != 77 and isinstance(body["id"], int)
    assert body["first_name"] == "Cy" and body["last_name"] == "Ng"
    assert body["admission_date"] == "2024-05-03T10:00:00Z"
    assert body["dismissal_date"] is None
    assert body["created_at"].endswith("Z") and not body["created_at"].startswith("2000")
    got = await client.get(f"/api/patients/{body['id']}/", headers=alice.headers)
    assert (got.status, await got.json()) == (200, body)


async def test_text_is_trimmed_and_numbers_become_text(client, alice) -> None:
    body = await create_patient(client, alice, first_name="  Cy  ", last_name=5)
    assert (body["first_name"], body["last_name"]) == ("Cy", "5")


async def test_list_is_a_plain_array_newest_admission_first(client, alice) -> None:
    p3, p1, p5 = await admitted(client, alice, 3, 1, 5)
    resp = await client.get("/api/patients/", headers=alice.headers)
    assert resp.status == 200
    assert await resp.json() == [p5, p3, p1]


async def test_empty_list(client, alice) -> None:
    resp = await client.get("/api/patients/", headers=alice.headers)
    assert (resp.status, await resp.json()) == (200, [])


@pytest.mark.parametrize(
    "sent, returned",
    [
        ("2024-05-02T08:30:00.123456+07:00", "2024-05-02T01:30:00.123456Z"),
        ("2024-05-02T08:30:00-03:30", "2024-05-02T12:00:00Z"),
        ("2024-05-02T08:30:00Z", "2024-05-02T08:30:00Z"),
        ("2024-05-02T08:30:00.000000Z", "2024-05-02T08:30:00Z"),
        ("2024-05-02T08:30", "2024-05-02T08:30:00Z"),  # naive: the server's time zone, UTC
        ("2024-05-02 08:30:15", "2024-05-02T08:30:15Z"),
        ("2024-05-03", "2024-05-03T00:00:00Z"),  # a date alone is midnight
    ],
)
async def test_datetimes_in_and_out(client, alice, sent, returned) -> None:
    body = await create_patient(client, alice, admission_date=sent)
    assert body["admission_date"] == returned


async def test_dismissal_date(client, alice) -> None:
    body = await create_patient(client, alice, dismissal_date="2024-05-04T10:00:00+02:00")
    assert body["dismissal_date"] == "2024-05-04T08:00:00Z"
    same_moment = await create_patient(client, alice, dismissal_date=PATIENT["admission_date"])
    assert same_moment["dismissal_date"] == PATIENT["admission_date"]


# --- update, partial update, delete ------------------------------------------


async def test_put_replaces_and_requires_every_required_field(client, alice) -> None:
    patient = await create_patient(client, alice, dismissal_date="2024-05-09T00:00:00Z")
    url = f"/api/patients/{patient['id']}/"
    incomplete = await client.put(url, json={"first_name": "W"}, headers=alice.headers)
    assert incomplete.status == 400
    assert await incomplete.json() == {
        "last_name": ["This field is required."],
        "admission_date": ["This field is required."],
    }
    resp = await client.put(
        url,
        headers=alice.headers,
        json={
            "id": 999,
            "first_name": "Wes",
            "last_name": "Socket",
            "admission_date": "2024-05-01T10:00:00Z",
            "created_at": "2000-01-01T00:00:00Z",
        },
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["id"] == patient["id"] and body["created_at"] == patient["created_at"]
    assert (body["first_name"], body["last_name"], body["admission_date"]) == ("Wes", "Socket", "2024-05-01T10:00:00Z")
    # PUT leaves an omitted optional field as it was, as a DRF ModelSerializer does.
    assert body["dismissal_date"] == "2024-05-09T00:00:00Z"
    assert moment(body["updated_at"]) > moment(patient["updated_at"])
    assert await (await client.get(url, headers=alice.headers)).json() == body


async def test_patch_is_partial(client, alice) -> None:
    patient = await create_patient(client, alice)
    url = f"/api/patients/{patient['id']}/"
    resp = await client.patch(url, json={"last_name": "Sock", "unknown": 1}, headers=alice.headers)
    assert resp.status == 200
    body = await resp.json()
    assert body == {**patient, "last_name": "Sock", "updated_at": body["updated_at"]}
    nulled = await client.patch(url, json={"dismissal_date": None}, headers=alice.headers)
    assert (await nulled.json())["dismissal_date"] is None
    empty = await client.patch(url, json={}, headers=alice.headers)
    assert empty.status == 200 and (await empty.json())["last_name"] == "Sock"


async def test_patch_checks_dates_against_the_stored_ones(client, alice) -> None:
    patient = await create_patient(client, alice, dismissal_date="2024-05-09T00:00:00Z")
    url = f"/api/patients/{patient['id']}/"
    early = await client.patch(url, json={"dismissal_date": "2024-05-01T00:00:00Z"}, headers=alice.headers)
    assert (early.status, await early.json()) == (
        400,
        {"dismissal_date": ["The dismissal date must not be before the admission date."]},
    )
    late = await client.patch(url, json={"admission_date": "2024-05-10T00:00:00Z"}, headers=alice.headers)
    assert late.status == 400
    assert await late.json() == {"dismissal_date": ["The dismissal date must not be before the admission date."]}
    assert await (await client.get(url, headers=alice.headers)).json() == patient


async def test_delete_returns_204_with_an_empty_body(client, alice) -> None:
    patient = await create_patient(client, alice)
    url = f"/api/patients/{patient['id']}/"
    resp = await client.delete(url, headers=alice.headers)
    assert resp.status == 204
    assert await resp.read() == b""
    assert "Content-Type" not in resp.headers
    gone = await client.get(url, headers=alice.headers)
    assert (gone.status, await gone.json()) == (404, {"detail": "No Patient matches the given query."})
    again = await client.delete(url, headers=alice.headers)
    assert (again.status, await again.json()) == (404, {"detail": "No Patient matches the given query."})


async def test_deleting_a_patient_deletes_their_reports_and_keeps_history(client, alice, make_user) -> None:
    bob = make_user("bob")
    patient = await create_patient(client, alice)
    other = await create_patient(client, alice, first_name="Other")
    first = await create_report(client, alice, patient["id"], time="2024-05-03T08:00:00Z")
    second = await create_report(client, alice, patient["id"], time="2024-05-03T12:00:00Z")
    kept = await create_report(client, alice, other["id"])
    resp = await client.delete(f"/api/patients/{patient['id']}/", headers=bob.headers)
    assert resp.status == 204
    reports = await (await client.get("/api/reports/", headers=alice.headers)).json()
    assert [r["id"] for r in reports] == [kept["id"]]
    for report in (first, second):
        missing = await client.get(f"/api/reports/{report['id']}/", headers=alice.headers)
        assert (missing.status, await missing.json()) == (404, {"detail": "No Report matches the given query."})
        history = await (await client.get(f"/api/history/?report={report['id']}", headers=alice.headers)).json()
        assert [(h["history_type"], h["history_user"]) for h in history] == [("-", bob.id), ("+", alice.id)]
        assert history[0]["time"] == report["time"] and history[0]["patient"] == patient["id"]


# --- not found ---------------------------------------------------------------


@pytest.mark.parametrize(
    "pk, detail",
    [
        ("999", "No Patient matches the given query."),
        ("-1", "No Patient matches the given query."),
        ("99999999999999999999", "No Patient matches the given query."),  # beyond a bigint
        ("abc", "Not found."),
        ("%00", "Not found."),
    ],
)
async def test_not_found(client, alice, pk, detail) -> None:
    await create_patient(client, alice)
    url = f"/api/patients/{pk}/"
    for method, body in (("GET", None), ("PUT", PATIENT), ("PATCH", {"last_name": "X"}), ("DELETE", None)):
        resp = await client.request(method, url, json=body, headers=alice.headers)
        assert (resp.status, await resp.json()) == (404, {"detail": detail}), method


async def test_not_found_comes_before_validation(client, alice) -> None:
    """DRF looks the object up before it validates the body."""
    for method in ("PUT", "PATCH"):
        resp = await client.request(method, "/api/patients/999/", json={"first_name": ""}, headers=alice.headers)
        assert (resp.status, await resp.json()) == (404, {"detail": "No Patient matches the given query."})


async def test_unknown_url_is_404(client, alice) -> None:
    for path in ("/api/nothing/", "/api/patients/1/nothing/", "/api/patients/1.5/"):
        resp = await client.get(path, headers=alice.headers)
        assert resp.status == 404, path


# --- pagination --------------------------------------------------------------


async def test_limit_offset_pagination(client, alice) -> None:
    p = await admitted(client, alice, 1, 2, 3, 4, 5)  # listed as 5, 4, 3, 2, 1
    newest_first = p[::-1]
    base = absolute(client, "/api/patients/")

    async def page(query: str) -> Any:
        resp = await client.get(f"/api/patients/?{query}", headers=alice.headers)
        assert resp.status == 200
        return await resp.json()

    assert await page("limit=2") == {
        "count": 5,
        "next": f"{base}?limit=2&offset=2",
        "previous": None,
        "results": newest_first[:2],
    }
    assert await page("limit=2&offset=2") == {
        "count": 5,
        "next": f"{base}?limit=2&offset=4",
        "previous": f"{base}?limit=2",
        "results": newest_first[2:4],
    }
    assert await page("offset=4&limit=2") == {
        "count": 5,
        "next": None,
        "previous": f"{base}?limit=2&offset=2",
        "results": newest_first[4:],
    }
    assert await page("limit=2&offset=1") == {
        "count": 5,
        "next": f"{base}?limit=2&offset=3",
        "previous": f"{base}?limit=2",
        "results": newest_first[1:3],
    }
    assert await page("limit=2&offset=10") == {
        "count": 5,
        "next": None,
        "previous": f"{base}?limit=2&offset=8",
        "results": [],
    }
    assert await page("limit=5") == {"count": 5, "next": None, "previous": None, "results": newest_first}


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "limit=-1", "limit=", "limit=1.5", "offset=2"])
async def test_invalid_limit_gives_the_plain_list(client, alice, query) -> None:
    p = await admitted(client, alice, 1, 2, 3)
    resp = await client.get(f"/api/patients/?{query}", headers=alice.headers)
    assert (resp.status, await resp.json()) == (200, p[::-1])


@pytest.mark.parametrize("offset", ["abc", "-3", "", "1.5"])
async def test_invalid_offset_is_zero(client, alice, offset) -> None:
    p = await admitted(client, alice, 1, 2, 3)
    base = absolute(client, "/api/patients/")
    resp = await client.get(f"/api/patients/?limit=2&offset={offset}", headers=alice.headers)
    assert await resp.json() == {
        "count": 3,
        "next": f"{base}?limit=2&offset=2",
        "previous": None,
        "results": p[::-1][:2],
    }


async def test_huge_limit_and_offset(client, alice) -> None:
    p = await admitted(client, alice, 1, 2)
    base = absolute(client, "/api/patients/")
    huge = "99999999999999999999"
    resp = await client.get(f"/api/patients/?limit={huge}", headers=alice.headers)
    assert (resp.status, await resp.json()) == (200, {"count": 2, "next": None, "previous": None, "results": p[::-1]})
    resp = await client.get(f"/api/patients/?limit=1&offset={huge}", headers=alice.headers)
    assert (resp.status, await resp.json()) == (
        200,
        {"count": 2, "next": None, "previous": f"{base}?limit=1&offset={int(huge) - 1}", "results": []},
    )


async def test_pagination_keeps_other_query_parameters(client, alice) -> None:
    patient = await create_patient(client, alice)
    await create_report(client, alice, patient["id"], time="2024-05-03T08:00:00Z")
    await create_report(client, alice, patient["id"], time="2024-05-03T09:00:00Z")
    base = absolute(client, "/api/reports/")
    resp = await client.get(f"/api/reports/?patient={patient['id']}&limit=1", headers=alice.headers)
    body = await resp.json()
    assert body["count"] == 2
    assert body["next"] == f"{base}?limit=1&offset=1&patient={patient['id']}"


# --- API root, authentication, methods, slashes --------------------------------


async def test_api_root(client, alice) -> None:
    resp = await client.get("/api/", headers=alice.headers)
    assert resp.status == 200
    body = await resp.json()
    assert list(body)[:3] == ["patients", "reports", "history"]  # the old root's keys, in its order
    for name in ("patients", "reports", "history"):
        assert body[name] == absolute(client, f"/api/{name}/")
    unauthenticated = await client.get("/api/")
    assert (unauthenticated.status, await unauthenticated.json()) == (401, NOT_PROVIDED)
    post = await client.post("/api/", headers=alice.headers)
    assert (post.status, await post.json()) == (405, {"detail": 'Method "POST" not allowed.'})


CLINICAL = [
    ("GET", "/api/patients/"),
    ("POST", "/api/patients/"),
    ("GET", "/api/patients/{p}/"),
    ("PUT", "/api/patients/{p}/"),
    ("PATCH", "/api/patients/{p}/"),
    ("DELETE", "/api/patients/{p}/"),
    ("GET", "/api/reports/"),
    ("POST", "/api/reports/"),
    ("GET", "/api/reports/{r}/"),
    ("PUT", "/api/reports/{r}/"),
    ("PATCH", "/api/reports/{r}/"),
    ("DELETE", "/api/reports/{r}/"),
    ("GET", "/api/history/"),
    ("GET", "/api/history/{h}/"),
    ("PATCH", "/api/history/{h}/"),
    ("PUT", "/api/history/{h}/"),
    ("DELETE", "/api/history/{h}/"),
    ("POST", "/api/history/{h}/restore/"),
    ("GET", "/api/patients/999/"),
    ("POST", "/api/patients/999/"),
    ("DELETE", "/api/patients/"),
]


async def test_every_clinical_endpoint_needs_a_token(client, alice, sql) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"])
    ((history_id,),) = sql("SELECT history_id FROM report_history")
    before = sql("SELECT count(*) FROM report_history")
    for method, path in CLINICAL:
        url = path.format(p=patient["id"], r=report["id"], h=history_id)
        for headers, detail in (
            ({}, NOT_PROVIDED["detail"]),
            ({"Authorization": "Token " + "1" * 40}, "Invalid token."),
        ):
            resp = await client.request(method, url, json={"first_name": "X"}, headers=headers)
            assert resp.status == 401, (method, url)
            assert await resp.json() == {"detail": detail}
            assert resp.headers["WWW-Authenticate"] == "Token"
    assert sql("SELECT count(*) FROM report_history") == before
    assert await (await client.get(f"/api/patients/{patient['id']}/", headers=alice.headers)).json() == patient


@pytest.mark.parametrize(
    "method, path, allow",
    [
        ("POST", "/api/patients/{p}/", DETAIL_ALLOW),
        ("PUT", "/api/patients/", LIST_ALLOW),
        ("PATCH", "/api/patients/", LIST_ALLOW),
        ("DELETE", "/api/patients/", LIST_ALLOW),
        ("POST", "/api/reports/{r}/", DETAIL_ALLOW),
        ("PUT", "/api/reports/", LIST_ALLOW),
        ("DELETE", "/api/reports/", LIST_ALLOW),
        ("POST", "/api/history/", "GET, HEAD, OPTIONS"),
        ("PUT", "/api/history/", "GET, HEAD, OPTIONS"),
        ("PATCH", "/api/history/", "GET, HEAD, OPTIONS"),
        ("DELETE", "/api/history/", "GET, HEAD, OPTIONS"),
        ("POST", "/api/history/{h}/", DETAIL_ALLOW),
        ("GET", "/api/history/{h}/restore/", "POST, OPTIONS"),
        ("DELETE", "/api/history/{h}/restore/", "POST, OPTIONS"),
        ("PROPFIND", "/api/patients/", LIST_ALLOW),
        ("PURGE", "/api/patients/{p}/", DETAIL_ALLOW),
        ("QUERY", "/api/reports/", LIST_ALLOW),
    ],
)
async def test_wrong_method_is_405(client, alice, sql, method, path, allow) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"])
    ((history_id,),) = sql("SELECT history_id FROM report_history")
    counts = sql(
        "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM reports), (SELECT count(*) FROM report_history)"
    )
    url = path.format(p=patient["id"], r=report["id"], h=history_id)
    resp = await client.request(method, url, json={**PATIENT, "patient": patient["id"]}, headers=alice.headers)
    assert resp.status == 405
    assert await resp.json() == {"detail": f'Method "{method}" not allowed.'}
    assert resp.headers["Allow"] == allow
    assert (
        sql(
            "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM reports), "
            "(SELECT count(*) FROM report_history)"
        )
        == counts
    )


async def test_a_method_the_http_parser_does_not_know(client, alice) -> None:
    """A method token outside the HTTP method registry ("FOO") is refused by
    the HTTP parser (llhttp, as under the old uvicorn with httptools) with 400
    before any route sees it; methods the parser knows get DRF's 405 above."""
    patient = await create_patient(client, alice)
    resp = await client.request("FOO", f"/api/patients/{patient['id']}/", headers=alice.headers)
    assert resp.status == 400
    assert await (await client.get(f"/api/patients/{patient['id']}/", headers=alice.headers)).json() == patient


async def test_head_and_options(client, alice) -> None:
    patient = await create_patient(client, alice)
    head = await client.head("/api/patients/", headers=alice.headers)
    assert head.status == 200 and await head.read() == b""
    options = await client.options(f"/api/patients/{patient['id']}/", headers=alice.headers)
    assert options.status == 200 and options.headers["Allow"] == DETAIL_ALLOW
    assert (await options.json())["name"] == "Patient Instance"


async def test_missing_trailing_slash_redirects(client, alice) -> None:
    get = await client.get("/api/patients?limit=1&offset=0", headers=alice.headers, allow_redirects=False)
    assert get.status == 301
    assert get.headers["Location"] == "/api/patients/?limit=1&offset=0"
    detail = await client.get("/api/patients/5", headers=alice.headers, allow_redirects=False)
    assert (detail.status, detail.headers["Location"]) == (301, "/api/patients/5/")
    # Documented choice: other methods get 308, so a POST stays a POST with its body.
    post = await client.post("/api/patients", json=PATIENT, headers=alice.headers, allow_redirects=False)
    assert (post.status, post.headers["Location"]) == (308, "/api/patients/")
    for method in ("PUT", "PATCH", "DELETE"):
        resp = await client.request(method, "/api/patients/5", headers=alice.headers, allow_redirects=False)
        assert (resp.status, resp.headers["Location"]) == (308, "/api/patients/5/")
    assert await (await client.get("/api/patients/", headers=alice.headers)).json() == []
    followed = await client.get("/api/patients", headers=alice.headers)
    assert (followed.status, await followed.json()) == (200, [])


@pytest.mark.parametrize(
    "path, name, allow",
    [
        ("/api/", "Api Root", "GET, HEAD, OPTIONS"),
        ("/rest-auth/login/", "Login", "POST, OPTIONS"),
        ("/rest-auth/logout/", "Logout", "POST, OPTIONS"),
        ("/rest-auth/user/", "User Details", "GET, PUT, PATCH, HEAD, OPTIONS"),
        ("/api/history/{h}/restore/", "Restore", "POST, OPTIONS"),
    ],
)
async def test_options_on_every_other_view_answers_drf_metadata(client, alice, path, name, allow) -> None:
    patient = await create_patient(client, alice)
    report = await create_report(client, alice, patient["id"])
    history = await (await client.get(f"/api/history/?report={report['id']}", headers=alice.headers)).json()
    resp = await client.options(path.format(h=history[0]["history_id"]), headers=alice.headers)
    assert resp.status == 200 and resp.headers["Allow"] == allow
    assert await resp.json() == {
        "name": name,
        "description": "",
        "renders": ["application/json"],
        "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
    }


async def test_options_still_needs_a_token_where_the_view_does(client) -> None:
    resp = await client.options("/api/")
    assert (resp.status, await resp.json()) == (401, {"detail": "Authentication credentials were not provided."})
