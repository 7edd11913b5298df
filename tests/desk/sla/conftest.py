"""Fixtures for the tests of SLA policies: a desk home, an intake, the Paris office."""

from __future__ import annotations

from pathlib import Path

import pytest

from casegate.desk.models import Intake, SlaCalendar
from casegate.desk.services import add_intake
from casegate.desk.sla.policies import save_calendar

PARIS_OFFICE = {"name": "Paris office", "timezone": "Europe/Paris",
                "hours": {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")},
                "holidays": ["2026-04-06"]}


@pytest.fixture(autouse=True)
def own_home(home: Path) -> Path:
    return home


@pytest.fixture
def intake(db: None) -> Intake:
    return add_intake(Intake.CASE, "help@desk.example")


@pytest.fixture
def office(db: None) -> SlaCalendar:
    return save_calendar(PARIS_OFFICE)
