"""Fixtures for the webhooks' tests: webhooks to loopback receivers are allowed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from casegate.desk.models import Intake
from casegate.desk.services import add_intake


@pytest.fixture(autouse=True)
def loopback_targets(home: Path, setting: Callable[..., None]) -> None:
    setting("CASEGATE_WEBHOOK_PRIVATE_TARGETS", "1")
    setting("CASEGATE_WEBHOOK_TIMEOUT", "5")


@pytest.fixture
def intake(db: None) -> Intake:
    return add_intake(Intake.CASE, "help@desk.example")
