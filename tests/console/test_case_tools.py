"""The case list's search and the case page's merge and split, with their checks."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from casegate.desk.models import Case, CaseEvent, DeskMessage, Intake
from casegate.desk.services import add_agent, add_intake
from casegate.desk.vocabulary import IntakeKind
from tests.console.test_access import signed_in

pytestmark = pytest.mark.django_db


def make(subject: str, text: str, team: str = "") -> Case:
    address = f"{team.lower() or 'help'}@desk.example"
    intake = (Intake.objects.filter(address=address).first()
              or add_intake(IntakeKind.CASE, address))
    case = Case.objects.create(intake=intake, subject=subject, team=team,
                               requester="ann@acme.example", created_at=timezone.now(),
                               received_at=timezone.now())
    DeskMessage.objects.create(case=case, subject=subject, text=text, sender="ann@acme.example",
                               created_at=timezone.now())
    return case


def test_the_case_list_searches_every_message_and_shows_the_words_found() -> None:
    found = make("<script>alert(1)</script> Panel", "The refund was never paid.")
    make("Other", "Nothing to see.")
    hidden = make("Refund for billing", "refund", team="Billing")
    page = signed_in("agent").get("/console/cases/", {"q": "refund"}).content.decode()
    assert f'href="/console/cases/{found.pk}/"' in page
    assert f'href="/console/cases/{hidden.pk}/"' not in page  # another team's case
    assert "<mark>refund</mark>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Panel" in page
    assert "<script>alert(1)" not in page


def test_a_search_the_syntax_cannot_read_is_explained() -> None:
    page = signed_in("agent").get("/console/cases/", {"q": "after:soon"}).content.decode()
    assert "YYYY-MM-DD" in page


@pytest.mark.parametrize("form", [
    {"q": "a\x00b"}, {"q": " ".join(["to:a"] * 64)}, {"q": "-status:closed"},
    {"intake": "\u00b2"}, {"intake": "9" * 5000}, {"intake": "99999999999999999999"},
])
def test_odd_list_parameters_get_an_answer_not_an_error(form: dict[str, str]) -> None:
    make("Panel", "dark")
    assert signed_in("agent").get("/console/cases/", form).status_code == 200


def test_ids_the_bulk_form_cannot_read_are_left_out() -> None:
    case = make("Panel", "dark")
    client = signed_in("agent")
    answer = client.post("/console/cases/bulk", {"ids": [str(case.pk), "\u00b2", "9" * 5000],
                                                 "status": "pending"})
    assert answer.status_code == 302
    assert Case.objects.get(pk=case.pk).status == "pending"


def test_an_agent_merges_unmerges_and_splits_from_the_case_page() -> None:
    first, second = make("Panel", "first"), make("Panel again", "second")
    client = signed_in("agent")
    page = client.get(f"/console/cases/{first.pk}/").content.decode()
    assert 'id="merge-form"' in page
    client.post(f"/console/cases/{first.pk}/merge", {"cases": f"#{second.pk}"})
    assert Case.objects.get(pk=second.pk).merged_into_id == first.pk
    merged_page = client.get(f"/console/cases/{second.pk}/").content.decode()
    assert 'id="merged-into"' in merged_page
    moved = DeskMessage.objects.get(case=first, text="second")
    answer = client.post(f"/console/cases/{first.pk}/messages/{moved.pk}/split")
    created = DeskMessage.objects.get(pk=moved.pk).case_id
    assert created not in (first.pk, second.pk)
    assert answer["Location"] == f"/console/cases/{created}/"
    client.post(f"/console/cases/{second.pk}/unmerge")
    assert Case.objects.get(pk=second.pk).merged_into_id is None


def test_merging_needs_the_csrf_token_and_a_role_that_works_cases() -> None:
    first, second = make("Panel", "first"), make("Panel again", "second")
    assert signed_in("agent", csrf=True).post(
        f"/console/cases/{first.pk}/merge", {"cases": str(second.pk)}).status_code == 403
    assert signed_in("viewer").post(
        f"/console/cases/{first.pk}/merge", {"cases": str(second.pk)}).status_code == 403
    assert Case.objects.get(pk=second.pk).merged_into_id is None


def test_agents_see_each_other_on_a_case_and_a_reply_after_anothers_is_held() -> None:
    case = make("Panel", "It beeps.")
    ann, bob = signed_in("agent"), signed_in("super administrator")
    first = ann.get(f"/console/cases/{case.pk}/").content.decode()
    seen = re.search(r'name="seen" value="(\d+)"', first)[1]
    bob_page = bob.get(f"/console/cases/{case.pk}/").content.decode()
    assert "agent is viewing this case" in bob_page
    ann.post(f"/console/cases/{case.pk}/presence")
    presence = bob.get(f"/console/cases/{case.pk}/presence").content.decode()
    assert "agent is typing a reply" in presence
    bob_seen = re.search(r'name="seen" value="(\d+)"', bob_page)[1]
    bob.post(f"/console/cases/{case.pk}/reply", {"text": "We will call you.", "seen": bob_seen})
    held = ann.post(f"/console/cases/{case.pk}/reply", {"text": "Restart it.", "seen": seen})
    assert held.status_code == 409
    page = held.content.decode()
    assert 'id="reply-held"' in page and "We will call you." in page
    assert ">Restart it.</textarea>" in page
    assert not DeskMessage.objects.filter(text="Restart it.").exists()
    again = re.search(r'name="seen" value="(\d+)"', page)[1]
    sent = ann.post(f"/console/cases/{case.pk}/reply", {"text": "Restart it.", "seen": again})
    assert sent.status_code == 302
    assert DeskMessage.objects.filter(text="Restart it.").exists()


def test_times_are_relative_in_the_readers_language_and_exact_in_their_time_zone() -> None:
    case = make("Panel", "It beeps.")
    client = signed_in("agent")
    client.cookies["casegate_tz"] = "Europe/Paris"
    client.cookies["django_language"] = "fr"
    page = client.get(f"/console/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    time_tag = re.search(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', page)
    assert time_tag is not None
    assert time_tag[2].endswith(("CET", "CEST"))  # the exact time, in the reader's zone
    assert "maintenant" in time_tag[3] or "il y a" in time_tag[3]


def test_the_assignee_and_the_team_are_chosen_from_lists() -> None:
    add_agent("ivy@agents.example", name="Ivy Agent", username="ivy", teams=["Billing"])
    case = make("Panel", "It beeps.")
    page = signed_in("agent").get(f"/console/cases/{case.pk}/").content.decode()
    assert '<option value="ivy" >Ivy Agent</option>' in page
    assert "<option >Billing</option>" in page


def test_fifty_cases_go_to_a_team_in_one_action_with_one_history_entry_each() -> None:
    add_agent("ivy@agents.example", name="Ivy Agent", username="ivy", teams=["Billing"])
    cases = [make(f"Invoice {n}", "Where is it?") for n in range(50)]
    client = signed_in("super administrator")
    page = client.get("/console/cases/").content.decode()
    assert 'id="bulk-actions"' in page
    answer = client.post("/console/cases/bulk", {
        "ids": [str(c.pk) for c in cases], "team": "Billing", "tag": "invoices",
        "action": "change", "back": "https://elsewhere.example/"})
    assert answer["Location"] == "/console/cases/"
    assert set(Case.objects.filter(pk__in=[c.pk for c in cases]).values_list("team", flat=True)
               ) == {"Billing"}
    events = CaseEvent.objects.filter(case__in=cases, field="team")
    assert events.count() == 50 and len({e.case_id for e in events}) == 50
    assert all(c.tags == ["invoices"] for c in Case.objects.filter(pk__in=[c.pk for c in cases]))
