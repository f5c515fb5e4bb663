"""Screenshots of the board, taken from a seeded ward.

They go to tests/artifacts/screenshots/ (git-ignored: they change on every
run, the times shown are relative to now). To refresh the README's:
``SCREENSHOT_DIR=docs/screenshots scripts/test tests/browser/test_screenshots.py``.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from ..conftest import ROOT
from .board import card, expect_live, login, rest
from .conftest import DESKTOP, PHONE

pytestmark = pytest.mark.slow
SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "tests" / "artifacts" / "screenshots")
LOOK = {"locale": "en-GB"}  # 24-hour clock, as on a ward


def at(hours_ago: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)).isoformat()


def seed(base: str, account: Any) -> dict[str, Any]:
    """A small ward: one patient through all three phases, a few others."""

    def patient(first: str, last: str, admitted_hours_ago: float) -> dict[str, Any]:
        return rest(
            base,
            account,
            "POST",
            "/api/patients/",
            {"first_name": first, "last_name": last, "admission_date": at(admitted_hours_ago)},
        )

    def report(p: dict[str, Any], hours_ago: float, **fields: Any) -> dict[str, Any]:
        return rest(
            base,
            account,
            "POST",
            "/api/reports/",
            {"patient": p["id"], "time": at(hours_ago), "status": "febrile", "monitoring_interval": 4, **fields},
        )

    minh = patient("Minh", "Nguyen", 60)
    course = [
        # hours ago, day, phase, fever, pulse, resp, bp, spo2, intake (oral, iv), urine, hct, plt
        (56, 3, "febrile", "39.40", 108, 22, (110, 75), 98, (600, 0), 500, 40, 150),
        (48, 3, "febrile", "39.10", 104, 22, (108, 74), 98, (500, 200), 450, 41, 132),
        (40, 4, "febrile", "38.50", 100, 20, (106, 74), 97, (400, 400), 420, 42, 118),
        (32, 4, "critical", "37.60", 112, 24, (100, 82), 96, (200, 900), 250, 47, 86),
        (24, 4, "critical", "37.20", 118, 26, (96, 80), 95, (200, 1000), 220, 49, 64),
        (16, 5, "critical", "37.00", 110, 24, (100, 78), 96, (300, 800), 300, 46, 58),
        (8, 5, "critical", "36.90", 102, 22, (104, 76), 97, (400, 600), 380, 44, 61),
        (3.2, 5, "critical", "36.80", 98, 20, (106, 74), 97, (500, 400), 420, 42, 70),
    ]
    for hours, day, phase, fever, pulse, resp, (sys_, dia), spo2, (oral, iv), urine, hct, plt in course:
        report(
            minh,
            hours,
            day_of_fever=day,
            status=phase,
            fever=fever,
            pulse=pulse,
            respirations=resp,
            bp_systolic=sys_,
            bp_diastolic=dia,
            o2_saturation=spo2,
            oral_fluids=oral,
            parenteral_fluids=iv,
            urine_output=urine,
            hematocrit=hct,
            platelet_count=plt,
            wbc_count="3.20",
            warning_signs="persistent vomiting" if hours == 24 else "",
            medical_advice="IV crystalloid 5 ml/kg/h; recheck HCT in 4 h"
            if phase == "critical"
            else "Oral fluids, paracetamol",
        )
    sara = patient("Sara", "Lopez", 120)
    report(
        sara,
        10,
        day_of_fever=7,
        status="recovery",
        fever="36.80",
        pulse=78,
        respirations=16,
        bp_systolic=118,
        bp_diastolic=76,
        o2_saturation=99,
        oral_fluids=900,
        urine_output=800,
        monitoring_interval=12,
    )
    arjun = patient("Arjun", "Mehta", 20)
    report(
        arjun,
        6,
        day_of_fever=2,
        fever="39.60",
        pulse=110,
        respirations=20,
        bp_systolic=112,
        bp_diastolic=72,
        o2_saturation=98,
        oral_fluids=700,
        urine_output=400,
    )
    chen = patient("Wei", "Chen", 30)
    report(
        chen,
        5,
        day_of_fever=4,
        status="critical",
        fever="37.40",
        pulse=124,
        respirations=26,
        bp_systolic=94,
        bp_diastolic=80,
        o2_saturation=93,
        parenteral_fluids=1200,
        urine_output=150,
        hematocrit=50,
        platelet_count=45,
        warning_signs="abdominal pain, lethargy",
    )
    patient("Amara", "Okafor", 0.3)
    # The ward has seen most alerts already: acknowledge all but Wei Chen's.
    for note in rest(base, account, "GET", "/api/notifications/?acknowledged=false"):
        if note["patient"] != chen["id"]:
            rest(base, account, "POST", f"/api/notifications/{note['id']}/acknowledge/")
    return {"minh": minh, "chen": chen, "arjun": arjun, "report": report}


def test_screenshots_of_the_overview_and_the_patient_view(new_page, alice) -> None:
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    page = new_page(DESKTOP, **LOOK)
    login(page, alice)
    base = "/".join(page.url.split("/")[:3])
    ward = seed(base, alice)
    expect(page.locator("article.card")).to_have_count(5)
    expect(card(page, ward["chen"]["id"]).locator('[data-field="due"]')).to_have_attribute("data-overdue", "true")
    expect(card(page, ward["chen"]["id"]).locator(".note").first).to_be_visible()
    dismiss = page.locator("#toasts .toast").get_by_role("button", name="Dismiss")
    while dismiss.count():  # the seeding's toasts would hide the cards
        dismiss.first.click()
    # A new alert arrives live: one toast, one line on the card.
    ward["report"](
        ward["arjun"],
        0.4,
        day_of_fever=2,
        fever="38.40",
        pulse=106,
        respirations=20,
        bp_systolic=110,
        bp_diastolic=74,
        o2_saturation=98,
        oral_fluids=400,
        urine_output=300,
        warning_signs="mucosal bleeding (gums)",
    )
    expect(page.locator("#toasts .toast")).to_have_count(1)
    expect(card(page, ward["arjun"]["id"]).locator(".note")).to_have_count(1)
    page.mouse.move(0, 0)
    page.screenshot(path=str(SHOTS / "overview.png"))

    page.locator("#toasts .toast").get_by_role("button", name="Dismiss").click()
    page.goto(f"/#/patients/{ward['minh']['id']}")
    expect_live(page)
    expect(page.locator("table.obs thead th[data-report-id]")).to_have_count(8)
    page.screenshot(path=str(SHOTS / "patient.png"))
    page.screenshot(path=str(SHOTS / "patient-full.png"), full_page=True)

    phone = new_page(PHONE, **LOOK)
    login(phone, alice)
    expect(phone.locator("article.card")).to_have_count(5)
    phone.screenshot(path=str(SHOTS / "overview-phone.png"))

    for name in ("overview.png", "patient.png", "patient-full.png", "overview-phone.png"):
        shot = SHOTS / name
        assert shot.stat().st_size > 10_000, f"{shot} looks empty"
