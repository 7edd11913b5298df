"""Fixtures for the tests of SLA policies: those of the triggers' tests (a desk home, an
intake), and the Paris office."""

from __future__ import annotations

import pytest

from casegate.desk.models import SlaCalendar
from casegate.desk.sla.policies import save_calendar
from tests.desk.automation.conftest import intake, own_home

__all__ = ["intake", "own_home"]

PARIS_OFFICE = {"name": "Paris office", "timezone": "Europe/Paris",
                "hours": {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")},
                "holidays": ["2026-04-06"]}


@pytest.fixture
def office(db: None) -> SlaCalendar:
    return save_calendar(PARIS_OFFICE)
