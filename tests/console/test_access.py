"""Every console page checks who asks; every change needs the CSRF token."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from casegate.access import RoleError, add_user
from casegate.desk.models import Case, DeskMessage
from casegate.desk.services import add_intake
from casegate.desk.vocabulary import IntakeKind
from casegate.directory.services import add_domain
from casegate.routing.models import Rule

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


@pytest.fixture
def case() -> Case:
    add_domain("solarmora.com")
    intake = add_intake(IntakeKind.CASE, "cases@solarmora.com")
    return Case.objects.create(intake=intake, subject="Panel", requester="ann@acme.example",
                               created_at=timezone.now(), received_at=timezone.now())


def signed_in(role: str, csrf: bool = False) -> Client:
    add_user(role.replace(" ", "-"), role, PASSWORD, f"{role.replace(' ', '-')}@people.example")
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=role.replace(" ", "-"), password=PASSWORD)
    return client


def test_anonymous_users_are_sent_to_sign_in(case: Case) -> None:
    for path in ("/console/routing/", "/console/trace/", f"/console/cases/{case.pk}/"):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/console/login/")


@pytest.mark.parametrize(("role", "routing", "cases", "reply"), [
    ("super administrator", 200, 200, 302),
    ("mail-settings administrator", 200, 200, 403),
    ("agent", 403, 200, 302),
    ("viewer", 403, 200, 403),
])
def test_each_role_reaches_only_its_pages(case: Case, role: str, routing: int, cases: int,
                                         reply: int) -> None:
    client = signed_in(role)
    assert client.get("/console/routing/").status_code == routing
    assert client.get("/console/trace/").status_code == routing
    assert client.get(f"/console/cases/{case.pk}/").status_code == cases
    answer = client.post(f"/console/cases/{case.pk}/reply", {"text": "hi", "kind": "note"})
    assert answer.status_code == reply
    assert DeskMessage.objects.filter(case=case).exists() == (reply == 302)


def test_changes_without_the_csrf_token_are_refused(case: Case) -> None:
    client = signed_in("mail-settings administrator", csrf=True)
    form = {"match_type": "address", "match_value": "help@solarmora.com",
            "rewrite": "recipient", "rewrite_value": "cases@solarmora.com"}
    assert client.post("/console/routing/add", form).status_code == 403
    assert not Rule.objects.exists()
    page = client.get("/console/routing/")
    token = page.cookies["csrftoken"].value
    assert client.post("/console/routing/add", {**form, "csrfmiddlewaretoken": token}
                       ).status_code == 302
    assert Rule.objects.get().match_value == "help@solarmora.com"


def test_rule_form_errors_are_shown_and_the_form_kept(case: Case) -> None:
    client = signed_in("mail-settings administrator")
    response = client.post("/console/routing/add", {
        "match_type": "address", "match_value": "help@solarmora.com", "rewrite": "recipient",
        "rewrite_value": "nobody@solarmora.com"})
    assert response.status_code == 400
    assert b'id="form-error"' in response.content
    assert b'value="help@solarmora.com"' in response.content
    assert not Rule.objects.exists()
    assert client.get("/console/routing/?rcpt=help@solarmora.com").status_code == 200


def test_pages_forbid_remote_content_and_framing(case: Case) -> None:
    response = signed_in("agent").get(f"/console/cases/{case.pk}/")
    assert "img-src 'self' data:" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_users_need_a_known_role_and_a_real_password() -> None:
    with pytest.raises(RoleError, match="role is one of"):
        add_user("x", "boss", PASSWORD)
    with pytest.raises(RoleError, match="10 characters"):
        add_user("x", "agent", "short")


def test_quarantine_preview_release_and_delete(case: Case) -> None:
    from casegate.spool.models import Message, Quarantine

    def held(queue_id: str) -> Quarantine:
        message = Message.objects.create(
            queue_id=queue_id, mail_from="spammer@bad.example", rcpt_tos=["help@solarmora.com"],
            received_at=timezone.now(), spam=True, spam_reason="GTUBE",
            raw=b"Subject: win\r\nFrom: spammer@bad.example\r\nContent-Type: text/html\r\n\r\n"
                b"<p>hi<img src='http://tracker.example/p.gif'><script>x()</script></p>")
        return Quarantine.objects.create(message=message, recipient="cases@solarmora.com",
                                         reason="classified as spam", created_at=timezone.now())

    first, second = held("Q1"), held("Q2")
    client = signed_in("mail-settings administrator")
    page = client.get(f"/console/quarantine/{first.pk}/")
    assert page.status_code == 200 and b"<script>" not in page.content
    assert "img-src 'self' data:" in page["Content-Security-Policy"]  # no tracking pixel
    assert client.post(f"/console/quarantine/{first.pk}/release").status_code == 302
    assert client.post(f"/console/quarantine/{second.pk}/delete").status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == ("released", "deleted")
    assert first.message.deliveries.get().recipient == "cases@solarmora.com"
    assert signed_in("viewer").get("/console/quarantine/").status_code == 403


def test_directory_pages_add_and_refuse_with_the_reason(case: Case) -> None:
    client = signed_in("mail-settings administrator")
    client.post("/console/directory/account", {"address": "bo@solarmora.com", "name": "Bo"})
    answer = client.post("/console/directory/account", {"address": "bo@solarmora.com"},
                         follow=True)
    assert b"already" in answer.content
    client.post("/console/directory/group", {"address": "team@solarmora.com",
                                              "members": "bo@solarmora.com"})
    page = client.get("/console/directory/")
    assert b"team@solarmora.com" in page.content and b"cases@solarmora.com" in page.content
    assert b'data-copy="cases@solarmora.com"' in page.content


def test_password_reset_mail_goes_through_our_own_queue(case: Case, settings: Any) -> None:
    import re

    settings.EMAIL_BACKEND = "casegate.console.mail.QueueBackend"  # pytest-django's is local

    from casegate.spool.models import Delivery, Message

    add_user("ann", "agent", PASSWORD, "ann@people.example")
    client = Client()
    assert client.post("/console/password-reset/", {"email": "ann@people.example"}
                       ).status_code == 302
    message = Message.objects.get()
    assert Delivery.objects.get(message=message).recipient == "ann@people.example"
    link = re.search(rb"http://[^/\s]+(/console/password-reset/\S+/)", bytes(message.raw))[1]
    form = client.get(link.decode(), follow=True)
    assert form.status_code == 200 and b"new_password1" in form.content
    client.post(form.redirect_chain[-1][0], {"new_password1": "a much better secret",
                                             "new_password2": "a much better secret"})
    assert Client().login(username="ann", password="a much better secret")
    client.post("/console/password-reset/", {"email": "nobody@people.example"})
    assert Message.objects.count() == 1  # no mail, and no telling whether the address exists


def test_language_follows_the_browser_and_right_to_left_for_hebrew(case: Case) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="he")
    page = client.get("/console/login/")
    assert b'dir="rtl"' in page.content and b'lang="he"' in page.content
    assert "כניסה" in page.content.decode() or "התחברות" in page.content.decode()
    client.post("/i18n/setlang/", {"language": "fr", "next": "/console/login/"})
    page = client.get("/console/login/")
    assert b'lang="fr"' in page.content and b'dir="ltr"' in page.content


def test_dashboard_charts_count_mail_deliveries_and_cases(case: Case) -> None:
    from casegate.routing.snapshot import load_table
    from casegate.spool.messages import enqueue, generated_message

    table = load_table()
    enqueue([generated_message({"cases@solarmora.com": table.destinations(
        "cases@solarmora.com")}, b"Subject: x\r\n\r\nx\r\n", "gw.test") for _ in range(3)])
    page = signed_in("viewer").get("/console/dashboard/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "<svg" in text and "routed: 3" in text and "waiting: 3" in text
    assert "<title>" in text


def test_lead_board_moves_and_converts_and_contact_pages_link_back(case: Case) -> None:
    from casegate.desk.models import Company, Contact, Lead

    sales = add_intake(IntakeKind.LEAD, "sales@solarmora.com")
    company = Company.objects.create(domain="acme.example", name="Acme")
    person = Contact.objects.create(address="gil@acme.example", company=company)
    lead = Lead.objects.create(intake=sales, subject="Quote", requester="gil@acme.example",
                               contact=person, created_at=timezone.now(),
                               received_at=timezone.now())
    client = signed_in("agent")
    client.post(f"/console/leads/{lead.pk}/move", {"status": "qualified"})
    client.post(f"/console/leads/{lead.pk}/move", {"status": "converted"})
    lead.refresh_from_db()
    assert lead.status == "converted" and lead.converted_by == "agent"
    board = client.get("/console/leads/").content.decode()
    assert 'data-state="converted"' in board and "Quote" in board
    assert b"Quote" in client.get(f"/console/contacts/{person.pk}/").content
    assert b"gil@acme.example" in client.get(f"/console/companies/{company.pk}/").content
    assert signed_in("viewer").post(f"/console/leads/{lead.pk}/move",
                                    {"status": "new"}).status_code == 403


def test_agents_see_the_cases_of_their_teams_unteamed_and_their_own(case: Case) -> None:
    from casegate.desk.models import Agent

    client = signed_in("agent")
    me = Agent.objects.create(user_id=client.session["_auth_user_id"], teams=["billing"]).user
    billing = Case.objects.create(intake=case.intake, subject="invoice", team="billing",
                                  requester="x@y.example", created_at=timezone.now(),
                                  received_at=timezone.now())
    tech = Case.objects.create(intake=case.intake, subject="router", team="tech",
                               requester="x@y.example", created_at=timezone.now(),
                               received_at=timezone.now())
    listing = client.get("/console/cases/").content.decode()
    assert "invoice" in listing and "Panel" in listing and "router" not in listing
    assert client.get(f"/console/cases/{tech.pk}/").status_code == 404
    assert client.post(f"/console/cases/{tech.pk}/reply", {"text": "x"}).status_code == 404
    # The dashboard counts the cases its reader may see.
    today = client.get("/console/dashboard/").context["figures"]["cases_per_day"][-1]
    assert today["value"] == 2
    assert signed_in("viewer").get("/console/dashboard/").context["figures"][
        "cases_per_day"][-1]["value"] == 3
    tech.assignee = me
    tech.save()
    assert client.get(f"/console/cases/{tech.pk}/").status_code == 200
    assert signed_in("viewer").get(f"/console/cases/{billing.pk}/").status_code == 200


def test_every_console_form_refuses_a_post_without_the_csrf_token(case: Case) -> None:
    from casegate.routing.services import RuleSpec, add_rule

    rule = add_rule(RuleSpec(match_type="address", match_value="help@solarmora.com",
                             rewrite="recipient", rewrite_value="cases@solarmora.com"))
    client = signed_in("super administrator", csrf=True)
    forms = ["/console/routing/add", f"/console/routing/{rule.pk}/up",
             f"/console/routing/{rule.pk}/disable", f"/console/routing/{rule.pk}/delete",
             "/console/routing/test-message", "/console/quarantine/1/release",
             "/console/quarantine/bulk",
             "/console/directory/account", f"/console/cases/{case.pk}/reply",
             f"/console/cases/{case.pk}/fields", "/console/leads/1/move", "/console/logout/",
             "/console/macros/file", "/console/webhooks/versions/1/rollback",
             "/i18n/setlang/", "/console/password-reset/", "/console/login/"]
    for path in forms:
        assert client.post(path, {"text": "x"}).status_code == 403, path
    assert Rule.objects.get().enabled and not DeskMessage.objects.exists()


def test_trace_and_audit_searches_take_an_impossible_date_as_no_bound(case: Case) -> None:
    client = signed_in("mail-settings administrator")
    for page in ("/console/trace/", "/console/audit/"):
        assert client.get(page, {"since": "2026-02-30 10:00"}).status_code == 200


def test_an_agent_sees_only_the_cases_of_their_teams_on_contact_and_company_pages(
        case: Case) -> None:
    from casegate.desk.models import Company, Contact

    acme = Company.objects.create(domain="acme.example")
    bo = Contact.objects.create(address="bo@acme.example", company=acme)

    def opened(subject: str, team: str) -> Case:
        return Case.objects.create(intake=case.intake, subject=subject, requester=bo.address,
                                   contact=bo, team=team, created_at=timezone.now(),
                                   received_at=timezone.now())

    own, billing = opened("Panel again", ""), opened("Refund", "billing")
    agent = signed_in("agent")
    for page in (f"/console/contacts/{bo.pk}/", f"/console/companies/{acme.pk}/",
                 f"/console/cases/{own.pk}/"):
        shown = agent.get(page).content.decode()
        assert f"/console/cases/{billing.pk}/" not in shown and "Refund" not in shown, page
    assert f"/console/cases/{billing.pk}/" in signed_in("viewer").get(
        f"/console/contacts/{bo.pk}/").content.decode()


def test_the_mailboxes_page_shows_each_state_and_pauses_with_the_csrf_token() -> None:
    from casegate.mailboxes.models import Mailbox, SetAside
    from casegate.mailboxes.services import add_mailbox
    from casegate.mailboxes.vocabulary import Protocol

    mailbox = add_mailbox("support", Protocol.IMAP, "imap.example.com", "desk",
                          password_file="/etc/casegate/secret", deliver_to="help@example.com")
    Mailbox.objects.filter(pk=mailbox.pk).update(
        failures=2, last_error="cannot reach imap.example.com:993: Connection refused",
        last_error_at=timezone.now())
    SetAside.objects.create(mailbox=mailbox, key="9:41", size=10, reason="not a message")
    assert signed_in("agent").get("/console/mailboxes/").status_code == 403
    client = signed_in("mail-settings administrator", csrf=True)
    page = client.get("/console/mailboxes/").content.decode()
    assert "Connection refused" in page and "failing" in page and "9:41: not a message" in page
    assert "/etc/casegate/secret" not in page
    assert client.post("/console/mailboxes/support", {"action": "pause"}).status_code == 403
    token = client.cookies["csrftoken"].value
    answer = client.post("/console/mailboxes/support", {"action": "pause",
                                                         "csrfmiddlewaretoken": token},
                         follow=True)
    assert "Mailbox support is paused." in answer.content.decode()
    assert Mailbox.objects.get(name="support").paused
    client.post("/console/mailboxes/support", {"action": "resume",
                                                "csrfmiddlewaretoken": token})
    assert not Mailbox.objects.get(name="support").paused


def test_the_admin_site_shows_the_directory_and_rules_but_changes_nothing(case: Case) -> None:
    client = signed_in("super administrator")
    for model in ("directory/account", "directory/group", "directory/domain", "routing/rule",
                  "routing/route", "routing/addresslist"):
        assert client.get(f"/admin/{model}/").status_code == 200, model
        assert client.get(f"/admin/{model}/add/").status_code == 403, model
    from casegate.directory.models import Account

    assert client.post("/admin/directory/account/add/", {
        "address": "Help@Solarmora.com"}).status_code == 403
    assert not Account.objects.filter(address__iexact="help@solarmora.com").exists()
