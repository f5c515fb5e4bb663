"""Users as staff manage them (what the old Django admin site did).

Staff list, create and edit users, assign their wards, deactivate them and
reset their passwords. Only superusers make or unmake staff and
superusers, or touch a superuser's account; nobody can remove the last
active superuser. Users are never deleted (history refers to them):
deactivate instead. Deactivation and a password reset end the user's
sessions at once (their sockets close, 4401); a change of wards or flags
re-authorises their open sockets on every process (events.USER_CHANGED).
Every change is audited.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg2.errors

from ..apidocs import DATETIME, ID, ActionDoc, ReadOnly, Reply, ResourceDocs, nullable
from ..audit.actions import STAFF_ONLY, record, require_staff
from ..auth import passwords, sessions
from ..auth.actions import USERNAME, USERNAME_MESSAGE, USERNAME_TAKEN
from ..context import Context
from ..db import Tx
from ..errors import PermissionDenied, ValidationError, not_found_for
from ..events import Event
from ..lists import ListSpec
from ..resources import Filters, Obj, Resource, check_if_match, lookup_id
from ..sqlfiles import Q
from ..validation import Field, Kind, does_not_exist, validate

STREAM = "users"
MODEL = "User"
EMAIL_RE = re.compile(r"(?:[^@\s]+@[^@\s]+\.[^@\s]+)?")  # or empty: no address
EMAIL_MESSAGE = "Enter a valid email address."
LAST_SUPERUSER = "The last active superuser must stay an active superuser."
PASSWORD_SET = "The password has been set; every session of the user has ended."

NAMES = (
    Field("first_name", Kind.TEXT, max_length=150),
    Field("last_name", Kind.TEXT, max_length=150),
    Field("email", Kind.TEXT, max_length=254, pattern=EMAIL_RE, pattern_message=EMAIL_MESSAGE),
)
PASSWORD = Field("password", Kind.TEXT, required=True, allow_blank=False, max_length=128)
WARDS = Field("wards", Kind.FK_LIST)
FLAGS = (Field("is_staff", Kind.BOOL), Field("is_superuser", Kind.BOOL))
CREATE_FIELDS = (
    USERNAME,
    PASSWORD,
    *NAMES,
    WARDS,
    *FLAGS,
)
UPDATE_FIELDS = (*NAMES, Field("is_active", Kind.BOOL), WARDS, *FLAGS)
# What the audit log records of a user (never the password).
AUDITED = ("username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser", "wards")


def serialize(ctx: Context, row: dict[str, Any]) -> Obj:
    return {**row, "wards": list(row["wards"])}


def list_params(ctx: Context, filters: Filters) -> dict[str, Any]:
    require_staff(ctx)
    return {}


LIST = ListSpec.of("users", key="date_joined", params=list_params, serialize=serialize)


async def retrieve(ctx: Context, pk: Any) -> Obj:
    require_staff(ctx)
    row = await ctx.db.fetchone(Q.get_user, {"id": lookup_id(pk, MODEL)})
    if row is None:
        raise not_found_for(MODEL)
    return serialize(ctx, row)


def check_flags(ctx: Context, data: Any) -> None:
    """Only superusers make (or unmake) staff and superusers: 403 for staff who
    send either flag, never a silent ignore."""
    user = ctx.require_user()
    if isinstance(data, dict) and not user.is_superuser and any(f.name in data for f in FLAGS):
        raise PermissionDenied("Only superusers may change is_staff or is_superuser.")


async def check_wards(tx: Tx, ids: list[int]) -> None:
    if not ids:
        return
    found = {r["id"] for r in await tx.fetchall(Q.existing_wards, {"ids": ids})}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError({"wards": [does_not_exist(missing[0])]})


def _audited(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(row[k]) if k == "wards" else row[k]) for k in AUDITED if k in row}


def changed(tx: Tx, row: dict[str, Any]) -> None:
    """Every process re-authorises the user's open sockets (or closes them)."""
    tx.emit(
        Event.user_changed(
            {
                "id": row["id"],
                "is_active": row["is_active"],
                "is_staff": row["is_staff"],
                "is_superuser": row["is_superuser"],
                "wards": list(row["wards"]),
            }
        )
    )


async def create(ctx: Context, data: Any) -> Obj:
    require_staff(ctx)
    check_flags(ctx, data)
    clean = validate(CREATE_FIELDS, data, partial=False, tz=ctx.settings.tz)
    problems = passwords.password_problems(
        clean["password"],
        username=clean["username"],
        first_name=clean.get("first_name", ""),
        last_name=clean.get("last_name", ""),
        email=clean.get("email", ""),
    )
    if problems:
        raise ValidationError({"password": problems})
    hashed = await passwords.hash_async(clean["password"])
    superuser = clean.get("is_superuser", False)
    params = {
        "username": clean["username"],
        "password": hashed,
        "email": clean.get("email", ""),
        "first_name": clean.get("first_name", ""),
        "last_name": clean.get("last_name", ""),
        "is_staff": clean.get("is_staff", False) or superuser,
        "is_superuser": superuser,
    }
    async with ctx.db.transaction() as tx:
        if "wards" not in clean:  # as createuser: the only ward, while there is exactly one
            only = await tx.fetchone(Q.only_ward)
            clean["wards"] = [only["id"]] if only else []
        await check_wards(tx, clean["wards"])
        try:
            created = await tx.fetchone(Q.insert_managed_user, params)
        except Exception as exc:  # the unique username, the CHECK on its characters
            raise _username_error(exc) from None
        assert created is not None
        await tx.execute(Q.set_user_wards, {"user_id": created["id"], "wards": clean["wards"]})
        row = await tx.fetchone(Q.get_user, {"id": created["id"]})
        assert row is not None
        await record(tx, ctx.require_user().id, "user.create", "user", row["id"], after=_audited(row))
    return serialize(ctx, row)


def _username_error(exc: Exception) -> Exception:
    if isinstance(exc, psycopg2.errors.UniqueViolation):
        return ValidationError({"username": [USERNAME_TAKEN]})
    if isinstance(exc, psycopg2.errors.CheckViolation):
        return ValidationError({"username": [USERNAME_MESSAGE]})
    return exc


async def _locked(ctx: Context, tx: Tx, user_id: int) -> dict[str, Any]:
    """The user to change, locked; a superuser's account is for superusers."""
    current = await tx.fetchone(Q.lock_user, {"id": user_id})
    if current is None:
        raise not_found_for(MODEL)
    if current["is_superuser"] and not ctx.require_user().is_superuser:
        raise PermissionDenied("Only superusers may change a superuser's account.")
    return current


async def update(ctx: Context, pk: Any, data: Any, partial: bool) -> Obj:
    """PATCH (PUT is partial too): names, email, is_active, wards, and for
    superusers the flags."""
    require_staff(ctx)
    user_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        if isinstance(data, dict) and ("is_active" in data or "is_superuser" in data):
            # The active superusers first, in id order, as the check below
            # locks them: the target's row first would deadlock with a
            # concurrent demotion of another superuser.
            await tx.fetchall(Q.active_superusers)
        current = await _locked(ctx, tx, user_id)
        check_if_match(ctx, serialize(ctx, current))
        check_flags(ctx, data)
        clean = validate(UPDATE_FIELDS, data, partial=True, tz=ctx.settings.tz)
        values = {**current, **clean}
        values["is_staff"] = values["is_staff"] or values["is_superuser"]
        demoted = current["is_superuser"] and current["is_active"]
        demoted = demoted and not (values["is_superuser"] and values["is_active"])
        if demoted:
            others = [r["id"] for r in await tx.fetchall(Q.active_superusers) if r["id"] != user_id]
            if not others:
                field = "is_active" if not values["is_active"] else "is_superuser"
                raise ValidationError({field: [LAST_SUPERUSER]})
        if "wards" in clean:
            await check_wards(tx, clean["wards"])
            await tx.execute(Q.set_user_wards, {"user_id": user_id, "wards": clean["wards"]})
        await tx.fetchone(Q.update_managed_user, values)
        row = await tx.fetchone(Q.get_user, {"id": user_id})
        assert row is not None
        before, after = _audited(current), _audited(row)
        if before != after:
            fields = {k for k in AUDITED if before.get(k) != after.get(k)}
            await record(
                tx,
                ctx.require_user().id,
                "user.update",
                "user",
                user_id,
                {k: before[k] for k in sorted(fields)},
                {k: after[k] for k in sorted(fields)},
            )
            if fields & {"is_active", "is_staff", "is_superuser", "wards"}:
                changed(tx, row)
            if current["is_active"] and not row["is_active"]:
                await sessions.end_all(tx, user_id)
    return serialize(ctx, row)


async def set_password(ctx: Context, pk: Any, data: Any) -> tuple[int, Obj]:
    """Staff reset a password: the policy applies, every session ends."""
    require_staff(ctx)
    user_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        current = await _locked(ctx, tx, user_id)  # 404 before 400, as DRF looks the object up first
        clean = validate((PASSWORD,), data, partial=False, tz=ctx.settings.tz)
        problems = passwords.password_problems(
            clean["password"],
            username=current["username"],
            first_name=current["first_name"],
            last_name=current["last_name"],
            email=current["email"],
        )
        if problems:
            raise ValidationError({"password": problems})
        hashed = await passwords.hash_async(clean["password"])
        await tx.execute(Q.set_password, {"id": user_id, "password": hashed})
        ended = await sessions.end_all(tx, user_id)
        await record(tx, ctx.require_user().id, "user.set_password", "user", user_id, after={"sessions_ended": ended})
    return 200, {"detail": PASSWORD_SET}


USER_COLUMNS = (
    ReadOnly("id", ID),
    *CREATE_FIELDS[:1],
    *NAMES,
    ReadOnly("is_active", {"type": "boolean"}, "False: deactivated (cannot log in; every session ended)."),
    ReadOnly("is_staff", {"type": "boolean"}, "May manage users and wards, and sees every ward."),
    ReadOnly("is_superuser", {"type": "boolean"}, "May do everything, incl. making staff and superusers."),
    ReadOnly("wards", {"type": "array", "items": {"type": "integer", "format": "int64"}}, "The user's wards."),
    ReadOnly("last_login", nullable(DATETIME)),
    ReadOnly("date_joined", DATETIME),
)
DOCS = ResourceDocs(
    "Users, as staff manage them (the old admin site). Only superusers make staff or superusers (a staff "
    "user sending `is_staff` or `is_superuser` gets 403) or change a superuser's account; the last active "
    "superuser stays one. Users are never deleted (history refers to them): set `is_active` to false. "
    "Deactivating a user or setting their password ends their sessions and closes their sockets; a change "
    "of wards or flags applies to their open sockets at once.",
    properties=USER_COLUMNS,
    fields=CREATE_FIELDS,
    put_partial=True,
    update_description="Changes `first_name`, `last_name`, `email`, `is_active`, `wards` (and, for superusers, "
    "`is_staff`, `is_superuser`); other keys are ignored. PUT is partial too.",
    restricted={
        "list": STAFF_ONLY,
        "retrieve": STAFF_ONLY,
        "create": STAFF_ONLY,
        "update": STAFF_ONLY,
        "set_password": STAFF_ONLY,
    },
    actions={
        "set_password": ActionDoc(
            "Set a user's password",
            'Body `{"password": "<new>"}`; the password policy applies (400 under `password`). Every session '
            "of the user ends and their sockets close.",
            (Reply(200, "Set."), Reply(400, "The password is missing or breaks the policy.", "UserValidationError")),
            fields=(PASSWORD,),
        )
    },
)
RESOURCE = Resource(
    name=STREAM,
    model=MODEL,
    lookup="id",
    list=LIST,
    retrieve=retrieve,
    create=create,
    update=update,
    detail_actions={"set_password": set_password},
    body_actions=frozenset({"set_password"}),
    docs=DOCS,
)
