"""Mail the desk writes about a conversation: acknowledgements, agents' replies, notifications.

Each carries the conversation's tag in the subject and a signed Message-ID, so whatever
answers it threads back to the right case or lead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from casegate.desk.models import Case, Lead
from casegate.desk.threading import case_tag, signed_message_id


def tag_of(conversation: Case | Lead) -> str:
    if isinstance(conversation, Case):
        return case_tag(conversation.pk)
    return f"[#L-{conversation.pk}]"


def from_address(conversation: Case | Lead) -> str:
    """Who our mail about ``conversation`` comes from: where answers to it must go."""
    intake = conversation.intake
    return intake.reply_from or conversation.original_recipient or intake.address


def about(conversation: Case | Lead, to: str, subject: str, hostname: str,
          in_reply_to: str = "", references: Iterable[str] = ()) -> EmailMessage:
    """A message about ``conversation`` with its threading headers set (no body yet)."""
    message = EmailMessage(policy=SMTP)
    message["From"] = from_address(conversation)
    message["To"] = to
    message["Subject"] = subject[:900]
    message["Date"] = format_datetime(datetime.now(UTC))
    kind = "l" if isinstance(conversation, Lead) else "c"
    message["Message-ID"] = signed_message_id(kind, conversation.pk, hostname)
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = " ".join([*list(references)[-10:], in_reply_to])
    return message


def reply_subject(conversation: Case | Lead) -> str:
    subject = conversation.subject or "your request"
    if not subject.lower().startswith(("re:", "aw:", "sv:", "ref:")):
        subject = f"Re: {subject}"
    tag = tag_of(conversation)
    return subject if tag.lower() in subject.lower() else f"{subject} {tag}"
