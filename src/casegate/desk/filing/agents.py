"""An agent's answer to a notification, proven (see :mod:`casegate.desk.authorship`), is
the agent's: a reply for the customer, or an internal note."""

from __future__ import annotations

from casegate.desk.arrivals import Filed
from casegate.desk.filing.batch import Batch
from casegate.desk.models import DeskMessage


def take_agent_answer(batch: Batch, item: Filed) -> None:
    """Marks an agent's answer as theirs: an internal note when it begins with ``#note`` or
    is automated (an out-of-office), else their public reply. An unproven one stays the
    customer's, with the reason."""
    item.author, item.unproven = item.authorship.author, item.authorship.refused
    if item.author is None:
        return
    mail = item.arrival.mail
    if mail.automated or mail.new_text.lstrip().lower().startswith("#note"):
        item.direction = DeskMessage.NOTE
    else:
        item.direction = DeskMessage.OUTBOUND
