"""/openapi.json and /swagger/.

The document must be valid OpenAPI, must describe every route the app
registers (and nothing else), and every reply of the real app must match it:
one tour calls every operation of the document, with the representative
errors, validates each status, JSON body and documented header against the
document, and fails if any (path, method, status) the document declares was
never seen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
from openapi_spec_validator import validate as validate_spec
from yarl import URL

from service import openapi
from service.app import RESOURCES, create_app

from ..conftest import PASSWORD, admin_execute
from ..helpers import PATIENT, report_body

JSON = "application/json"
METHODS = ("get", "post", "put", "patch", "delete")
MIB = 1024 * 1024

# Routes the app registers that the document leaves out, and why.
NOT_IN_SPEC = {
    "/": "the ward board page (HTML)",
    "/static/": "the ward board's static files",
    "/ws/": "the WebSocket: OpenAPI cannot model it; described in info.description",
    "/swagger/swagger-initializer.js": "Swagger UI's configuration",
    "/swagger/{}": "Swagger UI's assets (from the swagger-ui-bundle package)",
}
# dj-rest-auth also answers these paths without the trailing slash.
SLASHLESS_ALIASES = {
    "/rest-auth/login",
    "/rest-auth/logout",
    "/rest-auth/user",
    "/rest-auth/password/change",
    "/rest-auth/sessions",
    "/rest-auth/sessions/end-others",
    "/rest-auth/sessions/{}",
}


# --- the document and how replies are checked against it ----------------------


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for template, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield template, method, item[method]


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` (always ``#/...`` from the document's root)."""
    while "$ref" in node:
        assert node["$ref"].startswith("#/"), node["$ref"]
        target: Any = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


class Api:
    """Calls the app and checks every reply against the document."""

    def __init__(self, client: Any, spec: dict[str, Any]) -> None:
        self.client, self.spec = client, spec
        self.seen: set[tuple[str, str, str]] = set()

    def schema_errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        wrapper = {"allOf": [schema], "components": self.spec["components"]}
        validator = OAS30ReadValidator(wrapper, format_checker=oas30_format_checker)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]

    def check_reply(self, response: dict[str, Any], resp: Any, raw: bytes, what: str) -> None:
        response = resolve(self.spec, response)
        content = response.get("content")
        if content is None:
            assert raw == b"", f"{what}: documented without a body, got {raw[:200]!r}"
        else:
            assert resp.content_type in content, f"{what}: Content-Type {resp.content_type}, documented {list(content)}"
            if resp.content_type == JSON:
                body = json.loads(raw)
                errors = self.schema_errors(content[JSON]["schema"], body)
                assert not errors, f"{what}: {errors}\n{json.dumps(body)[:2000]}"
        for name, header in response.get("headers", {}).items():
            assert name in resp.headers, f"{what}: documented header {name} is missing"
            value = resp.headers[name]
            assert not self.schema_errors(header["schema"], value), f"{what}: {name}: {value!r}"

    async def call(
        self,
        method: str,
        template: str,
        status: int,
        url: str | None = None,
        *,
        headers: Any = None,
        **kwargs: Any,
    ) -> Any:
        url = url or template
        assert "{" not in url, url
        resp = await self.client.request(method.upper(), url, headers=headers, allow_redirects=False, **kwargs)
        raw = await resp.read()
        what = f"{method.upper()} {url} -> {resp.status}"
        assert resp.status == status, f"{what}, expected {status}: {raw[:500]!r}"
        operation = self.spec["paths"][template][method]
        assert str(status) in operation["responses"], f"{what}: status not documented for {method} {template}"
        self.check_reply(operation["responses"][str(status)], resp, raw, what)
        self.seen.add((template, method, str(status)))
        if raw and resp.content_type == JSON:
            return json.loads(raw)
        return raw

    async def not_allowed(self, method: str, url: str, headers: Any) -> None:
        """A method the path does not document: 405 as described in components
        (after authentication, as DRF checks it first)."""
        resp = await self.client.request(method.upper(), url, headers=headers, allow_redirects=False, json={})
        raw = await resp.read()
        what = f"{method.upper()} {url} -> {resp.status}"
        assert resp.status == 405, f"{what}: an undocumented method must be 405: {raw[:300]!r}"
        self.check_reply(self.spec["components"]["responses"]["MethodNotAllowed"], resp, raw, what)


async def fetch_spec(client: Any) -> dict[str, Any]:
    resp = await client.get("/openapi.json")  # no token: the document is public
    assert resp.status == 200 and resp.content_type == JSON
    return await resp.json()


def fill(template: str, ids: dict[str, Any]) -> str:
    """A concrete URL: the path parameter becomes the id kept for that resource."""
    if "{" not in template:
        return template
    segment = template.split("/")[2] if template.startswith("/api/") else template
    return re.sub(r"\{[^}]+\}", str(ids[segment]), template)


# --- the document itself ------------------------------------------------------


def test_the_document_is_valid_openapi() -> None:
    spec = openapi.build_document(RESOURCES)
    validate_spec(spec)  # raises with the reason
    assert spec["openapi"] == "3.0.3"  # what the bundled Swagger UI (4.x) reads
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids))
    scheme = spec["components"]["securitySchemes"]["tokenAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert "Token <key>" in scheme["description"]
    text = spec["info"]["description"]
    for needle in ("/ws/", "stream", "payload", "request_id", "event_id", "since", "410", "1009"):
        assert needle in text, needle


def test_every_route_is_in_the_document_and_nothing_else(settings) -> None:
    spec = openapi.build_document(RESOURCES)
    app = create_app(settings)  # the routes exist once it is created; no need to start it

    def key(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path)

    documented = {key(p) for p in spec["paths"]}
    routed = set()
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if path is None:
            path = info["prefix"].rstrip("/") + "/*"  # a static directory
            if path == "/static/*":
                path = "/static/"
        routed.add(key(path))
    aliases = {p for p in routed if p in SLASHLESS_ALIASES}
    assert {a + "/" for a in aliases} <= documented
    left_out = set(NOT_IN_SPEC)
    assert routed - aliases - left_out == documented, (
        f"not documented: {sorted(routed - aliases - left_out - documented)}; "
        f"documented but not routed: {sorted(documented - (routed - aliases - left_out))}"
    )
    assert left_out <= routed, f"stale exclusions: {sorted(left_out - routed)}"


def test_the_checker_rejects_what_the_document_does_not_allow() -> None:
    api = Api(None, openapi.build_document(RESOURCES))
    patient = {
        "id": 1,
        "first_name": "Cy",
        "last_name": "Ng",
        "admission_date": "2024-05-03T10:00:00Z",
        "dismissal_date": None,
        "ward": 1,
        "created_at": "2024-05-03T10:00:00.123456Z",
        "updated_at": "2024-05-03T10:00:00Z",
    }
    schema = {"$ref": "#/components/schemas/Patient"}
    assert api.schema_errors(schema, patient) == []
    assert api.schema_errors(schema, {**patient, "extra": 1})
    assert api.schema_errors(schema, {k: v for k, v in patient.items() if k != "created_at"})
    assert api.schema_errors(schema, {**patient, "first_name": None})
    assert api.schema_errors(schema, {**patient, "admission_date": "yesterday"})

    def field(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/Report/properties/{name}"}

    assert api.schema_errors(field("fever"), 38.5)  # decimals travel as strings
    assert api.schema_errors(field("fever"), "38.5")  # ... with their places
    assert not api.schema_errors(field("fever"), "38.50")
    assert not api.schema_errors(field("fever"), None)
    assert api.schema_errors(field("status"), "dead")
    assert api.schema_errors(field("pulse"), 301)
    assert api.schema_errors(field("shift"), "X")


# --- Swagger UI ---------------------------------------------------------------


async def test_swagger_ui_is_served_from_local_assets(client) -> None:
    resp = await client.get("/swagger/")
    assert resp.status == 200 and resp.content_type == "text/html"
    html = await resp.text()
    assert not re.search(r"(https?:)?//", html), "the page must not name another host"
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert len(refs) >= 5 and "swagger-ui-bundle.js" in refs and "swagger-initializer.js" in refs
    for ref in refs:
        asset = await client.get(urljoin("/swagger/", ref))
        assert asset.status == 200, ref
        assert len(await asset.read()) > 0, ref
    initializer = await (await client.get("/swagger/swagger-initializer.js")).text()
    assert not re.search(r"https?://", initializer)
    assert '"../openapi.json"' in initializer and "validatorUrl: null" in initializer
    assert "Token " in initializer  # a bare key typed into "Authorize" gets the keyword
    # The package's own page, template and petstore initializer are not served.
    for name in ("index.html", "index.j2", "nothing.js"):
        resp = await client.get(f"/swagger/{name}")
        assert (resp.status, await resp.json()) == (404, {"detail": "Not found."})
    redirect = await client.get("/swagger", allow_redirects=False)
    assert (redirect.status, redirect.headers["Location"]) == (301, "/swagger/")


# --- every operation against the real app -------------------------------------


async def test_every_operation_matches_the_document(client, alice, admin, make_user, database_url) -> None:
    spec = await fetch_spec(client)
    assert spec == json.loads(json.dumps(openapi.build_document(RESOURCES)))
    api = Api(client, spec)
    A, S = alice.headers, admin.headers

    # Docs and probes
    await api.call("get", "/openapi.json", 200)
    await api.call("get", "/swagger/", 200)
    await api.call("get", "/healthz", 200)
    await api.call("get", "/readyz", 200)
    await api.call("get", "/api/", 200, headers=A)

    # Auth
    login = "/rest-auth/login/"
    token = await api.call("post", login, 200, json={"username": "alice", "password": PASSWORD})
    assert len(token["key"]) == 40
    await api.call("post", login, 400, json={"username": "alice", "password": "wrong"})
    await api.call("post", login, 400, json={})
    carol = make_user("carol")
    await api.call("post", "/rest-auth/logout/", 200, headers=carol.headers)
    await api.call("post", "/rest-auth/logout/", 200)  # without a token
    await api.call("post", "/rest-auth/logout/", 401, headers=carol.headers)  # its token is gone
    user = "/rest-auth/user/"
    me = await api.call("get", user, 200, headers=A)
    assert me["pk"] == alice.id
    await api.call("put", user, 200, headers=A, json={"username": "alice", "first_name": "Alice"})
    await api.call("put", user, 400, headers=A, json={"first_name": "No username"})
    await api.call("patch", user, 200, headers=A, json={"last_name": "A"})
    await api.call("patch", user, 400, headers=A, json={"username": "not valid!"})
    for bad in ("Token", "Token a b", "Token " + "0" * 40, "token " + "f" * 40):
        await api.call("get", user, 401, headers={"Authorization": bad})
    for _ in range(5):
        await api.call("post", login, 400, json={"username": "mallory", "password": "guess"})
    await api.call("post", login, 429, json={"username": "mallory", "password": "guess"})

    # Sessions and password change
    sessions = await api.call("get", "/rest-auth/sessions/", 200, headers=A)
    other = next(s for s in sessions if not s["current"])
    session = "/rest-auth/sessions/{id}/"
    await api.call("delete", session, 204, fill(session, {session: other["id"]}), headers=A)
    await api.call("post", "/rest-auth/sessions/end-others/", 200, headers=A)
    dave = make_user("dave")
    change = "/rest-auth/password/change/"
    wrong = {"old_password": "wrong", "new_password1": "a new long secret", "new_password2": "a new long secret"}
    await api.call("post", change, 400, headers=dave.headers, json=wrong)
    await api.call("post", change, 200, headers=dave.headers, json={**wrong, "old_password": PASSWORD})

    # Patients
    pts = "/api/patients/"
    pt = "/api/patients/{id}/"
    patient = await api.call("post", pts, 201, headers=A, json=PATIENT)
    doomed = await api.call("post", pts, 201, headers=A, json={**PATIENT, "first_name": "Doomed"})
    await api.call("post", pts, 400, headers=A, json={})
    await api.call(
        "post", pts, 400, headers=A, json={**PATIENT, "dismissal_date": "2024-05-01T00:00:00Z", "first_name": "x" * 241}
    )
    assert isinstance(await api.call("get", pts, 200, headers=A), list)
    await api.call("get", pts, 400, f"{pts}?admitted=perhaps", headers=A)
    page = await api.call("get", pts, 200, f"{pts}?limit=1&offset=1", headers=A)
    assert page["count"] == 2 and page["previous"] is not None
    url = fill(pt, {"patients": patient["id"]})
    await api.call("get", pt, 200, url, headers=A)
    await api.call("put", pt, 200, url, headers=A, json={**PATIENT, "last_name": "Nguyen"})
    await api.call("put", pt, 400, url, headers=A, json={"first_name": ""})
    await api.call("patch", pt, 200, url, headers=A, json={"dismissal_date": "2024-05-09T10:00:00+07:00"})
    await api.call("patch", pt, 400, url, headers=A, json={"admission_date": "yesterday"})

    # Reports
    rps = "/api/reports/"
    rp = "/api/reports/{id}/"
    full = {
        "fever": 39.5,
        "weight": "70.5",
        "wbc_count": 4,
        "pulse": 100,
        "bp_systolic": 120,
        "bp_diastolic": 80,
        "oral_fluids": 500,
        "urine_output": 100,
        "warning_signs": "bleeding gums",
        "status": "critical",
        "hematocrit": 40,
        "platelet_count": 90,
    }
    report = await api.call("post", rps, 201, headers=A, json=report_body(patient["id"], **full))
    kept = await api.call("post", rps, 201, headers=A, json=report_body(patient["id"], time="2024-05-03T20:00:00Z"))
    gone = await api.call("post", rps, 201, headers=A, json=report_body(doomed["id"]))
    await api.call("post", rps, 400, headers=A, json={})
    await api.call(
        "post",
        rps,
        400,
        headers=A,
        json=report_body(999999, fever="hot", status="dead", bp_systolic=80, bp_diastolic=90),
    )
    await api.call("post", rps, 400, headers=A, json=report_body(999999))  # unknown patient
    await api.call("get", rps, 200, headers=A)
    await api.call("get", rps, 200, f"{rps}?patient={patient['id']}&limit=1", headers=A)
    await api.call("get", rps, 400, f"{rps}?patient=abc", headers=A)
    url = fill(rp, {"reports": report["id"]})
    await api.call("get", rp, 200, url, headers=A)
    await api.call("put", rp, 200, url, headers=A, json=report_body(patient["id"], **{**full, "pulse": 90}))
    await api.call("put", rp, 400, url, headers=A, json={"pulse": 90})
    await api.call("patch", rp, 200, url, headers=A, json={"fever": "38.25", "status": "recovery"})
    await api.call("patch", rp, 400, url, headers=A, json={"monitoring_interval": 0})
    await api.call("delete", rp, 204, fill(rp, {"reports": kept["id"]}), headers=A)

    # Patients: delete (takes the patient's reports with it)
    await api.call("delete", pt, 204, fill(pt, {"patients": doomed["id"]}), headers=A)

    # History
    hs = "/api/history/"
    h = "/api/history/{history_id}/"
    rows = await api.call("get", hs, 200, headers=A)
    assert rows and all("history_id" in r for r in rows)
    await api.call("get", hs, 200, f"{hs}?report={report['id']}", headers=A)
    await api.call("get", hs, 200, f"{hs}?patient={patient['id']}&limit=2&offset=1", headers=A)
    await api.call("get", hs, 400, f"{hs}?report=x&patient=y", headers=A)

    def row(report_id: int, kind: str) -> dict[str, Any]:
        return next(r for r in rows if r["id"] == report_id and r["history_type"] == kind)

    first = row(report["id"], "+")
    url = fill(h, {"history": first["history_id"]})
    await api.call("get", h, 200, url, headers=A)
    await api.call("patch", h, 200, url, headers=A, json={"history_change_reason": "admission round"})
    await api.call("put", h, 200, url, headers=A, json={"history_change_reason": None, "pulse": 1})
    await api.call("patch", h, 400, url, headers=A, json={"history_change_reason": "x" * 101})
    await api.call("put", h, 400, url, headers=A, json={"history_change_reason": ["a list"]})
    other = make_user("erin").headers  # neither the row's author nor staff
    await api.call("patch", h, 403, url, headers=other, json={"history_change_reason": "not mine"})
    await api.call("put", h, 403, url, headers=other, json={"history_change_reason": "not mine"})
    restore = "/api/history/{history_id}/restore/"
    await api.call("post", restore, 200, fill(restore, {"history": first["history_id"]}), headers=A)
    await api.call("post", restore, 201, fill(restore, {"history": row(kept["id"], "+")["history_id"]}), headers=A)
    await api.call("post", restore, 409, fill(restore, {"history": row(gone["id"], "+")["history_id"]}), headers=A)
    deletable = row(gone["id"], "-")["history_id"]
    await api.call("delete", h, 403, fill(h, {"history": deletable}), headers=A)
    await api.call("delete", h, 204, fill(h, {"history": deletable}), headers=S)

    # Notifications (the report's warning signs, fever, ... raised some)
    ns = "/api/notifications/"
    n = "/api/notifications/{id}/"
    notes = await api.call("get", ns, 200, headers=A)
    assert notes, "the report should have raised notifications"
    await api.call("get", ns, 200, f"{ns}?patient={patient['id']}&acknowledged=false&limit=1", headers=A)
    await api.call("get", ns, 400, f"{ns}?acknowledged=maybe", headers=A)
    url = fill(n, {"notifications": notes[0]["id"]})
    await api.call("get", n, 200, url, headers=A)
    ack = "/api/notifications/{id}/acknowledge/"
    acked = await api.call("post", ack, 200, fill(ack, {"notifications": notes[0]["id"]}), headers=A)
    assert acked["acknowledged_by"] == alice.id
    await api.call("get", ns, 200, f"{ns}?acknowledged=true", headers=A)

    # Lists by cursor: a page, the next, the one before; a cursor the service did not make is 404
    first_page = await api.call("get", hs, 200, f"{hs}?cursor=&page_size=1", headers=A)
    assert first_page["previous"] is None and first_page["next"]
    second_page = await api.call("get", hs, 200, URL(first_page["next"]).path_qs, headers=A)
    assert second_page["previous"]
    back = await api.call("get", hs, 200, URL(second_page["previous"]).path_qs, headers=A)
    assert back["results"] == first_page["results"]
    await api.call("get", hs, 404, f"{hs}?cursor=bm90IGEgY3Vyc29y", headers=A)

    # Wards: everyone lists them, staff write them
    wds, wd = "/api/wards/", "/api/wards/{id}/"
    await api.call("get", wds, 200, headers=A)
    west = await api.call("post", wds, 201, headers=S, json={"name": "West"})
    await api.call("post", wds, 400, headers=S, json={"name": ""})
    await api.call("post", wds, 403, headers=A, json={"name": "Mine"})
    url = fill(wd, {"wards": west["id"]})
    await api.call("get", wd, 200, url, headers=A)
    await api.call("put", wd, 200, url, headers=S, json={"name": "West wing"})
    await api.call("patch", wd, 200, url, headers=S, json={"name": "West"})
    await api.call("put", wd, 400, url, headers=S, json={"name": ""})
    await api.call("patch", wd, 400, url, headers=S, json={"name": "x" * 101})
    for method in ("put", "patch"):
        await api.call(method, wd, 403, url, headers=A, json={"name": "Mine"})
    await api.call("delete", wd, 403, url, headers=A)
    await api.call("delete", wd, 409, fill(wd, {"wards": patient["ward"]}), headers=S)  # it has patients
    empty = await api.call("post", wds, 201, headers=S, json={"name": "Empty"})
    await api.call("delete", wd, 204, fill(wd, {"wards": empty["id"]}), headers=S)

    # Users: staff only
    uss, us = "/api/users/", "/api/users/{id}/"
    await api.call("get", uss, 200, headers=S)
    await api.call("get", uss, 403, headers=A)
    nurse = {"username": "nurse", "password": "a long enough secret", "wards": [west["id"]]}
    made_nurse = await api.call("post", uss, 201, headers=S, json=nurse)
    await api.call("post", uss, 400, headers=S, json={"username": "shorty", "password": "short"})
    await api.call("post", uss, 403, headers=A, json={**nurse, "username": "other"})
    url = fill(us, {"users": made_nurse["id"]})
    await api.call("get", us, 200, url, headers=S)
    await api.call("get", us, 403, url, headers=A)
    await api.call("patch", us, 200, url, headers=S, json={"first_name": "Nell"})
    await api.call("put", us, 200, url, headers=S, json={"last_name": "Nightingale"})
    await api.call("patch", us, 400, url, headers=S, json={"wards": [999999]})
    await api.call("put", us, 400, url, headers=S, json={"email": "not an address"})
    for method in ("put", "patch"):
        await api.call(method, us, 403, url, headers=A, json={"first_name": "X"})
    sp = "/api/users/{id}/set_password/"
    sp_url = fill(sp, {"users": made_nurse["id"]})
    await api.call("post", sp, 200, sp_url, headers=S, json={"password": "another long secret"})
    await api.call("post", sp, 400, sp_url, headers=S, json={"password": "123"})
    await api.call("post", sp, 403, sp_url, headers=A, json={"password": "another long secret"})

    # The audit log of those changes: staff only
    aus, au = "/api/audit/", "/api/audit/{id}/"
    entries = await api.call("get", aus, 200, headers=S)
    assert {e["action"] for e in entries} >= {"ward.create", "ward.update", "ward.delete", "user.create"}
    await api.call("get", aus, 200, f"{aus}?user={made_nurse['id']}", headers=S)
    await api.call("get", aus, 400, f"{aus}?user=x", headers=S)
    await api.call("get", aus, 403, headers=A)
    await api.call("get", au, 200, fill(au, {"audit": entries[0]["id"]}), headers=S)
    await api.call("get", au, 403, fill(au, {"audit": entries[0]["id"]}), headers=A)

    ids = {
        "patients": patient["id"],
        "reports": report["id"],
        "history": first["history_id"],
        "notifications": notes[0]["id"],
        "wards": west["id"],
        "users": made_nurse["id"],
        "audit": entries[0]["id"],
        session: sessions[0]["id"],
    }

    # Idempotency keys on every write: a retry is replayed, the same key with
    # another request is 422. Each case: a first request and another one.
    async def made(path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = await client.post(path, json=body, headers=S)
        assert resp.status == 201, await resp.text()
        return await resp.json()

    async def fresh_report() -> dict[str, Any]:
        owner = await made(pts, {**PATIENT, "first_name": "Keyed", "ward": 1})
        return await made(rps, report_body(owner["id"], warning_signs="vomiting"))

    async def history_of(report_id: int) -> int:
        rows = await (await client.get(f"{hs}?report={report_id}", headers=S)).json()
        return rows[0]["history_id"]

    async def notification_of(report_id: int) -> int:
        notes = await (await client.get("/api/notifications/", headers=S)).json()
        return next(n["id"] for n in notes if n["report"] == report_id)

    async def case(method: str, template: str) -> tuple[str, Any, str, Any]:
        if template == wds:
            return wds, {"name": "Keyed"}, wds, {"name": "Keyed too"}
        if template == uss:
            body = {"username": "keyed", "password": "a long enough secret"}
            return uss, body, uss, {**body, "username": "keyed2"}
        if template in (wd, us, sp):
            kind = {wd: "wards", us: "users", sp: "users"}[template]
            made_a = made_b = made_nurse
            if kind == "wards":
                made_a = made_b = west
                if method == "delete":
                    made_a, made_b = await made(wds, {"name": "KeyA"}), await made(wds, {"name": "KeyB"})
            url_a = fill(template, {kind: made_a["id"]})
            if method == "delete":
                return url_a, None, fill(template, {kind: made_b["id"]}), None
            body = {"password": "a third long secret"} if template == sp else {"name": "Keyed ward"}
            if template == us:
                body = {"first_name": "Keyed"}
            return url_a, body, url_a, {**body, "_other": 1}
        if template == pts:
            return pts, {**PATIENT, "ward": 1}, pts, {**PATIENT, "first_name": "Another", "ward": 1}
        if template == rps:
            owner = await made(pts, {**PATIENT, "ward": 1})
            return rps, report_body(owner["id"]), rps, report_body(owner["id"], pulse=1)
        one, two = await fresh_report(), await fresh_report()
        if template == pt:
            urls = [fill(pt, {"patients": r["patient"]}) for r in (one, two)]
            body: Any = {"put": {**PATIENT, "ward": 1}, "patch": {"last_name": "K"}}.get(method)
        elif template == rp:
            urls = [fill(rp, {"reports": r["id"]}) for r in (one, two)]
            body = {"put": report_body(one["patient"]), "patch": {"pulse": 70}}.get(method)
        elif template in (h, restore):
            urls = [fill(template, {"history": await history_of(r["id"])}) for r in (one, two)]
            body = {"history_change_reason": "keyed"} if method in ("put", "patch") else None
        else:
            urls = [fill(template, {"notifications": await notification_of(r["id"])}) for r in (one, two)]
            body = None
        if body is None:  # no body: another object is another request
            return urls[0], None, urls[1], None
        return urls[0], body, urls[0], {**body, "_other": 1}

    for template, method, op in operations(spec):
        if "422" not in op["responses"]:
            continue
        url_a, body_a, url_b, body_b = await case(method, template)
        key = {**S, "Idempotency-Key": f"{method}-{template}"}
        success = next(s for s in op["responses"] if s.startswith("2"))
        first = await api.call(method, template, int(success), url_a, headers=key, json=body_a)
        again = await api.call(method, template, int(success), url_a, headers=key, json=body_a)
        assert first == again
        await api.call(method, template, 422, url_b, headers=key, json=body_b)

    # Errors every operation of a kind shares, from the document itself
    for template, method, op in operations(spec):
        url = fill(template, ids)
        responses = op["responses"]
        if "401" in responses:
            await api.call(method, template, 401, url, headers={"Authorization": "Token " + "0" * 40})
            security = op.get("security", spec["security"])
            if security and {} not in security:  # a token is required
                await api.call(method, template, 401, url)
        if "404" in responses and "{" not in template:  # a list: a cursor it did not make
            await api.call(method, template, 404, f"{template}?cursor=bm8", headers=S)
        elif "404" in responses:
            for missing in ("999999999", "abc"):
                body = {"json": {}} if "requestBody" in op else {}
                await api.call(method, template, 404, fill(template, dict.fromkeys(ids, missing)), headers=S, **body)
        if "412" in responses:
            body = {"json": {}} if "requestBody" in op else {}
            await api.call(method, template, 412, url, headers={**S, "If-Match": '"stale"'}, **body)
        if any(p.get("name") == "Idempotency-Key" for p in op.get("parameters", [])):
            # a malformed key is 400 on every write, with a body or without
            body = {"json": {}} if "requestBody" in op else {}
            refused = await api.call(method, template, 400, url, headers={**S, "Idempotency-Key": "not a key"}, **body)
            assert refused == {"detail": "Idempotency-Key: An idempotency key is 1 to 255 visible ASCII characters."}
        if "requestBody" in op:
            headers = {**S, "Content-Type": JSON}
            await api.call(method, template, 400, url, headers=headers, data=b'{"first_name": ')
            await api.call(method, template, 400, url, headers=S, json=["not", "an", "object"])
            await api.call(method, template, 415, url, headers={**S, "Content-Type": "text/plain"}, data=b"hi")
            await api.call(method, template, 413, url, headers=headers, data=b" " * (MIB + 1))

    # Methods a path does not document are 405
    for template, item in spec["paths"].items():
        for method in METHODS:
            if method not in item:
                await api.not_allowed(method, fill(template, ids), S)

    # PostgreSQL unreachable: 503 wherever the database is needed
    name = database_url.rpartition("/")[2]
    admin_execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    try:
        admin_execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND application_name = 'dengue-ward'"
        )
        for template, method, op in operations(spec):
            if "503" not in op["responses"]:
                continue
            body = {"username": "alice", "password": PASSWORD} if template == login else {}
            await api.call(method, template, 503, fill(template, ids), headers=S, json=body)
    finally:
        admin_execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

    # Everything the document declares was seen
    declared = {(t, m, s) for t, m, op in operations(spec) for s in op["responses"]}
    missing = sorted(declared - api.seen)
    assert not missing, f"declared but never exercised: {missing}"
