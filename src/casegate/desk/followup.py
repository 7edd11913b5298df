"""What filing a batch sets off: acknowledgements, agents' emailed replies, notifications,
and marking our replies failed when a delivery report about them comes back."""

from __future__ import annotations

from casegate.desk.acknowledge import acknowledgements
from casegate.desk.models import DeskMessage
from casegate.desk.notifications import notifications
from casegate.desk.replies import send
from casegate.desk.services import Filed
from casegate.gateway.store import AcceptedMessage
from casegate.routing.engine import RoutingTable


def follow_up(filed: list[Filed], table: RoutingTable, hostname: str) -> list[AcceptedMessage]:
    """The mail to queue for a filed batch (inside the filing transaction)."""
    outgoing = acknowledgements(filed, table, hostname)
    for item in filed:
        if item.message is not None and item.message.direction == DeskMessage.OUTBOUND:
            assert item.conversation is not None
            sent = send(item.conversation, item.message, table, hostname)
            if sent is not None:
                outgoing.append(sent)
    outgoing.extend(notifications(filed, table, hostname))
    _mark_failed_replies(filed)
    return outgoing


def _mark_failed_replies(filed: list[Filed]) -> None:
    for item in filed:
        reported = item.arrival.mail.reported_message_id
        if item.message is None or not reported:
            continue
        DeskMessage.objects.filter(
            message_id=reported, direction=DeskMessage.OUTBOUND,
            case_id=item.message.case_id, lead_id=item.message.lead_id,
        ).update(delivery_status="failed",
                 parse_problems=f"a delivery report came back: {item.arrival.mail.subject}"[:500])
