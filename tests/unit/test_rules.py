"""Every clinical rule at, below and above its threshold (pure functions)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.notifications import rules
from service.notifications.rules import Earlier

NO_EARLIER = Earlier()


def fired(rule, report, earlier=NO_EARLIER) -> bool:  # type: ignore[no-untyped-def]
    finding = rule(report, earlier)
    if finding is not None:
        assert finding.kind == rule.__name__ and finding.message and finding.severity in ("warning", "critical")
    return finding is not None


@pytest.mark.parametrize(
    "signs, expected",
    [
        ("", False),
        ("   ", False),
        ("abdominal pain", True),
        ("lethargy, mucosal bleed", True),
    ],
)
def test_warning_signs(signs: str, expected: bool) -> None:
    assert fired(rules.warning_signs, {"warning_signs": signs}) is expected


@pytest.mark.parametrize(
    "status, previous, expected",
    [
        ("critical", None, True),  # first report already critical
        ("critical", "febrile", True),  # entering
        ("critical", "critical", False),  # staying: not again
        ("febrile", None, False),
        ("recovery", "critical", False),
    ],
)
def test_critical_phase(status: str, previous: str | None, expected: bool) -> None:
    assert fired(rules.critical_phase, {"status": status}, Earlier(previous_status=previous)) is expected


@pytest.mark.parametrize(
    "systolic, diastolic, expected",
    [
        (100, 79, False),  # 21: above the threshold
        (100, 80, True),  # 20: at it
        (100, 81, True),  # 19: below it
        (None, 80, False),
        (100, None, False),
    ],
)
def test_narrow_pulse_pressure(systolic, diastolic, expected) -> None:  # type: ignore[no-untyped-def]
    report = {"bp_systolic": systolic, "bp_diastolic": diastolic}
    assert fired(rules.narrow_pulse_pressure, report) is expected


@pytest.mark.parametrize("saturation, expected", [(96, False), (95, False), (94, True), (None, False)])
def test_low_o2_saturation(saturation, expected) -> None:  # type: ignore[no-untyped-def]
    assert fired(rules.low_o2_saturation, {"o2_saturation": saturation}) is expected


@pytest.mark.parametrize(
    "first, value, expected",
    [
        (40, 47, False),  # 17.5 % above: below the threshold
        (40, 48, True),  # 20 %: at it
        (40, 49, True),  # above it
        (None, 60, False),  # nothing earlier to compare with
        (40, None, False),
        (45, 54, True),
        (45, 53, False),
    ],
)
def test_hematocrit_rise(first, value, expected) -> None:  # type: ignore[no-untyped-def]
    assert fired(rules.hematocrit_rise, {"hematocrit": value}, Earlier(first_hematocrit=first)) is expected


@pytest.mark.parametrize("platelets, expected", [(101, False), (100, False), (99, True), (None, False)])
def test_low_platelets(platelets, expected) -> None:  # type: ignore[no-untyped-def]
    assert fired(rules.low_platelets, {"platelet_count": platelets}) is expected


@pytest.mark.parametrize(
    "fever, expected",
    [
        (Decimal("38.99"), False),
        (Decimal("39.00"), True),
        (Decimal("39.01"), True),
        (None, False),
    ],
)
def test_high_fever(fever, expected) -> None:  # type: ignore[no-untyped-def]
    assert fired(rules.high_fever, {"fever": fever}) is expected


@pytest.mark.parametrize(
    "output_8h, weight, earlier_weight, expected",
    [
        (200, Decimal("50.00"), None, False),  # 0.5 ml/kg/h exactly: not below
        (199, Decimal("50.00"), None, True),  # just below
        (240, Decimal("50.00"), None, False),  # above
        (100, None, Decimal("50.00"), True),  # weight from an earlier report
        (100, None, None, False),  # weight unknown: no finding
        (None, Decimal("50.00"), None, False),  # output unknown
    ],
)
def test_low_urine_output(output_8h, weight, earlier_weight, expected) -> None:  # type: ignore[no-untyped-def]
    report = {"output_8h": output_8h, "weight": weight}
    assert fired(rules.low_urine_output, report, Earlier(previous_weight=earlier_weight)) is expected


def test_evaluate_returns_one_finding_per_rule_that_fires() -> None:
    report = {
        "warning_signs": "restless",
        "status": "critical",
        "bp_systolic": 90,
        "bp_diastolic": 80,
        "o2_saturation": 90,
        "hematocrit": 50,
        "platelet_count": 20,
        "fever": Decimal("40.00"),
        "output_8h": 10,
        "weight": Decimal("60.00"),
    }
    kinds = [f.kind for f in rules.evaluate(report, Earlier(first_hematocrit=40))]
    assert kinds == [
        "warning_signs",
        "critical_phase",
        "narrow_pulse_pressure",
        "low_o2_saturation",
        "hematocrit_rise",
        "low_platelets",
        "high_fever",
        "low_urine_output",
    ]
    assert rules.evaluate({"status": "febrile"}, Earlier()) == []
