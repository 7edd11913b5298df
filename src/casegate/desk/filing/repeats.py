"""The same message again (a resend, or a copy by another route) is stored once."""

from __future__ import annotations

from casegate.desk.arrivals import Filed
from casegate.desk.filing.batch import Batch


def skip_repeats(batch: Batch, item: Filed) -> None:
    """A message whose Message-ID, sender and subject were stored before is a duplicate: a
    Message-ID alone is not enough, some senders reuse theirs for different mail."""
    mail = item.arrival.mail
    if not mail.message_id:
        return
    repeat = (mail.message_id, mail.sender[:320], mail.subject)
    item.duplicate = repeat in batch.seen
    batch.seen.add(repeat)
