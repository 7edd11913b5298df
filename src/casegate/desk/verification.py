"""What the test message of ``casegate verify`` leaves on the desk.

The desk knows the test message by its signed Message-ID
(:func:`casegate.desk.threading.is_signed_test`): the case it opens is tagged ``test`` and
owes no first response; once verified, the case or lead is removed with what only it used
(its raw message, and the contact and company the test sender made), unless the person
verifying keeps it.
"""

from __future__ import annotations

import logging

from auditlog.context import disable_auditlog
from django.db import transaction

from casegate.desk.blobs import discard_unused
from casegate.desk.models import Attachment, Contact, DeskMessage
from casegate.desk.threading import is_signed_test

log = logging.getLogger("casegate.desk")

TEST_TAG = "test"


@transaction.atomic
def remove_test_conversations(queue_id: str) -> list[str]:
    """Remove the cases and leads the test message ``queue_id`` opened (any other mail is
    left alone); returns their names, such as ``case 12``."""
    removed: list[str] = []
    found = DeskMessage.objects.filter(queue_id=queue_id).select_related("case", "lead")
    for message in found:
        conversation = message.case or message.lead
        if conversation is None or not (is_signed_test(message.message_id)
                                        and conversation.message_id == message.message_id):
            continue
        thread = DeskMessage.objects.filter(case=message.case, lead=message.lead)
        blobs = {*thread.exclude(raw=None).values_list("raw_id", flat=True),
                 *Attachment.objects.filter(message__in=thread).exclude(blob=None)
                 .values_list("blob_id", flat=True)}
        name = f"{'case' if message.case_id else 'lead'} {conversation.pk}"
        with disable_auditlog():  # a test's traces, never a person's work
            conversation.delete()
            _remove_if_unused(conversation.contact)
        discard_unused(blobs)
        log.info("queue=%s removed=%r test=verify", queue_id, name)
        removed.append(name)
    return removed


def _remove_if_unused(contact: Contact | None) -> None:
    """The test sender's contact, and its company, when nothing else is theirs."""
    if contact is None or contact.cases.exists() or contact.leads.exists():
        return
    company = contact.company
    contact.delete()
    if company is not None and not company.contacts.exists():
        company.delete()
