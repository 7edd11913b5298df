"""Every sender becomes a contact, in a company unless they write from free mail."""

from __future__ import annotations

import pytest

from casegate.desk.filing.contacts import add_contacts
from casegate.desk.models import Company, Contact, Intake
from tests.desk.filing.batches import arrival, batch_of
from tests.mails import mail

pytestmark = pytest.mark.django_db


def test_new_senders_become_contacts_with_companies_of_their_domains(intake: Intake) -> None:
    Contact.objects.create(address="known@acme.example", name="Known")
    batch = batch_of(*[arrival(intake, mail(sender=sender)[0]) for sender in (
        "Known <known@acme.example>", "Bo <bo@acme.example>", "Al <al@gmail.com>")])
    add_contacts(batch)
    assert set(batch.contacts) == {"known@acme.example", "bo@acme.example", "al@gmail.com"}
    assert batch.contacts["bo@acme.example"].name == "Bo"
    assert batch.contacts["bo@acme.example"].company.domain == "acme.example"
    assert batch.contacts["al@gmail.com"].company is None
    assert list(Company.objects.values_list("domain", flat=True)) == ["acme.example"]
    assert Contact.objects.get(address="known@acme.example").company is None  # left as it was
