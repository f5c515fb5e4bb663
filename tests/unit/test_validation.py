"""validate() on HTML form input: DRF's reading of an empty value."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from service.errors import ValidationError
from service.validation import Field, FormData, Kind, validate

UTC = ZoneInfo("UTC")
FIELDS = (
    Field("note", Kind.TEXT),  # blank allowed: "" stays ""
    Field("name", Kind.TEXT, nullable=True, allow_blank=False),  # "" is null
    Field("count", Kind.INT, nullable=True),  # "" is null
    Field("when", Kind.DATETIME, nullable=True),
    Field("phase", Kind.CHOICE, choices=("a", "b"), allow_blank=False),  # optional, no null: "" is not sent
    Field("size", Kind.INT),  # optional, no null: "" is not sent
    Field("needed", Kind.INT, required=True),  # required: "" is checked as a value
)


def test_empty_html_values() -> None:
    data = FormData(note="", name="", count="", when="", phase="", size="", needed="3")
    assert validate(FIELDS, data, partial=False, tz=UTC) == {
        "note": "",
        "name": None,
        "count": None,
        "when": None,
        "needed": 3,
    }


def test_an_empty_required_html_value_is_checked_as_it_is() -> None:
    with pytest.raises(ValidationError) as caught:
        validate(FIELDS, FormData(needed=""), partial=False, tz=UTC)
    assert caught.value.detail == {"needed": ["A valid integer is required."]}


def test_json_empty_strings_are_values() -> None:
    with pytest.raises(ValidationError) as caught:
        validate(FIELDS, {"count": "", "phase": "", "size": "", "needed": 1}, partial=False, tz=UTC)
    assert caught.value.detail == {
        "count": ["A valid integer is required."],
        "phase": ['"" is not a valid choice.'],
        "size": ["A valid integer is required."],
    }
