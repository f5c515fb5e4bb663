"""What a resource declares for the API document (``Resource(docs=...,
filters=...)``, service/apidocs.py) and how build_document reads it: what a
new resource's author gets, and the mistakes refused at startup."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from service import openapi
from service.apidocs import ID, ReadOnly
from service.app import RESOURCES
from service.notifications import actions as notifications
from service.patients import actions as patients
from service.resources import Resource, bool_filter


def with_docs(resource: Resource, **changes: Any) -> Resource:
    return replace(resource, docs=replace(resource.docs, **changes))


def test_every_resource_is_a_tag_with_its_description() -> None:
    tags = {t["name"]: t["description"] for t in openapi.build_document(RESOURCES)["tags"]}
    for resource in RESOURCES:
        assert tags[resource.name] == resource.docs.description


def test_a_filter_is_a_list_parameter_with_its_description() -> None:
    admitted = bool_filter("admitted", "Only those admitted (`true`) or dismissed (`false`).")
    doc = openapi.build_document((replace(patients.RESOURCE, filters=(admitted,)),))
    params = doc["paths"]["/api/patients/"]["get"]["parameters"]
    assert params[0] == {
        "name": "admitted",
        "in": "query",
        "required": False,
        "description": admitted.description,
        "schema": {"type": "boolean"},
    }
    assert "admitted" in doc["components"]["schemas"]["PatientFilterError"]["properties"]
    assert "`patients`: `admitted`" in doc["info"]["description"]  # the socket's list takes it too


def test_restricted_operations_answer_403() -> None:
    doc = openapi.build_document(
        (with_docs(patients.RESOURCE, restricted={"create": "superusers only", "update": "superusers only"}),)
    )
    collection, detail = doc["paths"]["/api/patients/"], doc["paths"]["/api/patients/{id}/"]
    for op in (collection["post"], detail["put"], detail["patch"]):
        assert "403" in op["responses"] and op["summary"].endswith(" (superusers only)")
    for op in (collection["get"], detail["get"], detail["delete"]):
        assert "403" not in op["responses"] and "superusers" not in op["summary"]


def test_a_detail_action_needs_its_doc() -> None:
    with pytest.raises(LookupError, match="'acknowledge'"):
        openapi.build_document((with_docs(notifications.RESOURCE, actions={}),))


def test_the_doc_of_an_action_the_resource_lacks_is_refused() -> None:
    with pytest.raises(LookupError, match="'acknowledge'"):
        openapi.build_document((replace(notifications.RESOURCE, detail_actions={}),))


def test_restricted_names_an_operation_of_the_resource() -> None:
    with pytest.raises(LookupError, match="'delete'"):  # notifications cannot be deleted
        openapi.build_document((with_docs(notifications.RESOURCE, restricted={"delete": "superusers only"}),))


def test_a_property_is_described_once() -> None:
    twice = with_docs(patients.RESOURCE, properties=(*patients.DOCS.properties, ReadOnly("id", ID)))
    with pytest.raises(ValueError, match="'id'"):
        openapi.build_document((twice,))


def test_two_resources_cannot_share_a_schema_name() -> None:
    other = replace(patients.RESOURCE, name="people")
    with pytest.raises(ValueError, match="'Patient'"):
        openapi.build_document((patients.RESOURCE, other))
