"""Writing events for webhooks: one outbox row per webhook, in the transaction of the
event, with the exact JSON body to post.

.. code-block:: json

    {"delivery": "5f0c…", "event": "customer_replied", "timestamp": "2026-…+00:00",
     "case": {"id": 12, "number": "CG-12", "subject": "…", "status": "open", …},
     "message": {"sender": "dana@example.net", "subject": "…", "text": "…"},
     "changed": [], "by": null}

``message`` is null for events without one (a field changed); ``changed`` names the fields
of a ``field_changed`` event; ``by`` names the trigger whose ``webhook`` action called the
webhook (``trigger:NAME``; null for the events a webhook is subscribed to).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from casegate.desk.automation.facts import EventMessage
from casegate.desk.models import Case, Webhook, WebhookCall
from casegate.desk.outgoing import tag_of
from casegate.desk.output import conversation_as_dict

# A message's text in a body is cut at this many characters; the receiver can fetch the
# rest over the API.
MAX_TEXT = 100_000


def case_part(case: Case) -> dict[str, Any]:
    return {**conversation_as_dict(case), "number": tag_of(case).strip("[]#")}


def message_part(message: EventMessage | None) -> dict[str, Any] | None:
    if message is None:
        return None
    return {"sender": message.sender, "subject": message.subject,
            "text": message.body[:MAX_TEXT], "language": message.language}


def event_body(case: Case, event: str, message: EventMessage | None,
               changed: Iterable[str], by: str = "") -> dict[str, Any]:
    """What every webhook of one event is sent, but its delivery id."""
    return {"event": event, "timestamp": timezone.now().isoformat(),
            "case": case_part(case), "message": message_part(message),
            "changed": sorted(changed), "by": by or None}


def webhook_call(webhook_id: int, body: dict[str, Any], case_id: int | None = None
                 ) -> WebhookCall:
    """The outbox row (not saved) posting ``body`` with a delivery id of its own."""
    delivery = str(uuid.uuid4())
    now = timezone.now()
    return WebhookCall(webhook_id=webhook_id, delivery_id=delivery, event=body["event"],
                       case_id=case_id, body=json.dumps({"delivery": delivery, **body}),
                       due_at=now, created_at=now)


@dataclass(frozen=True)
class Subscribers:
    """The webhooks each event is sent to, read once for a batch of events. Paused webhooks
    are among them: their events wait for them to resume."""

    by_event: dict[str, tuple[int, ...]]

    def calls(self, case: Case, event: str, message: EventMessage | None,
              changed: Iterable[str] = ()) -> list[WebhookCall]:
        webhooks = self.by_event.get(event, ())
        if not webhooks:
            return []
        body = event_body(case, event, message, changed)
        return [webhook_call(webhook, body, case.pk) for webhook in webhooks]


def subscribers() -> Subscribers:
    by_event: dict[str, list[int]] = {}
    for pk, events in Webhook.objects.order_by("pk").values_list("pk", "events"):
        for event in events:
            by_event.setdefault(event, []).append(pk)
    return Subscribers({event: tuple(pks) for event, pks in by_event.items()})
