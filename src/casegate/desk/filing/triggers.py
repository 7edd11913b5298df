"""The triggers of the cases a batch filed: a new case, a customer's reply, an agent's
reply or note by mail (see :mod:`casegate.desk.automation.engine`).

Old mail (imported, or older than its mailbox) runs no triggers, as it gets no
acknowledgement. The triggers' changes to the batch's cases are saved together, their
mail is queued with the batch's, and the events for webhooks are written in one insert.
"""

from __future__ import annotations

from casegate.desk.arrivals import Filed
from casegate.desk.automation.actions import Deferred
from casegate.desk.automation.engine import current_index, run_triggers
from casegate.desk.automation.facts import EventMessage
from casegate.desk.automation.vocabulary import TriggerEvent
from casegate.desk.filing.batch import Batch
from casegate.desk.models import Case, WebhookCall
from casegate.desk.vocabulary import Direction
from casegate.desk.webhooks.outbox import subscribers

_EVENTS: dict[str, str] = {Direction.OUTBOUND: TriggerEvent.AGENT_REPLIED,
           Direction.NOTE: TriggerEvent.NOTE_ADDED,
           Direction.INBOUND: TriggerEvent.CUSTOMER_REPLIED}


def _event(item: Filed) -> str:
    return TriggerEvent.CASE_CREATED if item.created else _EVENTS[item.direction]


def _message(item: Filed) -> EventMessage:
    arrival = item.arrival
    mail = arrival.mail
    return EventMessage(sender=mail.sender, subject=mail.subject,
                        body=mail.new_text or mail.text, language=mail.language,
                        queue_id=arrival.queue_id, automated=mail.automated, spam=arrival.spam,
                        null_sender=not arrival.mail_from)


def run_case_triggers(batch: Batch) -> None:
    """Each filed message's event on its case, in the order they came."""
    items = [item for item in batch.stored
             if isinstance(item.conversation, Case) and not item.arrival.quiet]
    if not items:
        return
    index = current_index()
    hooks = subscribers()
    if not index.by_event and not hooks.by_event:
        return
    deferred = Deferred()
    calls: list[WebhookCall] = []
    for item in items:
        assert isinstance(item.conversation, Case)
        outcome = run_triggers(item.conversation, _event(item), batch.table, batch.hostname,
                               _message(item), index=index, deferred=deferred, hooks=hooks)
        batch.outgoing.extend(outcome.outgoing)
        calls += outcome.calls
    deferred.save()
    WebhookCall.objects.bulk_create(calls)
