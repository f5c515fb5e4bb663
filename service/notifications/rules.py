"""The clinical rules: one small pure function per rule.

Each takes the saved report and what it needs of the patient's earlier
reports, and returns one Finding or None. Every threshold is a constant
below, and the README's rules table cites its clinical source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# --- thresholds (the only place they are written) --------------------------
NARROW_PULSE_PRESSURE_MMHG = 20  # systolic - diastolic <= this
LOW_O2_SATURATION_PCT = 95  # SpO2 below this
HEMATOCRIT_RISE_PCT = 20  # rise of this many percent over the first value, or more
LOW_PLATELETS_PER_UL_E3 = 100  # below 100 x 10^3/uL
HIGH_FEVER_C = Decimal("39.00")  # at or above
LOW_URINE_ML_PER_KG_PER_H = Decimal("0.5")  # below, over
URINE_WINDOW_HOURS = 8  # ...the 8-hour output

CRITICAL, WARNING, INFO = "critical", "warning", "info"
OBSERVATION_DUE = "observation_due"

Report = Mapping[str, Any]


@dataclass(frozen=True)
class Earlier:
    """What the rules need of the patient's reports before this one."""

    first_hematocrit: int | None = None
    previous_status: str | None = None
    previous_weight: Decimal | None = None


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: str
    message: str


def warning_signs(report: Report, earlier: Earlier) -> Finding | None:
    signs = (report.get("warning_signs") or "").strip()
    if not signs:
        return None
    return Finding("warning_signs", CRITICAL, f"Warning signs recorded: {signs}. A doctor must review the patient now.")


def critical_phase(report: Report, earlier: Earlier) -> Finding | None:
    if report.get("status") != "critical" or earlier.previous_status == "critical":
        return None
    return Finding(
        "critical_phase",
        CRITICAL,
        "The patient has entered the critical phase: watch closely for plasma leakage and shock.",
    )


def narrow_pulse_pressure(report: Report, earlier: Earlier) -> Finding | None:
    systolic, diastolic = report.get("bp_systolic"), report.get("bp_diastolic")
    if systolic is None or diastolic is None:
        return None
    pressure = systolic - diastolic
    if pressure > NARROW_PULSE_PRESSURE_MMHG:
        return None
    return Finding(
        "narrow_pulse_pressure",
        CRITICAL,
        f"Narrow pulse pressure: {systolic}/{diastolic} mmHg ({pressure} mmHg, "
        f"at most {NARROW_PULSE_PRESSURE_MMHG}). A sign of shock: assess now.",
    )


def low_o2_saturation(report: Report, earlier: Earlier) -> Finding | None:
    saturation = report.get("o2_saturation")
    if saturation is None or saturation >= LOW_O2_SATURATION_PCT:
        return None
    return Finding(
        "low_o2_saturation",
        WARNING,
        f"Low oxygen saturation: {saturation} % (below {LOW_O2_SATURATION_PCT} %).",
    )


def hematocrit_rise(report: Report, earlier: Earlier) -> Finding | None:
    value, first = report.get("hematocrit"), earlier.first_hematocrit
    if value is None or not first:
        return None
    if value * 100 < first * (100 + HEMATOCRIT_RISE_PCT):
        return None
    rise = (value - first) * 100 // first
    return Finding(
        "hematocrit_rise",
        WARNING,
        f"Hematocrit {value} % is {rise} % above the first recorded value ({first} %): possible plasma leakage.",
    )


def low_platelets(report: Report, earlier: Earlier) -> Finding | None:
    platelets = report.get("platelet_count")
    if platelets is None or platelets >= LOW_PLATELETS_PER_UL_E3:
        return None
    return Finding(
        "low_platelets",
        WARNING,
        f"Platelets {platelets} x10³/µL (below {LOW_PLATELETS_PER_UL_E3}). Watch for bleeding.",
    )


def high_fever(report: Report, earlier: Earlier) -> Finding | None:
    fever = report.get("fever")
    if fever is None or Decimal(fever) < HIGH_FEVER_C:
        return None
    return Finding("high_fever", WARNING, f"High fever: {Decimal(fever):.2f} °C (39.00 °C or more).")


def low_urine_output(report: Report, earlier: Earlier) -> Finding | None:
    output = report.get("output_8h")
    weight = report.get("weight") or earlier.previous_weight
    if output is None or not weight:
        return None
    rate = Decimal(output) / (Decimal(weight) * URINE_WINDOW_HOURS)
    if rate >= LOW_URINE_ML_PER_KG_PER_H:
        return None
    return Finding(
        "low_urine_output",
        WARNING,
        f"Low urine output: {rate:.2f} ml/kg/h over {URINE_WINDOW_HOURS} h "
        f"({output} ml, {Decimal(weight):.1f} kg; below {LOW_URINE_ML_PER_KG_PER_H}).",
    )


RULES: tuple[Callable[[Report, Earlier], Finding | None], ...] = (
    warning_signs,
    critical_phase,
    narrow_pulse_pressure,
    low_o2_saturation,
    hematocrit_rise,
    low_platelets,
    high_fever,
    low_urine_output,
)


def evaluate(report: Report, earlier: Earlier) -> list[Finding]:
    return [finding for rule in RULES if (finding := rule(report, earlier)) is not None]


def observation_due_message(first_name: str, last_name: str, interval_hours: int | None, due_text: str) -> str:
    every = f" (every {interval_hours} h)" if interval_hours else ""
    return f"Observation due for {first_name} {last_name}{every}: the next round was due at {due_text}."
