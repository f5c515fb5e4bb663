"""The report's writable fields, their rules (domain.md) and derived values."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from ..apidocs import DATETIME, ID, INTEGER, USER_ID, Property, ReadOnly, enum
from ..errors import ValidationError
from ..validation import Field, Kind, clinical_datetime
from ..zones import local_hour

STATUSES = ("febrile", "critical", "recovery")
INTAKES = ("oral_fluids", "parenteral_fluids", "other_fluids")
OUTPUTS = ("urine_output", "uf", "emesis", "drainage")
NOTE_MAX_LENGTH = 5000  # warning signs, additional information, medical advice


def _count(name: str, maximum: int | None = None) -> Field:
    return Field(name, Kind.INT, nullable=True, min_value=0, max_value=maximum)


FIELDS = (
    Field("patient", Kind.FK, required=True),
    clinical_datetime("time", required=True),
    _count("day_of_fever", 30),
    Field("fever", Kind.DECIMAL, nullable=True, min_value="30", max_value="45", max_digits=4, decimal_places=2),
    _count("pulse", 300),
    _count("respirations", 100),
    _count("bp_systolic", 300),
    _count("bp_diastolic", 300),
    Field("diet", Kind.TEXT, max_length=200),
    *(_count(name) for name in (*INTAKES, "intake_8h", *OUTPUTS, "output_8h")),
    _count("pain_score", 10),
    _count("abdominal_circumference", 300),
    _count("stools"),
    _count("urine_count"),
    Field("weight", Kind.DECIMAL, nullable=True, min_value="0", max_value="500", max_digits=5, decimal_places=2),
    _count("height", 300),
    _count("o2_saturation", 100),
    _count("hematocrit", 100),
    _count("platelet_count"),
    Field("wbc_count", Kind.DECIMAL, nullable=True, min_value="0", max_digits=6, decimal_places=2),
    # Required, as in the original model (it had no default): a report must
    # say its phase; none is assumed.
    Field("status", Kind.CHOICE, required=True, choices=STATUSES, allow_blank=False),
    Field("monitoring_interval", Kind.INT, required=True, min_value=1, max_value=24),
    Field("warning_signs", Kind.TEXT, max_length=NOTE_MAX_LENGTH),
    Field("additional_info", Kind.TEXT, max_length=NOTE_MAX_LENGTH),
    Field("medical_advice", Kind.TEXT, max_length=NOTE_MAX_LENGTH),
)

# What an omitted optional field is on create (the model's defaults).
DEFAULTS: dict[str, Any] = {f.name: ("" if f.kind == Kind.TEXT else None) for f in FIELDS if not f.required}

# A report as stored (the history rows repeat these), then what derived() adds:
# the properties of a report in the API document.
COLUMNS: tuple[Property, ...] = (
    ReadOnly("id", ID),
    *FIELDS,
    ReadOnly("created_by", USER_ID, "The user who made the last change (set by the server)."),
    ReadOnly("created_at", DATETIME),
    ReadOnly("updated_at", DATETIME),
)
DERIVED: tuple[Property, ...] = (
    ReadOnly("intake_total", INTEGER, " + ".join(INTAKES) + " (null counts as 0)."),
    ReadOnly("output_total", INTEGER, " + ".join(OUTPUTS) + " (null counts as 0)."),
    ReadOnly("fluid_balance", INTEGER, "intake_total - output_total."),
    ReadOnly(
        "shift",
        enum("D", "E", "N"),
        "Shift of `time` in the clinical time zone: D 07:00-14:59, E 15:00-22:59, N 23:00-06:59.",
    ),
)

DIASTOLIC_ABOVE_SYSTOLIC = "The diastolic pressure must not be above the systolic pressure."


def check_consistency(values: dict[str, Any]) -> None:
    systolic, diastolic = values.get("bp_systolic"), values.get("bp_diastolic")
    if systolic is not None and diastolic is not None and diastolic > systolic:
        raise ValidationError({"bp_diastolic": [DIASTOLIC_ABOVE_SYSTOLIC]})


def shift_of(time: dt.datetime, tz: ZoneInfo) -> str:
    """D 07:00-14:59, E 15:00-22:59, N 23:00-06:59 in the clinical time zone."""
    hour = local_hour(time, tz)
    if 7 <= hour < 15:
        return "D"
    if 15 <= hour < 23:
        return "E"
    return "N"


# Columns the database keeps for routing, not shown: a report's (and its
# history row's) ward is its patient's (migration 0013).
ROUTING = frozenset({"ward"})


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """A report or history row without its routing columns."""
    return {k: v for k, v in row.items() if k not in ROUTING}


def serialize(row: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """A report as the wire shows it: its columns, then the derived values."""
    return {**shown(row), **derived(row, tz)}


def derived(row: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    intake = sum(row[name] or 0 for name in INTAKES)
    output = sum(row[name] or 0 for name in OUTPUTS)
    return {
        "intake_total": intake,
        "output_total": output,
        "fluid_balance": intake - output,
        "shift": shift_of(row["time"], tz),
    }
