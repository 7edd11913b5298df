"""Sign-in failures are limited per account and per client: past the limit even the right
password is refused for a while, with a clear message and an audit entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.utils import timezone

from casegate.access import add_user
from casegate.console.models import Throttle
from casegate.console.sign_in import PER_ACCOUNT, PER_CLIENT

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
SIGN_IN = "/console/login/"


@pytest.fixture(autouse=True)
def ann() -> None:
    add_user("ann", "agent", PASSWORD, "ann@people.example")


def signs_in(client: Client, password: str = PASSWORD, path: str = SIGN_IN) -> bool:
    client.post(path, {"username": "ann", "password": password})
    return "_auth_user_id" in client.session


def test_wrong_passwords_lock_the_account_for_a_while() -> None:
    client = Client()
    for _ in range(PER_ACCOUNT.attempts):
        assert client.post(SIGN_IN, {"username": "ann", "password": "guess"}).status_code == 200
    refused = client.post(SIGN_IN, {"username": "ann", "password": PASSWORD})
    assert refused.status_code == 429 and "_auth_user_id" not in client.session
    assert "Too many failed sign-ins for this account" in refused.content.decode()
    assert not signs_in(Client(REMOTE_ADDR="10.0.0.7"))  # from anywhere
    assert not signs_in(Client(), path="/admin/login/")  # the admin site's sign-in too
    entry = LogEntry.objects.get(content_type__model="throttle")
    assert entry.object_repr == f"{PER_ACCOUNT.scope}: ann"
    assert entry.remote_addr == "127.0.0.1" and entry.action == LogEntry.Action.ACCESS

    Throttle.objects.update(expires_at=timezone.now() - timedelta(seconds=1))  # time passes
    assert signs_in(client)


def test_a_success_clears_the_accounts_failures() -> None:
    for _ in range(PER_ACCOUNT.attempts - 1):
        assert not signs_in(Client(), "guess")
    assert signs_in(Client())
    assert not signs_in(Client(), "guess")
    assert signs_in(Client())


def test_failures_from_one_client_lock_that_client_out() -> None:
    client = Client(REMOTE_ADDR="10.0.0.8")
    for n in range(PER_CLIENT.attempts):
        client.post(SIGN_IN, {"username": f"user{n}", "password": "guess"})
    assert not signs_in(client)
    assert signs_in(Client(REMOTE_ADDR="10.0.0.9"))
    assert LogEntry.objects.filter(content_type__model="throttle",
                                   object_repr=f"{PER_CLIENT.scope}: 10.0.0.8").exists()


def test_the_right_password_of_a_user_the_admin_site_turns_away_is_no_failure() -> None:
    for _ in range(PER_ACCOUNT.attempts + 1):
        assert not signs_in(Client(), path="/admin/login/")  # ann is not staff
    assert signs_in(Client())
