"""An agent's answer to a notification, proven (see :mod:`casegate.desk.authorship`), is
the agent's: a reply for the customer, or an internal note."""

from __future__ import annotations

from casegate.desk.arrivals import Filed
from casegate.desk.filing.batch import Batch
from casegate.desk.models import DeskMessage, Lead


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


def hold_crossed_replies(batch: Batch, item: Filed) -> None:
    """An agent's emailed reply is held, kept as a note and not mailed, when another agent
    replied after the customer message the agent was notified of (the one its references
    name): it may answer what was answered already."""
    if item.direction != DeskMessage.OUTBOUND or item.conversation is None:
        return
    mail = item.arrival.mail
    link = "lead" if isinstance(item.conversation, Lead) else "case"
    read = (DeskMessage.objects.filter(**{link: item.conversation},
                                       message_id__in=[*mail.references, mail.in_reply_to])
            .order_by("-id").values_list("id", flat=True).first())
    if read is None:
        return
    crossed = (DeskMessage.objects.filter(**{link: item.conversation}, pk__gt=read,
                                          direction=DeskMessage.OUTBOUND)
               .exclude(author=item.author).select_related("author").first())
    if crossed is None:
        return
    item.direction = DeskMessage.NOTE
    who = crossed.author.get_username() if crossed.author else crossed.sender
    when = f"{crossed.created_at:%Y-%m-%d %H:%M}"
    mail.problems.append(f"held, not mailed: {who} replied at {when} UTC, after the message"
                         " this answers; send it from the console if it is still needed")
