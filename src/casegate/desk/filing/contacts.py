"""Everyone whose mail the desk files is a contact, grouped in a company by mail domain."""

from __future__ import annotations

from casegate.desk.filing.batch import Batch
from casegate.desk.models import Company, Contact
from casegate.desk.parsing import ParsedMail
from casegate.desk.services import FREE_MAIL


def add_contacts(batch: Batch) -> None:
    """The contact of every sender whose mail is filed (suspended mail makes none), created
    (with its company) when new; each new conversation gets its requester's."""
    wanted = {item.arrival.mail.sender: item.arrival.mail for item in batch.stored
              if item.arrival.mail.sender}
    missing = [address for address in wanted if address not in batch.contacts]
    if missing:
        _create(batch, wanted, missing)
    for item in batch.stored:
        if item.created and item.conversation is not None:
            item.conversation.contact = batch.contacts.get(item.arrival.mail.sender)


def _create(batch: Batch, wanted: dict[str, ParsedMail], missing: list[str]) -> None:
    domains = {a.rpartition("@")[2] for a in missing} - FREE_MAIL
    companies = Company.objects.in_bulk(list(domains), field_name="domain")
    new_companies = [Company(domain=d, name=d) for d in domains if d not in companies]
    if new_companies:
        Company.objects.bulk_create(new_companies, ignore_conflicts=True)
        companies = Company.objects.in_bulk(list(domains), field_name="domain")
    Contact.objects.bulk_create(
        [Contact(address=a, name=wanted[a].sender_name[:200], language=wanted[a].language,
                 company=companies.get(a.rpartition("@")[2])) for a in missing],
        ignore_conflicts=True,
    )
    batch.contacts = Contact.objects.in_bulk(list(wanted), field_name="address")
