"""The OpenAPI 3.0.3 document of the HTTP API: ``build_document(resources)``.

The document is generated from the code so that it cannot drift:

- the paths and methods come from the resource table (``app.RESOURCES``:
  create/update/delete, detail actions, list filters), as the routes do;
- request bodies and the writable part of every object come from the
  resources' ``Field`` tuples (types, bounds, lengths, choices, required);
- each resource's texts (its tag, its filters' descriptions, its detail
  actions) and the read-only part of its objects (ids, timestamps,
  ``created_by``, the derived report fields, the history columns, the
  notification fields) are declared beside its fields, in its
  ``Resource(docs=..., filters=...)`` (``service/apidocs.py``);
- written out here: the auth endpoints (not resources: dj-rest-auth's fixed
  set), the API root, the probes, the docs paths and the prose of
  ``info.description`` (the WebSocket's streams and actions from ``realtime.ws``).

A detail action without its ``ActionDoc`` (or the reverse) fails at startup.
``tests/http/test_openapi.py`` calls every operation against the real app and
validates each reply against this document, and checks that every route the
app registers is described here.
"""

from __future__ import annotations

from typing import Any

from ..apidocs import DATETIME, ID
from ..auth import actions as auth_actions
from ..auth import sessions as auth_sessions
from ..idempotency import KEY_MESSAGE, KEY_RE
from ..realtime.ws import actions_of
from ..resources import Resource
from .schemas import (
    ERROR,
    JSON,
    RESPONSES,
    SERVER_ERROR,
    Schema,
    bad_request_response,
    body,
    error_response,
    obj,
    ok,
    outputs,
    properties,
    read_only,
    ref,
    request_schema,
    responses,
    schema_ref,
    validation_schema,
)

OPENAPI_VERSION = "3.0.3"


_details = outputs(auth_actions.DETAIL_FIELDS)
USER_DETAILS = {
    "pk": read_only(ID),
    "username": _details.pop("username"),
    "email": read_only({"type": "string"}),
    **_details,
    "is_staff": read_only({"type": "boolean"}, "Manages users and wards; sees every ward."),
    "is_superuser": read_only({"type": "boolean"}),
    "wards": read_only(
        {"type": "array", "items": {"type": "integer", "format": "int64"}}, "The wards whose patients the user sees."
    ),
}


# --- paths --------------------------------------------------------------------


def resource_paths(resource: Resource, schemas: dict[str, Schema]) -> dict[str, Schema]:
    """The list, detail and detail-action paths of one resource, from its
    actions, filters and ``docs``; adds its component schemas."""
    doc = resource.docs
    name, tag = resource.model, resource.name
    if name in schemas:
        raise ValueError(f"resource {resource.name!r}: a schema is already named {name!r} (its model)")
    crud = {"create": resource.create, "update": resource.update, "delete": resource.delete}
    operations = ["list", "retrieve", *(op for op, action in crud.items() if action), *resource.detail_actions]
    for unknown in [op for op in doc.restricted if op not in operations]:
        raise LookupError(f"{resource.name!r}: restricted names {unknown!r}, not one of its operations")
    for action in resource.detail_actions:
        if action not in doc.actions:
            raise LookupError(f"action {action!r} of {resource.name!r} has no ActionDoc in its docs.actions")
    for action in doc.actions:
        if action not in resource.detail_actions:
            raise LookupError(f"docs.actions of {resource.name!r} describes {action!r}, which it does not have")

    def restricted(operation: str) -> tuple[str, tuple[str, ...]]:
        """The summary's suffix and the extra error of an operation only some may call."""
        who = doc.restricted.get(operation)
        return (f" ({who})", ("403",)) if who else ("", ())

    schemas[name] = obj(properties(doc.properties, name))
    schemas[f"Paginated{name}List"] = obj(
        {
            "count": {"type": "integer", "minimum": 0},
            "next": {"type": "string", "format": "uri", "nullable": True},
            "previous": {"type": "string", "format": "uri", "nullable": True},
            "results": {"type": "array", "items": schema_ref(name)},
        },
        "LimitOffsetPagination: the page asked for with `?limit=` (and `?offset=`). The count is exact up to "
        "10,000; a larger one is given as 10,000 with the header `X-Count-Exact: false`.",
    )
    schemas[f"Cursor{name}List"] = obj(
        {
            "next": {"type": "string", "format": "uri", "nullable": True},
            "previous": {"type": "string", "format": "uri", "nullable": True},
            "results": {"type": "array", "items": schema_ref(name)},
        },
        "CursorPagination: the page asked for with `?cursor=` (empty: the first page) and `?page_size=`; "
        "`next` and `previous` carry opaque cursors.",
    )
    if doc.fields:
        schemas[f"{name}ValidationError"] = validation_schema(
            [f.name for f in doc.fields], f"Field errors of a {name} body."
        )
        if resource.create or (resource.update and not doc.put_partial):
            schemas[f"{name}Request"] = request_schema(doc.fields, partial=False)
        schemas[f"Patched{name}Request"] = request_schema(
            doc.fields, partial=True, description="Partial: only the fields sent are changed."
        )
    validation = f"{name}ValidationError" if doc.fields else None

    list_params: list[Schema] = [
        {"name": f.name, "in": "query", "required": False, "description": f.description, "schema": dict(f.schema)}
        for f in resource.filters
    ]
    list_bad_request = None
    if resource.filters:
        schemas[f"{name}FilterError"] = validation_schema(
            [f.name for f in resource.filters], "A bad list filter value."
        )
        list_bad_request = {
            "description": "A filter value that is not valid: "
            '`{"patient": ["Select a valid choice. That choice is not one of the available choices."]}`.',
            "content": {JSON: {"schema": schema_ref(f"{name}FilterError")}},
        }
    list_params += [
        ref("parameters", "limit"),
        ref("parameters", "offset"),
        ref("parameters", "cursor"),
        ref("parameters", "page_size"),
    ]

    suffix, forbidden = restricted("list")
    collection: dict[str, Schema] = {
        "get": {
            "tags": [tag],
            "operationId": f"{tag}_list",
            "summary": f"List {tag}" + suffix,
            "description": "A plain JSON array (streamed, whatever its length); with `?limit=` the "
            "LimitOffsetPagination object, with `?cursor=` the CursorPagination object.",
            "parameters": list_params,
            "responses": responses(
                ok(
                    f"The {tag}.",
                    {
                        "oneOf": [
                            {"type": "array", "items": schema_ref(name)},
                            schema_ref(f"Paginated{name}List"),
                            schema_ref(f"Cursor{name}List"),
                        ]
                    },
                ),
                "401",
                *forbidden,
                "503",
                bad_request=list_bad_request,
            )
            | {"404": ref("responses", "InvalidCursor")},
        }
    }
    if resource.create:
        suffix, forbidden = restricted("create")
        collection["post"] = {
            "tags": [tag],
            "operationId": f"{tag}_create",
            "summary": f"Create a {name}" + suffix,
            "requestBody": body(f"{name}Request"),
            "responses": responses(
                ok(f"The created {name} (no Location header).", schema_ref(name), "201"),
                "401",
                *forbidden,
                "413",
                "415",
                "503",
                bad_request=bad_request_response(validation, parse=True),
            ),
        }

    lookup = resource.lookup
    path_param = {
        "name": lookup,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "format": "int64"},
        "description": f"The `{lookup}` of the {name}.",
    }
    suffix, forbidden = restricted("retrieve")
    detail: dict[str, Any] = {
        "parameters": [path_param],
        "get": {
            "tags": [tag],
            "operationId": f"{tag}_retrieve",
            "summary": f"One {name}" + suffix,
            "responses": responses(with_etag(ok(f"The {name}.", schema_ref(name))), "401", *forbidden, "404", "503"),
        },
    }
    if resource.update:
        suffix, forbidden = restricted("update")
        put_body = f"Patched{name}Request" if doc.put_partial else f"{name}Request"
        for method, body_name, summary in (
            ("put", put_body, "Replace" if not doc.put_partial else "Update"),
            ("patch", f"Patched{name}Request", "Partly update"),
        ):
            op: Schema = {
                "tags": [tag],
                "operationId": f"{tag}_{'update' if method == 'put' else 'partial_update'}",
                "summary": f"{summary} a {name}" + suffix,
                "parameters": [IF_MATCH],
                "requestBody": body(body_name, required="required" in schemas[body_name]),
                "responses": responses(
                    with_etag(ok(f"The whole {name}, updated.", schema_ref(name))),
                    "401",
                    *forbidden,
                    "404",
                    "412",
                    "413",
                    "415",
                    "503",
                    bad_request=bad_request_response(validation, parse=True),
                ),
            }
            if doc.update_description:
                op["description"] = doc.update_description
            detail[method] = op
    if resource.delete:
        suffix, forbidden = restricted("delete")
        detail["delete"] = {
            "tags": [tag],
            "operationId": f"{tag}_destroy",
            "summary": f"Delete a {name}" + suffix,
            "parameters": [IF_MATCH],
            "responses": responses(
                {"204": {"description": "Deleted: no body."}}, "401", *forbidden, "404", "412", "503"
            ),
        }

    paths: dict[str, Any] = {f"/api/{resource.name}/": collection, f"/api/{resource.name}/{{{lookup}}}/": detail}
    for action in resource.detail_actions:
        adoc = doc.actions[action]
        if bool(adoc.fields) != (action in resource.body_actions):
            raise LookupError(
                f"action {action!r} of {resource.name!r}: its ActionDoc.fields must be given "
                "exactly when it reads a body (Resource.body_actions)"
            )
        suffix, forbidden = restricted(action)
        replies = {
            str(r.status): {"description": r.description, "content": {JSON: {"schema": schema_ref(r.schema)}}}
            for r in adoc.replies
        }
        post: Schema = {
            "tags": [tag],
            "operationId": f"{tag}_{action}",
            "summary": adoc.summary + suffix,
            "description": adoc.description,
        }
        body_errors: tuple[str, ...] = ()
        if adoc.fields:
            request = f"{name}{''.join(w.title() for w in action.split('_'))}Request"
            schemas[request] = request_schema(adoc.fields, partial=False)
            post["requestBody"] = body(request, required="required" in schemas[request])
            body_errors = ("413", "415")
        post["responses"] = responses(replies, "401", *forbidden, "404", *body_errors, "503")
        paths[f"/api/{resource.name}/{{{lookup}}}/{action}/"] = {"parameters": [path_param], "post": post}
    standard = {
        "list": collection.get("get"),
        "create": collection.get("post"),
        "retrieve": detail.get("get"),
        "update": detail.get("put"),
        "delete": detail.get("delete"),
    }
    for operation, extra in doc.replies.items():
        ops = [standard.get(operation)] + ([detail.get("patch")] if operation == "update" else [])
        if not any(ops):
            raise LookupError(f"{resource.name!r}: docs.replies names {operation!r}, not one of its operations")
        added = {str(r.status): error_response(r.description, schema=r.schema) for r in extra}
        for described in ops:
            if described is not None:
                described["responses"] = dict(sorted({**described["responses"], **added}.items()))
    for item in paths.values():
        for method in WRITES:
            if method in item:
                idempotent(item[method])
    return paths


WRITES = ("post", "put", "patch", "delete")
IDEMPOTENCY_KEY: Schema = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any 1 to 255 visible ASCII characters, new for each write the client means (a UUID). "
    "A retry with the same key and request within 24 h gets the first reply again (with "
    "`Idempotent-Replayed: true`) and writes nothing; the same key with another request is 422. Over the "
    'socket: `"idempotency_key"` in the payload.',
    "schema": {"type": "string", "pattern": f"^{KEY_RE.pattern}$"},
}


def idempotent(operation: dict[str, Any]) -> None:
    """A write takes an Idempotency-Key: the parameter, the 400 of a malformed
    key (on every write, with or without a body) and the 422 of a reused one."""
    operation["parameters"] = [*operation.get("parameters", []), IDEMPOTENCY_KEY]
    replies = {**operation["responses"], "422": ref("responses", "KeyReused")}
    bad = replies.get("400")
    if bad is None:
        replies["400"] = ref("responses", "BadIdempotencyKey")
    else:
        schema = bad["content"][JSON]["schema"]
        if schema != schema_ref("Error") and schema_ref("Error") not in schema.get("oneOf", ()):
            bad["content"][JSON]["schema"] = {"oneOf": [schema, schema_ref("Error")]}
        bad["description"] += f" A malformed Idempotency-Key: `Idempotency-Key: {KEY_MESSAGE}`"
    operation["responses"] = dict(sorted(replies.items()))


IF_MATCH: Schema = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "The `ETag` of the version the client edits (or `*`): 412 if the object changed since. "
    'Without it the write goes through, as with the old back end. Over the socket: `"if_match"`.',
    "schema": {"type": "string"},
}


def with_etag(reply: dict[str, Schema]) -> dict[str, Schema]:
    """A 200 reply that carries the object's ETag."""
    ((status, response),) = reply.items()
    etag = {"description": "The object's entity tag, for a later If-Match.", "schema": {"type": "string"}}
    return {status: {**response, "headers": {"ETag": etag}}}


def auth_paths(schemas: dict[str, Schema]) -> dict[str, Schema]:
    schemas["LoginRequest"] = request_schema(
        auth_actions.LOGIN_FIELDS,
        partial=False,
        description="`username` (or `email`) and `password`.",
    )
    schemas["LoginValidationError"] = validation_schema(
        [f.name for f in auth_actions.LOGIN_FIELDS],
        f'Wrong credentials (or an inactive user): `{{"non_field_errors": ["{auth_actions.LOGIN_FAILED}"]}}`.',
    )
    schemas["Token"] = obj(
        {"key": {"type": "string", "pattern": "^" + auth_sessions.KEY_RE.pattern + "$"}},
        "A new session's key (one per login and device); it ends on logout, after TOKEN_IDLE_SECONDS "
        "without use or TOKEN_MAX_AGE_SECONDS in any case. Send it as `Authorization: Token <key>`.",
    )
    schemas["Session"] = obj(
        {
            "id": {"type": "integer", "format": "int64"},
            "created": dict(DATETIME),
            "last_used": {**DATETIME, "description": "Updated at most once a minute."},
            "user_agent": {"type": "string", "maxLength": auth_sessions.USER_AGENT_MAX},
            "client": {"type": "string", "description": "The client's address at login."},
            "current": {"type": "boolean", "description": "The session making this request."},
        },
        "One of the user's sessions (devices).",
    )
    schemas["EndOthersResponse"] = obj(
        {
            "detail": {"type": "string", "enum": ["Every other session has ended."]},
            "ended": {"type": "integer", "minimum": 0},
        }
    )
    schemas["PasswordChangeRequest"] = request_schema(
        auth_actions.PASSWORD_CHANGE_FIELDS, partial=False, description="dj-rest-auth's password change."
    )
    schemas["PasswordChangeValidationError"] = validation_schema(
        [f.name for f in auth_actions.PASSWORD_CHANGE_FIELDS],
        f"`old_password`: `{auth_actions.OLD_PASSWORD_WRONG}`; `new_password2`: "
        f"`{auth_actions.PASSWORDS_DIFFER}` or the password policy's messages (Django's four validators).",
    )
    schemas["PasswordChanged"] = obj({"detail": {"type": "string", "enum": ["New password has been saved."]}})
    schemas["LogoutResponse"] = obj({"detail": {"type": "string", "enum": ["Successfully logged out."]}})
    schemas["UserDetails"] = obj(USER_DETAILS)
    schemas["UserDetailsRequest"] = request_schema(auth_actions.DETAIL_FIELDS, partial=False)
    schemas["PatchedUserDetailsRequest"] = request_schema(
        auth_actions.DETAIL_FIELDS, partial=True, description="Partial: only the fields sent are changed."
    )
    schemas["UserDetailsValidationError"] = validation_schema(
        [f.name for f in auth_actions.DETAIL_FIELDS], "Field errors of the user details."
    )
    tag = "auth"
    user_update = {
        "tags": [tag],
        "requestBody": body("UserDetailsRequest"),
        "responses": responses(
            ok("The user's details.", schema_ref("UserDetails")),
            "401",
            "413",
            "415",
            "503",
            bad_request=bad_request_response("UserDetailsValidationError", parse=True),
        ),
    }
    return {
        "/rest-auth/login/": {
            "post": {
                "tags": [tag],
                "operationId": "auth_login",
                "summary": "Log in: a new session for this device",
                "description": "dj-rest-auth's login; every login makes a new session with its own key. Also at "
                "`/rest-auth/login` (no slash). No token is needed, but a bad one sent along is 401, as in DRF. "
                "Failed logins are throttled per username and client address, per client address and per "
                "username (429); too many at once is 503.",
                "security": [],
                "requestBody": body("LoginRequest"),
                "responses": responses(
                    ok("The new session's key.", schema_ref("Token")),
                    "401",
                    "413",
                    "415",
                    "429",
                    "503",
                    bad_request=bad_request_response("LoginValidationError", parse=True),
                ),
            }
        },
        "/rest-auth/password/change/": {
            "post": {
                "tags": [tag],
                "operationId": "auth_password_change",
                "summary": "Change the user's password",
                "description": "dj-rest-auth's password change (with the old password). Every other session of "
                "the user ends and its sockets close (4401); this one stays. Also without the slash.",
                "requestBody": body("PasswordChangeRequest"),
                "responses": responses(
                    ok("Saved.", schema_ref("PasswordChanged")),
                    "401",
                    "413",
                    "415",
                    "503",
                    bad_request=bad_request_response("PasswordChangeValidationError", parse=True),
                ),
            }
        },
        "/rest-auth/sessions/": {
            "get": {
                "tags": [tag],
                "operationId": "auth_sessions_list",
                "summary": "The user's sessions, newest first",
                "description": "Also without the slash.",
                "responses": responses(
                    ok("The sessions.", {"type": "array", "items": schema_ref("Session")}), "401", "503"
                ),
            }
        },
        "/rest-auth/sessions/{id}/": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "format": "int64"}}
            ],
            "delete": {
                "tags": [tag],
                "operationId": "auth_sessions_destroy",
                "summary": "End one of the user's sessions",
                "description": "Its key stops working at once and its sockets close (4401) on every server "
                "process. Ending the current session is a logout. Another user's session is 404.",
                "responses": responses({"204": {"description": "Ended: no body."}}, "401", "404", "503"),
            },
        },
        "/rest-auth/sessions/end-others/": {
            "post": {
                "tags": [tag],
                "operationId": "auth_sessions_end_others",
                "summary": "End every session of the user but this one",
                "description": "No request body.",
                "responses": responses(ok("Ended.", schema_ref("EndOthersResponse")), "401", "503"),
            }
        },
        "/rest-auth/logout/": {
            "post": {
                "tags": [tag],
                "operationId": "auth_logout",
                "summary": "Log out: end this session",
                "description": "Ends the caller's session only (other devices stay logged in); its sockets "
                "close with 4401. Answers 200 without a token too; a bad token is 401. Also at "
                "`/rest-auth/logout`. No request body.",
                "security": [{}, {"tokenAuth": []}],
                "responses": responses(ok("Logged out.", schema_ref("LogoutResponse")), "401", "503"),
            }
        },
        "/rest-auth/user/": {
            "get": {
                "tags": [tag],
                "operationId": "auth_user_retrieve",
                "summary": "The user's details",
                "description": "Also at `/rest-auth/user`.",
                "responses": responses(ok("The user's details.", schema_ref("UserDetails")), "401", "503"),
            },
            "put": {
                **user_update,
                "operationId": "auth_user_update",
                "summary": "Replace the user's details",
                "description": "`username` is required; `pk` and `email` are read-only and ignored.",
            },
            "patch": {
                **user_update,
                "operationId": "auth_user_partial_update",
                "summary": "Partly update the user's details",
                "requestBody": body("PatchedUserDetailsRequest", required=False),
            },
        },
    }


def other_paths(resources: tuple[Resource, ...], schemas: dict[str, Schema]) -> dict[str, Schema]:
    names = [r.name for r in resources]
    schemas["ApiRoot"] = obj(
        {name: {"type": "string", "format": "uri", "description": f"The {name} list."} for name in names},
        "Absolute URLs of the lists, built from the Host header.",
    )
    schemas["Health"] = obj({"status": {"type": "string", "enum": ["alive"]}})
    checks = {"database": {"type": "string"}, "redis": {"type": "string"}}
    schemas["Ready"] = obj(
        {
            "status": {"type": "string", "enum": ["ready"]},
            "checks": obj({name: {"type": "string", "enum": ["ok"]} for name in checks}),
        }
    )
    schemas["NotReady"] = obj(
        {
            "status": {"type": "string", "enum": ["not ready"]},
            "checks": obj(checks, '"ok", "unavailable", or "migrations not applied: <ids>" (details in the log).'),
        }
    )
    return {
        "/api/": {
            "get": {
                "tags": ["api"],
                "operationId": "api_root",
                "summary": "API root",
                "responses": responses(ok("The lists.", schema_ref("ApiRoot")), "401", "503"),
            }
        },
        "/healthz": {
            "get": {
                "tags": ["probes"],
                "operationId": "healthz",
                "summary": "Liveness: the process answers",
                "security": [],
                "responses": ok("Alive.", schema_ref("Health")),
            }
        },
        "/readyz": {
            "get": {
                "tags": ["probes"],
                "operationId": "readyz",
                "summary": "Readiness: PostgreSQL and Redis reachable, every migration applied",
                "security": [],
                "responses": {
                    **ok("Ready.", schema_ref("Ready")),
                    "503": {"description": "Not ready.", "content": {JSON: {"schema": schema_ref("NotReady")}}},
                },
            }
        },
        "/openapi.json": {
            "get": {
                "tags": ["docs"],
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": ok("OpenAPI 3.0.3.", {"type": "object"}),
            }
        },
        "/swagger/": {
            "get": {
                "tags": ["docs"],
                "operationId": "swagger_ui",
                "summary": "Swagger UI for this document (served locally, no CDN)",
                "security": [],
                "responses": {
                    "200": {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}
                },
            }
        },
    }


def _ws_description(resources: tuple[Resource, ...]) -> str:
    streams = "\n".join(f"  - `{r.name}`: " + ", ".join(f"`{a}`" for a in actions_of(r)) for r in resources)
    filters = "; ".join(f"`{r.name}`: " + ", ".join(f"`{f.name}`" for f in r.filters) for r in resources if r.filters)
    return f"""
## WebSocket: `/ws/`

OpenAPI cannot describe it; this is the contract (the old DCRF +
channelsmultiplexer protocol: see `wire-protocol.md` §1-4, §10 and §11, and the
README's "The WebSocket at /ws/").

- **Connect** to `/ws/?token=<key>` (optionally `&since=<event_id>`). A missing,
  unknown or inactive-user token, or a foreign browser `Origin`, rejects the
  handshake with HTTP 403; a `since` that is not a non-negative integer, 400.
- **Frames** are JSON text: `{{"stream": <stream>, "payload": {{"action": ..., "request_id": ..., ...}}}}`.
  Streams and their actions:
{streams}

  `pk` names the object (the `id`, or `history_id` on `history`); `data` carries
  the body of `create`, `update` and `patch`. `list` takes the same filters as
  REST at the top level of the payload ({filters}).
- **Replies** come on the same stream: `{{"action", "data", "errors", "response_status", "request_id"}}`,
  with the HTTP status and the same validation messages as REST.
- **Broadcasts**: every create, update and delete of patients, reports and
  history reaches every socket, framed like a reply with `"request_id": null`
  and an `"event_id"` (an integer that only grows); notifications arrive on
  stream `notifications` with action `notification`.
- **Resume**: reconnect with `since=<the last event_id seen>` to receive every
  missed broadcast, in order, before live ones. If `since` is older than what
  is kept, one frame with `response_status` 410 arrives on stream `events`:
  reload, then resume from a newer event_id.
- **Bad frames** are answered (400, or 405 for an unknown action) with a
  non-empty `errors`; the socket stays open. Frames over 1 MiB close it with 1009.
"""


DESCRIPTION = """
The REST API of Dengue Ward, a drop-in replacement of the old Django REST
Framework back end (DRF 3.18 + dj-rest-auth 7.2 conventions).

## Authentication

Send `Authorization: Token <key>`, the key from `POST /rest-auth/login/`.
In Swagger UI, click **Authorize** and enter `Token <key>` (a bare 40-character
key is prefixed with `Token ` for you). Without a valid token: 401 with
`WWW-Authenticate: Token`; a user lacking a permission: 403.

## Conventions

- Every path ends in `/`. Without it: 301 (GET, HEAD) or 308 (other methods)
  to the same path with `/`. The `/rest-auth/` paths work without it too.
- JSON in and out. Bodies may also be form-encoded or multipart. An empty body
  counts as `{}`; a body over 1 MiB is 413; another media type is 415; one that
  cannot be read (bad JSON, bytes that are not UTF-8, a broken multipart body,
  more than 1,000 form fields) is 400. In form input an empty value of a
  nullable field is `null` and a repeated key keeps its last value.
- Detail replies carry an `ETag`; PUT, PATCH and DELETE with `If-Match` answer
  412 `{"detail": "This record was changed by someone else since you loaded it."}`
  when the object changed since.
- Every response carries `Content-Security-Policy`, `X-Content-Type-Options: nosniff`
  and `Referrer-Policy: no-referrer`.
- A method a path does not list answers 405 `{"detail": "Method \\"X\\" not allowed."}`
  with an `Allow` header. HEAD works like GET; OPTIONS on the list and detail
  paths returns DRF's metadata.
- Lists are plain arrays; `?limit=` (and `?offset=`) switches to
  `{"count", "next", "previous", "results"}`.
- Decimals travel as strings with their places (`"38.50"`); datetimes as
  ISO 8601 in UTC (`"2024-05-01T08:30:00Z"`); empty nullable fields as `null`.
- Unknown URLs: 404 `{"detail": "Not found."}`. Unexpected errors: 500
  `{"detail", "request_id"}`; PostgreSQL unreachable: 503 the same way.
"""


def build_document(resources: tuple[Resource, ...]) -> dict[str, Any]:
    """Generate the whole document (a new dict on every call)."""
    schemas: dict[str, Schema] = {"Error": ERROR, "ServerError": SERVER_ERROR}
    paths: dict[str, Schema] = auth_paths(schemas)
    root = other_paths(resources, schemas)
    paths["/api/"] = root.pop("/api/")
    for resource in resources:
        paths.update(resource_paths(resource, schemas))
    paths.update(root)
    tags = [
        {"name": "auth", "description": "dj-rest-auth: login, logout, the user's own details."},
        {"name": "api", "description": "The API root."},
    ]
    tags += [{"name": r.name, "description": r.docs.description} for r in resources]
    tags += [
        {"name": "probes", "description": "For the orchestrator; no authentication."},
        {"name": "docs", "description": "This document and Swagger UI; no authentication."},
    ]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Dengue Ward API",
            "version": "1.0.0",
            "description": DESCRIPTION + _ws_description(resources),
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": RESPONSES,
            "parameters": {
                "limit": {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "description": "Page size; switches on pagination. Invalid values (0, negative, "
                    "not a number) are ignored.",
                    "schema": {"type": "integer", "minimum": 1},
                },
                "cursor": {
                    "name": "cursor",
                    "in": "query",
                    "required": False,
                    "description": "Switches on cursor pagination: empty for the first page, then the cursor of a "
                    "`next` or `previous` link. O(page) at any depth; an unknown cursor is 404.",
                    "schema": {"type": "string"},
                },
                "page_size": {
                    "name": "page_size",
                    "in": "query",
                    "required": False,
                    "description": "Rows of a cursor page: default 100, at most 1,000 (`LIST_MAX_PAGE_SIZE`). As in "
                    "DRF, a value that is not a positive integer gives the default and a larger one the most.",
                    "schema": {"type": "integer", "minimum": 1},
                },
                "offset": {
                    "name": "offset",
                    "in": "query",
                    "required": False,
                    "description": "Index of the first item of the page (with `limit`); invalid values count as 0.",
                    "schema": {"type": "integer", "minimum": 0},
                },
            },
            "securitySchemes": {
                "tokenAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`Token <key>`, the key from `POST /rest-auth/login/`.",
                }
            },
        },
        "security": [{"tokenAuth": []}],
    }
