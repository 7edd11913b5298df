"""Password reset requests: the link comes from CASEGATE_CONSOLE_URL, never from Host:;
requests are limited per address and per client; an unknown address is answered as fast
as a known one."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from auditlog.models import LogEntry
from django.test import Client

from casegate.access import add_user
from casegate.console import password_reset
from casegate.console.password_reset import PER_ADDRESS, PER_CLIENT
from casegate.directory.services import add_domain
from casegate.spool.models import Message

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
RESET = "/console/password-reset/"


@pytest.fixture(autouse=True)
def ann(settings: Any) -> None:
    settings.EMAIL_BACKEND = "casegate.console.mail.QueueBackend"  # pytest-django's is local
    add_domain("solarmora.com")
    add_user("ann", "agent", PASSWORD, "ann@people.example")


@pytest.fixture
def answered_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(password_reset, "ANSWER_SECONDS", 0.0)


def links_in(message: Message) -> list[bytes]:
    return re.findall(rb"\w+://\S+/console/password-reset/\S+/", bytes(message.raw))


def test_a_forged_host_is_refused(console_at: Callable[..., None]) -> None:
    console_at("https://desk.example.com")
    answer = Client(HTTP_HOST="evil.example").post(RESET, {"email": "ann@people.example"})
    assert answer.status_code == 400 and not Message.objects.exists()


def test_the_mailed_link_is_the_console_url_whatever_host_was_named(
        console_at: Callable[..., None]) -> None:
    console_at("https://desk.example.com")
    for host in ("desk.example.com", "127.0.0.1:8025"):  # the public name; casegate's own
        assert Client(HTTP_HOST=host).post(RESET, {"email": "ann@people.example"}
                                           ).status_code == 302
    links = [link for message in Message.objects.all() for link in links_in(message)]
    assert len(links) == 2
    assert all(link.startswith(b"https://desk.example.com/console/password-reset/")
               for link in links)


@pytest.mark.usefixtures("answered_at_once")
def test_requests_are_limited_per_address() -> None:
    client = Client()
    for _ in range(PER_ADDRESS.attempts):
        assert client.post(RESET, {"email": "ann@people.example"}).status_code == 302
    refused = client.post(RESET, {"email": "ANN@people.example"})
    assert refused.status_code == 429
    assert "Too many password reset requests" in refused.content.decode()
    assert Message.objects.count() == PER_ADDRESS.attempts
    entry = LogEntry.objects.get(content_type__model="throttle")
    assert entry.object_repr == f"{PER_ADDRESS.scope}: ann@people.example"
    other = Client(REMOTE_ADDR="10.0.0.2").post(RESET, {"email": "bo@people.example"})
    assert other.status_code == 302


@pytest.mark.usefixtures("answered_at_once")
def test_requests_are_limited_per_client() -> None:
    client = Client(REMOTE_ADDR="10.0.0.3")
    for n in range(PER_CLIENT.attempts):
        assert client.post(RESET, {"email": f"x{n}@people.example"}).status_code == 302
    assert client.post(RESET, {"email": "ann@people.example"}).status_code == 429
    assert not Message.objects.exists()
    assert Client(REMOTE_ADDR="10.0.0.4").post(RESET, {"email": "ann@people.example"}
                                               ).status_code == 302


def test_a_known_and_an_unknown_address_take_the_same_time() -> None:
    took = {}
    for address in ("ann@people.example", "nobody@people.example"):
        started = time.monotonic()
        assert Client().post(RESET, {"email": address}).status_code == 302
        took[address] = time.monotonic() - started
    assert Message.objects.count() == 1  # a mail for ann only
    for seconds in took.values():
        assert password_reset.ANSWER_SECONDS <= seconds < password_reset.ANSWER_SECONDS + 0.5


@pytest.mark.usefixtures("answered_at_once")
def test_no_reset_link_is_mailed_to_a_super_administrator() -> None:
    # Mail settings decide where their mail goes: a link would hand them the host.
    add_user("root", "super administrator", PASSWORD, "root@people.example")
    assert Client().post(RESET, {"email": "root@people.example"}).status_code == 302
    assert not Message.objects.exists()


@pytest.mark.usefixtures("answered_at_once")
def test_a_reset_link_sets_only_a_password_of_the_required_length() -> None:
    assert Client().post(RESET, {"email": "ann@people.example"}).status_code == 302
    (link,) = links_in(Message.objects.get())
    client = Client()
    form = client.get(urlsplit(link.decode()).path, follow=True)
    set_password = form.redirect_chain[-1][0]
    short = client.post(set_password, {"new_password1": "short", "new_password2": "short"})
    assert short.status_code == 200 and "too short" in short.content.decode()
    longer = "a much longer one"
    assert client.post(set_password, {"new_password1": longer, "new_password2": longer}
                       ).status_code == 302
