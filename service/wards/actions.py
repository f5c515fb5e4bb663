"""Wards: everyone may list them; staff create, rename and delete them (a
ward with patients cannot be deleted). Every change is audited."""

from __future__ import annotations

from typing import Any

import psycopg2.errors

from ..apidocs import DATETIME, ID, ReadOnly, Reply, ResourceDocs
from ..audit.actions import STAFF_ONLY, record, require_staff
from ..context import Context
from ..errors import Conflict, ValidationError, not_found_for
from ..lists import ListSpec
from ..resources import Filters, Obj, Resource, check_if_match, lookup_id
from ..sqlfiles import Q
from ..users import actions as users
from ..validation import Field, Kind, validate

STREAM = "wards"
MODEL = "Ward"
FIELDS = (Field("name", Kind.TEXT, required=True, allow_blank=False, max_length=100),)
NAME_TAKEN = "A ward with that name already exists."


def serialize(ctx: Context, row: dict[str, Any]) -> Obj:
    return row


def list_params(ctx: Context, filters: Filters) -> dict[str, Any]:
    ctx.require_user()
    return {}


LIST = ListSpec.of("wards", key="created_at", params=list_params, serialize=serialize)


async def retrieve(ctx: Context, pk: Any) -> Obj:
    ctx.require_user()
    row = await ctx.db.fetchone(Q.get_ward, {"id": lookup_id(pk, MODEL)})
    if row is None:
        raise not_found_for(MODEL)
    return row


async def _named(run: Any) -> dict[str, Any]:
    try:
        row: dict[str, Any] | None = await run
    except psycopg2.errors.UniqueViolation:
        raise ValidationError({"name": [NAME_TAKEN]}) from None
    assert row is not None
    return row


async def create(ctx: Context, data: Any) -> Obj:
    require_staff(ctx)
    values = validate(FIELDS, data, partial=False, tz=ctx.settings.tz)
    async with ctx.db.transaction() as tx:
        row = await _named(tx.fetchone(Q.insert_ward, values))
        await record(tx, ctx.require_user().id, "ward.create", "ward", row["id"], after={"name": row["name"]})
    return row


async def update(ctx: Context, pk: Any, data: Any, partial: bool) -> Obj:
    require_staff(ctx)
    ward_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        current = await tx.fetchone(Q.lock_ward, {"id": ward_id})
        if current is None:
            raise not_found_for(MODEL)
        check_if_match(ctx, current)
        values = {**current, **validate(FIELDS, data, partial=partial, tz=ctx.settings.tz)}
        row = await _named(tx.fetchone(Q.update_ward, values))
        if row["name"] != current["name"]:
            await record(
                tx,
                ctx.require_user().id,
                "ward.update",
                "ward",
                ward_id,
                {"name": current["name"]},
                {"name": row["name"]},
            )
    return row


async def delete(ctx: Context, pk: Any) -> None:
    require_staff(ctx)
    ward_id = lookup_id(pk, MODEL)
    async with ctx.db.transaction() as tx:
        current = await tx.fetchone(Q.lock_ward, {"id": ward_id})
        if current is None:
            raise not_found_for(MODEL)
        check_if_match(ctx, current)
        busy = await tx.fetchone(Q.ward_has_patients, {"id": ward_id})
        if busy and busy["busy"]:
            raise Conflict("The ward still has patients; move them to another ward first.")
        gone = await tx.fetchone(Q.delete_ward, {"id": ward_id})
        assert gone is not None
        for member in gone["users"]:  # their open sockets forget the ward
            row = await tx.fetchone(Q.get_user, {"id": member})
            if row is not None:
                users.changed(tx, row)
        await record(
            tx,
            ctx.require_user().id,
            "ward.delete",
            "ward",
            ward_id,
            {"name": current["name"], "members": gone["users"]},
        )


DOCS = ResourceDocs(
    "Wards of the hospital. Everyone may list them; staff create, rename and delete them (only an empty "
    "one: 409 while it has patients). Users belong to wards; users who are not staff see only the "
    "patients of their wards.",
    properties=(ReadOnly("id", ID), *FIELDS, ReadOnly("created_at", DATETIME), ReadOnly("updated_at", DATETIME)),
    fields=FIELDS,
    restricted={"create": STAFF_ONLY, "update": STAFF_ONLY, "delete": STAFF_ONLY},
    replies={"delete": (Reply(409, "The ward still has patients."),)},
)
RESOURCE = Resource(
    name=STREAM,
    model=MODEL,
    lookup="id",
    list=LIST,
    retrieve=retrieve,
    create=create,
    update=update,
    delete=delete,
    docs=DOCS,
)
