"""The console's quarantine: who may see and decide, the search, the entry page, and
decisions in bulk."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.test import Client

from casegate.access import add_user
from casegate.spool.models import Quarantine
from tests.held_mail import authentication, desk, hold, rspamd_report

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
LIST = "/console/quarantine/"
BULK = "/console/quarantine/bulk"


def signed_in(role: str, csrf: bool = False) -> Client:
    username = role.replace(" ", "-")
    add_user(username, role, PASSWORD, f"{username}@people.example")
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=username, password=PASSWORD)
    return client


def listed(client: Client, **query: str) -> list[int]:
    """The entries a search shows, in the page's order."""
    page = client.get(LIST, query)
    assert page.status_code == 200
    return [int(i) for i in dict.fromkeys(
        re.findall(r'href="/console/quarantine/(\d+)/"', page.content.decode()))]


def states() -> dict[int, str]:
    return dict(Quarantine.objects.values_list("id", "state"))


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_may_not_see_or_decide(role: str) -> None:
    entry = hold()
    client = signed_in(role)
    assert client.get(LIST).status_code == 403
    assert client.get(f"{LIST}{entry.pk}/").status_code == 403
    assert client.post(BULK, {"decision": "delete", "entry": entry.pk}).status_code == 403
    assert client.post(BULK, {"decision": "delete", "matching": "on"}).status_code == 403
    assert states() == {entry.pk: "held"}
    assert Client().get(LIST).status_code == 302  # signed out: to the sign-in page


def test_bulk_decisions_need_the_csrf_token() -> None:
    entry = hold()
    client = signed_in("mail-settings administrator", csrf=True)
    assert client.post(BULK, {"decision": "delete", "entry": entry.pk}).status_code == 403
    assert states() == {entry.pk: "held"}
    token = client.get(LIST).cookies["csrftoken"].value
    assert client.post(BULK, {"decision": "delete", "entry": entry.pk,
                              "csrfmiddlewaretoken": token}).status_code == 302
    assert states() == {entry.pk: "deleted"}


def test_ticked_entries_are_released_or_deleted_each_in_the_audit_log() -> None:
    desk()
    first, second, third, kept = hold(), hold(), hold(), hold()
    client = signed_in("mail-settings administrator")
    answer = client.post(BULK, {"decision": "release", "entry": [first.pk, second.pk]},
                         follow=True)
    assert "Released: 2." in answer.content.decode()
    refused = client.post(BULK, {"decision": "delete", "entry": [third.pk, first.pk]},
                          follow=True).content.decode()
    assert "Deleted: 1." in refused
    assert f"Left as they were: 1 (quarantine entry #{first.pk} was released already)." in refused
    assert states() == {first.pk: "released", second.pk: "released", third.pk: "deleted",
                        kept.pk: "held"}
    logged = LogEntry.objects.filter(content_type__model="quarantine")
    assert sorted((int(e.object_pk), e.changes["state"][1]) for e in logged) == [
        (first.pk, "released"), (second.pk, "released"), (third.pk, "deleted")]
    assert {e.actor.get_username() for e in logged} == {"mail-settings-administrator"}
    assert client.post(BULK, {"decision": "explode", "entry": [kept.pk]}).status_code == 404
    assert "No held entry was selected." in client.post(
        BULK, {"decision": "delete"}, follow=True).content.decode()


def test_every_held_entry_matching_the_search_is_decided_and_the_search_kept() -> None:
    failing = [hold(auth_results=authentication("fail")) for _ in range(3)]
    passing = hold(auth_results=authentication("pass"))
    client = signed_in("super administrator")
    page = client.get(LIST, {"dmarc": "fail"}).content.decode()
    assert '<input type="hidden" name="dmarc" value="fail">' in page
    assert "at most 10000 at a time" in page
    answer = client.post(BULK, {"decision": "delete", "matching": "on", "dmarc": "fail",
                                "entry": [passing.pk]})  # "all matching" wins over the ticks
    assert answer["Location"] == f"{LIST}?dmarc=fail"
    assert states() == {**{e.pk: "deleted" for e in failing}, passing.pk: "held"}


def test_the_search_form_filters_by_each_field() -> None:
    now = datetime.now(UTC)
    watches = hold(subject="Cheap watches", spam_report=rspamd_report(score=12.0),
                   auth_results=authentication("fail"), received_at=now - timedelta(days=3))
    lottery = hold(subject="You won", sender="Lottery Board <board@lotto.example>",
                   recipient="help@solarmora.com", reason="held by rule #7", spam_reason="",
                   spam_report=rspamd_report(score=6.0), auth_results=authentication("pass"))
    client = signed_in("mail-settings administrator")
    assert listed(client) == [lottery.pk, watches.pk]
    assert listed(client, q="watches") == [watches.pk]
    assert listed(client, q="Lottery Board") == [lottery.pk]
    assert listed(client, q="help@solarmora") == [lottery.pk]
    assert listed(client, reason="rule #7") == [lottery.pk]
    assert listed(client, dmarc="fail") == [watches.pk]
    assert listed(client, dmarc="pass") == [lottery.pk]
    assert listed(client, dmarc="bogus") == [lottery.pk, watches.pk]
    assert listed(client, min_score="10") == [watches.pk]
    assert listed(client, min_score="ten") == [lottery.pk, watches.pk]
    assert listed(client, min_score="nan") == [lottery.pk, watches.pk]
    since = (now - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    assert listed(client, since=since) == [lottery.pk]
    assert listed(client, until=since) == [watches.pk]
    assert listed(client, since="2026-02-30 10:00") == [lottery.pk, watches.pk]
    Quarantine.objects.filter(pk=watches.pk).update(state=Quarantine.RELEASED)
    assert listed(client) == [lottery.pk]
    assert listed(client, all="1") == [lottery.pk, watches.pk]


def test_the_list_shows_subject_senders_authentication_and_score() -> None:
    hold(subject="=?utf-8?q?Caf=C3=A9?= deals", auth_results=authentication("fail"),
         spam_report=rspamd_report(score=9.5))
    hold(spam_report={}, auth_results="")
    page = signed_in("mail-settings administrator").get(LIST).content.decode()
    assert "Café deals" in page
    assert "Offers &lt;offers@bulk.example&gt;" in page and "&lt;offers@bulk.example&gt;" in page
    assert '<span class="badge fail">dmarc=fail</span>' in page
    assert '<span class="badge pass">spf=pass</span>' in page
    assert "9.50 / 15.00" in page and "add header" in page


def test_pages_of_a_hundred_keep_the_search() -> None:
    entries = [hold(subject=f"offer {n}") for n in range(103)]
    client = signed_in("mail-settings administrator")
    first = client.get(LIST, {"q": "offer"}).content.decode()
    assert "Matching: 103. Page 1 of 2." in first
    assert 'href="?q=offer&amp;page=2"' in first
    assert listed(client, q="offer", page="2") == [e.pk for e in reversed(entries[:3])]
    assert listed(client, q="offer", page="99") == [e.pk for e in reversed(entries[:3])]


def test_the_entry_page_shows_authentication_report_symbols_and_headers() -> None:
    entry = hold(auth_results=authentication("fail"), spam_report=rspamd_report(
        symbols={"R_SPF_ALLOW": -0.2, "BAYES_SPAM": 5.1, "ZERO": 0.0}))
    page = signed_in("mail-settings administrator").get(f"{LIST}{entry.pk}/").content.decode()
    assert "Authentication-Results: gw.test; spf=pass smtp.mailfrom=bulk.example" in page
    assert '<span class="badge fail">dmarc=fail</span>' in page
    assert "rspamd" in page and "9.50" in page and "15.00" in page and "add header" in page
    symbols = page[page.index('id="spam-symbols"'):]
    assert symbols.index("BAYES_SPAM") < symbols.index("R_SPF_ALLOW") < symbols.index("ZERO")
    assert "5.10" in symbols and "-0.20" in symbols
    assert "Subject: Cheap watches" in page[page.index('id="headers"'):]
    assert f'action="/console/quarantine/{entry.pk}/release"' in page


def test_an_entry_without_report_or_authentication_opens() -> None:
    entry = hold(spam_report={}, auth_results="")
    page = signed_in("mail-settings administrator").get(f"{LIST}{entry.pk}/").content.decode()
    assert "No classifier report." in page and "Not checked" in page


def test_hostile_subjects_senders_headers_and_symbols_are_escaped() -> None:
    script = "<script>alert(1)</script>"
    raw = (f"From: {script} <x@bulk.example>\r\nSubject: {script}\r\n"
           f"X-Evil: <img src=x onerror=alert(2)>\r\n\r\nbody\r\n").encode()
    entry = hold(raw=raw, mail_from="<b>@bulk.example", reason="held by rule #1 <i>",
                 spam_reason="<u>x</u>", auth_results=f"gw.test; dmarc=fail ({script})",
                 spam_report=rspamd_report(symbols={script: 1.0}))
    client = signed_in("mail-settings administrator")
    for path in (LIST, f"{LIST}{entry.pk}/"):
        page = client.get(path).content.decode()
        for hostile in (script, "<img src=x", "<b>@", "<i>", "<u>"):
            assert hostile not in page, (path, hostile)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_page_speaks_the_reader_s_language() -> None:
    hold()
    client = signed_in("mail-settings administrator")
    page = client.get(LIST, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Correspondances : 1. Page 1 sur 1." in page
    assert "pas seulement celles cochées (au plus 10000 à la fois)" in page
