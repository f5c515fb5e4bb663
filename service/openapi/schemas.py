"""JSON schemas from ``validation.Field`` (types, bounds, lengths, choices,
required) and from a resource's ``apidocs.ReadOnly`` properties, and the error
schemas and responses every operation shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..apidocs import DATETIME_PATTERN, Property, ReadOnly
from ..http.body import FORM_TYPES
from ..idempotency import KEY_MESSAGE
from ..validation import INT_MAX, Field, Kind, iso_utc

JSON = "application/json"
Schema = dict[str, Any]


def ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def schema_ref(name: str) -> Schema:
    return ref("schemas", name)


# --- field schemas, from validation.Field ------------------------------------


def _bound(value: int | str) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def _decimal_description(field: Field, output: bool) -> str:
    parts = [f"Decimal, at most {field.max_digits} digits, {field.decimal_places} after the point"]
    if field.min_value is not None and field.max_value is not None:
        parts.append(f"between {field.min_value} and {field.max_value}")
    elif field.min_value is not None:
        parts.append(f"at least {field.min_value}")
    elif field.max_value is not None:
        parts.append(f"at most {field.max_value}")
    text = ", ".join(parts) + "."
    example = "12." + "5".ljust(field.decimal_places, "0") if field.decimal_places else "12"
    if output:
        return text + f' Always a string with {field.decimal_places} places (e.g. "{example}").'
    return text + " A JSON number is accepted as well as a string."


def field_schema(field: Field, *, output: bool) -> Schema:
    """The schema of one writable field, as sent (``output=False``) or as returned."""
    s: Schema
    if field.kind == Kind.INT:
        s = {"type": "integer"}
        if field.min_value is not None:
            s["minimum"] = _bound(field.min_value)
        s["maximum"] = _bound(field.max_value) if field.max_value is not None else INT_MAX
    elif field.kind == Kind.FK:
        s = {"type": "integer", "format": "int64", "description": f"The id of a {field.name}."}
    elif field.kind == Kind.FK_LIST:
        s = {
            "type": "array",
            "items": {"type": "integer", "format": "int64"},
            "maxItems": 1000,
            "description": f"The ids of the {field.name}.",
        }
    elif field.kind == Kind.DECIMAL:
        whole, places = field.max_digits - field.decimal_places, field.decimal_places
        if output:
            pattern = rf"^-?\d{{1,{max(whole, 1)}}}" + (rf"\.\d{{{places}}}$" if places else "$")
        else:
            pattern = rf"^-?\d{{0,{whole}}}(\.\d{{0,{places}}})?$"
        s = {
            "type": "string",
            "format": "decimal",
            "pattern": pattern,
            "description": _decimal_description(field, output),
        }
    elif field.kind == Kind.DATETIME:
        s = {"type": "string", "format": "date-time"}
        if output:
            s["pattern"] = DATETIME_PATTERN
        else:
            s["description"] = (
                "ISO 8601. Without an offset the time is taken in the clinical time zone "
                "(CLINICAL_TIMEZONE); it is returned in UTC."
            )
            if field.earliest is not None or field.latest_ahead is not None:
                bounds = []
                if field.earliest is not None:
                    bounds.append(f"not before {iso_utc(field.earliest)}")
                if field.latest_ahead is not None:
                    hours = int(field.latest_ahead.total_seconds() // 3600)
                    bounds.append(f"at most {hours} hours after the server's current time")
                s["description"] += " " + " and ".join(bounds).capitalize() + " (400 otherwise)."
    elif field.kind == Kind.TEXT:
        s = {"type": "string"}
        if not field.allow_blank:
            s["minLength"] = 1
        if field.max_length is not None:
            s["maxLength"] = field.max_length
        if field.pattern is not None:
            s["pattern"] = "^" + field.pattern.pattern + "$"
    elif field.kind == Kind.CHOICE:
        choices: list[Any] = list(field.choices) + ([""] if field.allow_blank else [])
        s = {"type": "string", "enum": choices}
    elif field.kind == Kind.BOOL:
        s = {"type": "boolean"}
    else:  # a new Kind must be described here
        raise ValueError(f"no OpenAPI schema for field kind {field.kind!r} ({field.name})")
    if field.nullable:
        s["nullable"] = True
        if "enum" in s:
            s["enum"].append(None)
    return s


def request_schema(fields: tuple[Field, ...], *, partial: bool, description: str = "") -> Schema:
    """A request body: unknown keys are ignored, so they are allowed."""
    s: Schema = {"type": "object", "properties": {f.name: field_schema(f, output=False) for f in fields}}
    required = [f.name for f in fields if f.required]
    if required and not partial:
        s["required"] = required
    if description:
        s["description"] = description
    return s


def outputs(fields: tuple[Field, ...]) -> dict[str, Schema]:
    return {f.name: field_schema(f, output=True) for f in fields}


def read_only(schema: Mapping[str, Any], description: str = "") -> Schema:
    s = {**schema, "readOnly": True}
    if description:
        s["description"] = description
    return s


def properties(props: tuple[Property, ...], owner: str) -> dict[str, Schema]:
    """An object's properties: a Field as it is returned, a ReadOnly as written."""
    out: dict[str, Schema] = {}
    for p in props:
        if p.name in out:
            raise ValueError(f"{owner}: property {p.name!r} is described twice")
        out[p.name] = read_only(p.schema, p.description) if isinstance(p, ReadOnly) else field_schema(p, output=True)
    return out


def obj(properties: dict[str, Schema], description: str = "") -> Schema:
    """A reply object: exactly these keys, all present."""
    s: Schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        s["description"] = description
    return s


ERROR_LIST = {"type": "array", "items": {"type": "string"}, "minItems": 1}


def validation_schema(names: list[str], description: str) -> Schema:
    """400 field errors: each failing field (or ``non_field_errors``) maps to messages."""
    return {
        "type": "object",
        "description": description,
        "properties": {name: ERROR_LIST for name in [*names, "non_field_errors"]},
        "additionalProperties": False,
        "minProperties": 1,
    }


# --- errors and responses -----------------------------------------------------

ERROR = obj({"detail": {"type": "string"}}, "An error: one message.")
SERVER_ERROR = {
    **obj(
        {"detail": {"type": "string"}, "request_id": {"type": "string"}},
        "An unexpected or infrastructure error; `request_id` (also in the X-Request-ID header) names it in the "
        "logs. A full queue that the service reports on purpose (e.g. password hashing) has no `request_id`.",
    ),
    "required": ["detail"],
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def error_response(description: str, headers: dict[str, Schema] | None = None, schema: str = "Error") -> Schema:
    r: Schema = {"description": description, "content": {JSON: {"schema": schema_ref(schema)}}}
    if headers:
        r["headers"] = headers
    return r


RESPONSES: dict[str, Schema] = {
    "Unauthorized": error_response(
        "No valid token: `Authentication credentials were not provided.`, `Invalid token.`, "
        "`Invalid token header. No credentials provided.`, "
        "`Invalid token header. Token string should not contain spaces.` or `User inactive or deleted.`",
        {"WWW-Authenticate": {"description": "Always `Token`.", "schema": {"type": "string", "enum": ["Token"]}}},
    ),
    "Forbidden": error_response("`You do not have permission to perform this action.`"),
    "NotFound": error_response(
        "`No <Model> matches the given query.` for an unknown id, `Not found.` for an id that is not a number."
    ),
    "MethodNotAllowed": error_response(
        'Any method not documented on a path: `Method "<METHOD>" not allowed.`',
        {"Allow": {"description": "The methods the path takes.", "schema": {"type": "string"}}},
    ),
    "PayloadTooLarge": error_response("The request body exceeds the limit (1 MiB)."),
    "UnsupportedMediaType": error_response(
        'The body is neither JSON nor a form: `Unsupported media type "text/plain" in request.`'
    ),
    "PreconditionFailed": error_response(
        "If-Match named another version: `This record was changed by someone else since you loaded it.`"
    ),
    "InvalidCursor": error_response("A `cursor` that this service did not make: `Invalid cursor`."),
    "BadIdempotencyKey": error_response(f"A malformed Idempotency-Key: `Idempotency-Key: {KEY_MESSAGE}`"),
    "KeyReused": error_response(
        "The Idempotency-Key was used for another request: `This idempotency key was already used for another request.`"
    ),
    "TooManyRequests": error_response(
        "Throttled (DRF's text): `Request was throttled. Expected available in N seconds.`",
        RETRY_AFTER,
    ),
    "ServiceUnavailable": error_response(
        "PostgreSQL is unreachable (`The database is unavailable. Try again shortly.`), or a bounded queue is "
        "full (`Too many sign-ins at once; try again in a moment.`).",
        RETRY_AFTER,
        schema="ServerError",
    ),
}

STATUS_REFS = {
    "401": "Unauthorized",
    "403": "Forbidden",
    "404": "NotFound",
    "412": "PreconditionFailed",
    "413": "PayloadTooLarge",
    "415": "UnsupportedMediaType",
    "429": "TooManyRequests",
    "503": "ServiceUnavailable",
}


def bad_request_response(validation: str | None, *, parse: bool) -> Schema:
    """400: field errors (validation) and/or a body that cannot be parsed."""
    options = []
    if validation:
        options.append(schema_ref(validation))
    if parse:
        options.append(schema_ref("Error"))
    described = []
    if validation:
        described.append(
            "field errors: each failing field maps to a list of messages; "
            "object-level errors are under `non_field_errors`"
        )
    if parse:
        described.append(
            'a body that cannot be read: `{"detail": "JSON parse error - ..."}`, '
            '`{"detail": "Form parse error - ..."}` or `{"detail": "Multipart form parse error - ..."}`'
        )
    schema = options[0] if len(options) == 1 else {"oneOf": options}
    return {"description": "Bad request: " + "; or ".join(described) + ".", "content": {JSON: {"schema": schema}}}


def responses(success: dict[str, Schema], *errors: str, bad_request: Schema | None = None) -> dict[str, Schema]:
    """An operation's responses: its own, then the shared errors by status (sorted)."""
    out = dict(success)
    if bad_request is not None:
        out["400"] = bad_request
    for status in errors:
        out[status] = ref("responses", STATUS_REFS[status])
    return dict(sorted(out.items()))


def body(name: str, description: str = "", *, required: bool = True) -> Schema:
    """A request body: JSON, or the same fields form-encoded or multipart.
    ``required``: whether a request without one is refused (400). A partial
    body (no required field) may be left out: it then changes nothing, as
    in DRF, so it is not required."""
    content = {JSON: {"schema": schema_ref(name)}}
    for media in FORM_TYPES:
        content[media] = {"schema": schema_ref(name)}
    r: Schema = {"required": required, "content": content}
    if description:
        r["description"] = description
    return r


def ok(description: str, schema: Schema | None, status: str = "200") -> dict[str, Schema]:
    r: Schema = {"description": description}
    if schema is not None:
        r["content"] = {JSON: {"schema": schema}}
    return {status: r}
