"""Searching cases from the console's case list: ranked, marked, escaped, scoped."""

from __future__ import annotations

import pytest
from django.utils import timezone

from casegate.desk.models import Case, DeskMessage, Intake
from casegate.desk.services import add_intake
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
