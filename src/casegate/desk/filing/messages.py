"""The stored messages: each arrival's text, raw bytes and attachments, on its conversation."""

from __future__ import annotations

from casegate.config import get_config
from casegate.desk import blobs
from casegate.desk.arrivals import DeskArrival, Filed
from casegate.desk.filing.batch import Batch
from casegate.desk.models import Attachment, CaseEvent, DeskMessage, Lead
from casegate.desk.parsing import AttachmentInfo, ParsedMail

Kept = list[tuple[AttachmentInfo, bool]]


def store_contents(arrivals: list[DeskArrival]) -> None:
    """Write the raw messages and attachments of a batch that the blob store keeps in files
    (idempotent: known blobs are skipped).

    Run before the filing transaction to keep file writes and their flushes out of it;
    filing finds them stored, and writes the smaller ones in their rows as it goes (a
    transaction of their own here would cost a commit more per batch).
    """
    large = [data for data in _contents(arrivals, [_kept_attachments(a.mail) for a in arrivals])
             if blobs.goes_to_file(data)]
    if large:
        blobs.put_many(large)


def _kept_attachments(mail: ParsedMail) -> Kept:
    """Each attachment and whether its bytes are kept; over a limit only its metadata is
    (``CASEGATE_ATTACHMENT_MAX_FILE`` and ``CASEGATE_ATTACHMENT_MAX_MESSAGE``)."""
    config = get_config()
    per_file, per_message = config.attachment_max_file, config.attachment_max_message
    kept, total = [], 0
    for info in mail.attachments:
        if info.size > per_file:
            info.problem = info.problem or f"larger than the {per_file}-byte limit per file"
            kept.append((info, False))
        elif total + info.size > per_message:
            info.problem = info.problem or f"over the {per_message}-byte limit per message"
            kept.append((info, False))
        else:
            total += info.size
            kept.append((info, True))
    return kept


def _contents(arrivals: list[DeskArrival], kept: list[Kept]) -> list[bytes]:
    """What a batch stores as blobs, in this order: the raw messages, then the kept files."""
    return ([a.raw for a in arrivals if a.raw]
            + [info.data for attachments in kept for info, keep in attachments if keep])


def store_messages(batch: Batch) -> None:
    """The desk messages of the batch's arrivals, with their raw bytes and attachments."""
    filed = batch.stored
    kept = [_kept_attachments(f.arrival.mail) for f in filed]
    digests = iter(blobs.put_many(_contents([f.arrival for f in filed], kept)))
    raws = {id(f): next(digests) for f in filed if f.arrival.raw}
    messages = DeskMessage.objects.bulk_create(
        [_message(item, raws.get(id(item)), batch) for item in filed])
    for item, message in zip(filed, messages, strict=True):
        item.message = message
    Attachment.objects.bulk_create([
        Attachment(message=message, filename=info.filename, content_type=info.content_type,
                   size=info.size, content_id=info.content_id, inline=info.inline,
                   container=info.container, problem=info.problem,
                   blob_id=next(digests) if keep else None)
        for message, attachments in zip(messages, kept, strict=True)
        for info, keep in attachments
    ])


def _message(item: Filed, raw_id: str | None, batch: Batch) -> DeskMessage:
    mail = item.arrival.mail
    link = "lead" if isinstance(item.conversation, Lead) else "case"
    return DeskMessage(
        **{link: item.conversation},
        direction=item.direction,
        author=item.author,
        queue_id=item.arrival.queue_id,
        message_id=mail.message_id,
        in_reply_to=mail.in_reply_to,
        references=" ".join(mail.references),
        cc="\n".join(mail.cc),
        automated=mail.automated[:100],
        subject=mail.subject,
        sender=mail.sender[:320],
        sender_name=mail.sender_name[:200],
        text=mail.text,
        new_text=mail.new_text,
        html=mail.html,
        parse_problems="\n".join([*mail.problems, item.unproven] if item.unproven
                                 else mail.problems),
        raw_id=raw_id,
        created_at=item.arrival.filed_at(batch.now),
    )


def record_history(batch: Batch) -> None:
    """The case history the steps before recorded (a case reopened by its customer)."""
    CaseEvent.objects.bulk_create(batch.events)
