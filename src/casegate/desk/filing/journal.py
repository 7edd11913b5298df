"""One log line for each arrival filed, once its batch is committed: the queue id, where it
went (``case=CG-12`` or ``lead=L-3``) and what happened (``filed=``): ``new``, ``threaded``,
``follow-up`` (a new case after a closed one), ``agent-reply``, ``agent-note``,
``duplicate``; suspended mail is logged by :mod:`casegate.desk.filing.suspension`."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from casegate.desk.arrivals import Filed
from casegate.desk.filing.batch import Batch
from casegate.desk.models import Case, DeskMessage
from casegate.desk.outgoing import tag_of
from casegate.maillog import log_fields

log = logging.getLogger("casegate.desk")


def what_happened(item: Filed) -> str:
    if item.duplicate:
        return "duplicate"
    if item.author is not None:
        return "agent-note" if item.direction == DeskMessage.NOTE else "agent-reply"
    if item.created:
        return "follow-up" if item.follows is not None else "new"
    return "threaded"


def filing_fields(item: Filed) -> dict[str, Any]:
    arrival = item.arrival
    fields: dict[str, Any] = {"queue": arrival.queue_id}
    if item.conversation is not None:
        kind = "case" if isinstance(item.conversation, Case) else "lead"
        fields[kind] = tag_of(item.conversation).strip("[#]")
    fields["filed"] = what_happened(item)
    if item.follows is not None:
        fields["follows"] = tag_of(item.follows).strip("[#]")
    fields["intake"] = arrival.intake.address if arrival.intake else ""
    fields["orig_to"] = f"<{arrival.original_recipient}>"
    fields["from"] = f"<{arrival.mail.sender}>"
    return fields


def log_filings(batch: Batch) -> None:
    lines = [filing_fields(item) for item in batch.filed if not item.suspended]

    def write() -> None:
        for fields in lines:
            log_fields(log, fields)

    transaction.on_commit(write)
