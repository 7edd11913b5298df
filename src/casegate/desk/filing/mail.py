"""The mail a filed batch sets off, queued with it: acknowledgements of new cases, agents'
emailed replies, notifications to agents; and what a delivery report about our reply says."""

from __future__ import annotations

from casegate.desk.acknowledge import acknowledgements
from casegate.desk.filing.batch import Batch
from casegate.desk.models import DeskMessage
from casegate.desk.notifications import notifications
from casegate.desk.parsing import TNEF_BODIES, TNEF_TYPES, AttachmentInfo
from casegate.desk.replies import send
from casegate.desk.vocabulary import ReplyDelivery


def acknowledge(batch: Batch) -> None:
    """See :mod:`casegate.desk.acknowledge`."""
    batch.outgoing.extend(acknowledgements(batch.stored, batch.table, batch.hostname))


def send_agent_replies(batch: Batch) -> None:
    """An agent's emailed reply is mailed to the customer (see :mod:`casegate.desk.replies`)."""
    for item in batch.stored:
        if item.direction == DeskMessage.OUTBOUND:
            assert item.conversation is not None and item.message is not None
            files = [a for a in item.arrival.mail.attachments if sent_along(a)]
            sent = send(item.conversation, item.message, batch.table, batch.hostname, files)
            if sent is not None:
                batch.outgoing.append(sent)


def sent_along(file: AttachmentInfo) -> bool:
    """Whether a file of an agent's emailed reply goes to the customer: not an inline image
    (a signature's logo), one kept only as it arrived (malformed, too large), the text of a
    winmail.dat (the reply itself) nor a winmail.dat left whole."""
    return bool(file.data) and not file.inline and not file.problem \
        and not (file.container and file.filename in TNEF_BODIES) \
        and file.content_type not in TNEF_TYPES


def notify(batch: Batch) -> None:
    """See :mod:`casegate.desk.notifications`."""
    batch.outgoing.extend(notifications(batch.stored, batch.table, batch.hostname))


def mark_failed_replies(batch: Batch) -> None:
    """A delivery report filed on a conversation marks our reply it is about as failed."""
    for item in batch.stored:
        reported = item.arrival.mail.reported_message_id
        if item.message is None or not reported:
            continue
        DeskMessage.objects.filter(
            message_id=reported, direction=DeskMessage.OUTBOUND,
            case=item.message.case, lead=item.message.lead,
        ).update(delivery_status=ReplyDelivery.FAILED,
                 parse_problems=f"a delivery report came back: {item.arrival.mail.subject}"[:500])
