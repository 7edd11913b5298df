"""The SLA clocks of the cases a batch files: a new case's policy and due times, set
before the cases are saved; a customer's reply starts the next-response target (see
:mod:`casegate.desk.sla.clocks`).

Old mail and ``casegate verify``'s tests owe no response, so they start no clock.
"""

from __future__ import annotations

from casegate.desk.filing.batch import Batch
from casegate.desk.models import Case
from casegate.desk.sla import clocks
from casegate.desk.verification import TEST_TAG
from casegate.desk.vocabulary import Direction


def start_clocks(batch: Batch) -> None:
    cases = [item.conversation for item in batch.stored
             if item.created and isinstance(item.conversation, Case)
             and not item.arrival.quiet and TEST_TAG not in item.conversation.tags]
    if not cases:
        return
    policies = clocks.current_policies()
    for case in cases:
        event = clocks.start(case, batch.now, policies)
        if event is not None:
            batch.events.append(event)


def start_next_responses(batch: Batch) -> None:
    """After the stored cases' customer replies (automated mail is no reply)."""
    for item in batch.stored:
        case = item.conversation
        if (isinstance(case, Case) and not item.created and item.author is None
                and item.direction == Direction.INBOUND and not item.arrival.quiet
                and not item.arrival.mail.automated and case.sla_policy_id is not None
                and clocks.customer_replied(case, batch.now)):
            case.save(update_fields=list(clocks.CLOCK_FIELDS))
