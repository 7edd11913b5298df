"""Fixtures for the tests of triggers and macros."""

from __future__ import annotations

from pathlib import Path

import pytest

from casegate.desk.models import Agent, Intake
from casegate.desk.services import add_agent, add_intake


@pytest.fixture(autouse=True)
def own_home(home: Path) -> Path:
    return home


@pytest.fixture
def intake(db: None) -> Intake:
    return add_intake(Intake.CASE, "help@desk.example")


@pytest.fixture
def billing(db: None) -> list[Agent]:
    """Three agents of team Billing, and one of Sales."""
    add_agent("sam@agents.example", "Sam Sales", "sam", ["Sales"])
    return [add_agent(f"{name}@agents.example", f"{name.title()} Agent", name, ["Billing"])
            for name in ("ann", "bob", "cid")]
