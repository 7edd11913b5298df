"""Fixtures of the REST API tests: an agent with a token, an authenticated client, data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from casegate.access import AGENT
from casegate.api.tokens import create_token
from casegate.desk.models import Intake
from casegate.desk.services import add_intake
from casegate.desk.vocabulary import IntakeKind


@pytest.fixture(autouse=True)
def blobs_in_database(setting: Callable[..., None]) -> None:
    """Blobs go to the test database, never into a CASEGATE_HOME on disk."""
    setting("CASEGATE_BLOB_STORE", "database")


@pytest.fixture
def agent(db: None) -> Any:
    user = get_user_model().objects.create_user("ann", "ann@solarmora.com", first_name="Ann")
    user.groups.add(Group.objects.get_or_create(name=AGENT)[0])
    return user


@pytest.fixture
def token(agent: Any) -> str:
    return create_token("ann", "tests")


@pytest.fixture
def api(token: str) -> Client:
    """A client sending the agent's token with every request."""
    return Client(headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def intake(db: None) -> Intake:
    return add_intake(IntakeKind.CASE, "help@example.com")


@pytest.fixture
def lead_intake(db: None) -> Intake:
    return add_intake(IntakeKind.LEAD, "sales@example.com")
