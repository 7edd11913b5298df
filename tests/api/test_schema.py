"""The OpenAPI schema is valid, and every operation passes schemathesis' default checks.

Schemathesis calls the WSGI application in this process: generated valid and invalid
requests, with and without the token, against a small desk. A failing check means the API
answers something its schema does not promise (a 500, an undocumented status or body, valid
input refused, invalid input accepted …).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from casegate.api.models import ApiToken
from casegate.desk.models import BlockedSender, Company, Contact, Intake
from casegate.desk.vocabulary import Direction
from tests.api.factories import (
    make_attachment,
    make_case,
    make_lead,
    make_message,
    make_suspended,
)

pytestmark = pytest.mark.django_db


KEY = "cg_schemathesis-key"


@pytest.fixture
def desk(intake: Intake, lead_intake: Intake, agent: Any) -> None:
    """A case with a thread and attachments, a lead, a contact and a company, suspended mail
    and a blocked sender (ids 1, 2 …), and the agent's token KEY."""
    ApiToken.objects.create(user=agent, key_sha256=hashlib.sha256(KEY.encode()).hexdigest(),
                            prefix=KEY[:12])
    acme = Company.objects.create(domain="acme.example", name="Acme")
    contact = Contact.objects.create(address="bo@acme.example", company=acme)
    case = make_case(intake, contact=contact, requester="bo@acme.example", tags=["vip"])
    message = make_message(case, raw=b"Subject: hi\r\n\r\nhello\r\n")
    make_attachment(message, b"%PDF-1.4")
    make_attachment(message, None, problem="too large")
    make_message(case, direction=Direction.NOTE, author=agent)
    make_message(make_lead(lead_intake, contact=contact))
    make_suspended(intake, spam_score=3.5, auth_results="gw.test; spf=pass")
    BlockedSender.objects.create(intake=intake, entry="spam.example")


@pytest.fixture(autouse=True)
def keep_the_connection() -> Iterator[None]:
    """Requests keep the test's connection (and its transaction) open, as with Django's
    test client, instead of closing it when they start and finish."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Loaded when the module is collected: schemathesis' from_fixture() fails under pytest 9
# (it sets Node._nodeid, which pytest 9 no longer has).
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@schema.auth()
class Bearer:
    """The token of every request, except those testing what happens without one."""

    def get(self, case: Any, context: Any) -> str:
        return KEY

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def test_the_schema_describes_every_operation() -> None:
    schema.validate()  # against the OpenAPI 3.1 meta-schema; raises what is wrong
    operations = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert len(operations) == 86
    assert ("GET", "/api/attachments/{attachment_id}/download") in operations
    assert ("GET", "/api/search") in operations


@schema.parametrize()
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_every_operation_keeps_to_the_schema(case: Any, desk: None) -> None:
    # A generated Host header names the server: Django refuses a name it does not serve
    # (an empty one, say) with a 400 before the API sees the request, as any web server
    # in front of it would.
    if case.headers:
        case.headers = {name: value for name, value in case.headers.items()
                        if name.lower() != "host"}
    case.call_and_validate()
