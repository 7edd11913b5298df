"""The transport map: next hops that override MX for a destination domain."""

from __future__ import annotations

import getpass
from typing import Any

from django.db import transaction
from django.utils import timezone

from casegate.delivery.models import Transport
from casegate.directory.addresses import normalize_domain
from casegate.errors import CasegateError
from casegate.mail.hostport import parse_hostport
from casegate.spool.messages import wake_workers
from casegate.spool.models import Delivery, QueueAction
from casegate.spool.vocabulary import DeliveryState


class TransportError(CasegateError):
    """A transport entry was refused."""


def add_transport(domain: str, hostport: str, require_tls: bool = False) -> Transport:
    name = normalize_domain(domain)
    hop = parse_hostport(hostport, example="127.0.0.1:2526")
    transport, _ = Transport.objects.update_or_create(
        domain=name, defaults={"host": hop.host, "port": hop.port, "require_tls": require_tls})
    return transport


def remove_transport(domain: str) -> None:
    if not Transport.objects.filter(domain=normalize_domain(domain)).delete()[0]:
        raise TransportError(f"there is no transport for {domain}")


class QueueError(CasegateError):
    """A queue action was refused."""


# Which states each operator action may start from, and the state it leads to.
_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "retry": ((DeliveryState.DEFERRED, DeliveryState.PENDING, DeliveryState.FAILED),
              DeliveryState.PENDING),
    "hold": ((DeliveryState.PENDING, DeliveryState.DEFERRED), DeliveryState.HELD),
    "release": ((DeliveryState.HELD,), DeliveryState.PENDING),
    "delete": ((DeliveryState.PENDING, DeliveryState.DEFERRED, DeliveryState.HELD,
                DeliveryState.FAILED), DeliveryState.DELETED),
}


@transaction.atomic
def act_on_queue(action: str, delivery_ids: list[int] | None, reason: str = "") -> int:
    """Apply an operator action to deliveries (all that qualify when ``delivery_ids`` is None).

    Every change is recorded with who made it, when and why.
    """
    allowed_from, new_state = _ACTIONS[action]
    if action == "delete" and not reason.strip():
        raise QueueError("say why the delivery is deleted: --reason TEXT")
    rows = Delivery.objects.select_for_update()
    if delivery_ids is not None:
        rows = rows.filter(pk__in=delivery_ids)
        found = {d.pk: d for d in rows}
        for delivery_id in delivery_ids:
            delivery = found.get(delivery_id)
            if delivery is None:
                raise QueueError(f"there is no delivery #{delivery_id}; see: casegate queue list")
            if delivery.state not in allowed_from:
                raise QueueError(
                    f"delivery #{delivery_id} is {delivery.state}; {action} applies to"
                    f" {' or '.join(allowed_from)} deliveries"
                )
        targets = list(found.values())
    else:
        targets = list(rows.filter(state__in=allowed_from))
    now = timezone.now()
    actor = getpass.getuser()
    for delivery in targets:
        delivery.state = new_state
        if new_state == DeliveryState.PENDING:
            delivery.next_attempt_at = now
        delivery.updated_at = now
    Delivery.objects.bulk_update(targets, ["state", "next_attempt_at", "updated_at"])
    if new_state == DeliveryState.PENDING and targets:
        wake_workers({d.kind for d in targets})
    QueueAction.objects.bulk_create(
        QueueAction(delivery=d, action=action, reason=reason, actor=actor, at=now)
        for d in targets
    )
    return len(targets)


def delivery_as_dict(delivery: Delivery, with_history: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": delivery.pk,
        "queue_id": delivery.message_id,
        "original_recipient": delivery.original_recipient,
        "recipient": delivery.recipient,
        "kind": delivery.kind,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at.isoformat(),
        "last_reply": delivery.last_reply,
        "dsn": delivery.dsn_state or None,
    }
    if with_history:
        row["attempt_log"] = [
            {"started_at": a.started_at.isoformat(), "duration": round(a.duration, 4),
             "host": a.host, "outcome": a.outcome, "reply": a.reply}
            for a in delivery.attempt_log.all()
        ]
        row["actions"] = [
            {"action": a.action, "reason": a.reason, "actor": a.actor, "at": a.at.isoformat()}
            for a in delivery.actions.all()
        ]
    return row
