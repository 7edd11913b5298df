"""A customer's answer on a solved or pending case reopens it; on a closed case it opens a
new case that follows the closed one. A report that our reply could not be delivered stays
on the case of the reply, closed or not, which it marks failed."""

from __future__ import annotations

from casegate.desk.arrivals import Filed
from casegate.desk.changes import case_event
from casegate.desk.filing.batch import Batch
from casegate.desk.models import Case
from casegate.desk.sla import clocks
from casegate.desk.vocabulary import CaseStatus


def reopen_or_follow_up(batch: Batch, item: Filed) -> None:
    """An agent's answer leaves the status to the agent, and automated mail (an
    out-of-office, mail from the null sender) reopens nothing."""
    case = item.conversation
    if item.author is not None or not isinstance(case, Case):
        return
    if case.status == CaseStatus.CLOSED:
        if not item.arrival.mail.reported_message_id:  # else no new case: not the customer
            item.conversation, item.follows = None, case
    elif (case.status in (CaseStatus.SOLVED, CaseStatus.PENDING)
          and not item.arrival.mail.automated and not item.arrival.null_sender):
        before = case.status
        batch.events.append(case_event(case, "status", before, CaseStatus.OPEN,
                                       item.arrival.mail.sender))
        case.status = CaseStatus.OPEN
        case.updated_at = case.status_changed_at = batch.now
        batch.events += clocks.fields_changed(case, {"status": before}, batch.now)
        case.save(update_fields=["status", "updated_at", "status_changed_at",
                                 *clocks.CLOCK_FIELDS])
