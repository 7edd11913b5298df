"""Fixtures for the tests of the filing steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from casegate.desk.models import Intake
from casegate.desk.services import add_intake


@pytest.fixture(autouse=True)
def own_home(home: Path) -> Path:
    """Every test of filing stores its blobs in a home of its own."""
    return home


@pytest.fixture
def intake(db: None) -> Intake:
    return add_intake(Intake.CASE, "help@desk.example")
