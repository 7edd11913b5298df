"""Signatures under agents' public replies: the agent's own, else the intake's, with the
placeholders of replies filled (``{{agent.name}}``, ``{{case.team}}``, ``{{case.number}}``…).

A reply that already ends with (or holds) the filled signature, such as a macro's reply
with ``{{agent.signature}}`` or a mail whose client signed it, is left as it is: a
signature is never added twice.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from casegate.desk.automation.actions import placeholder_values
from casegate.desk.automation.rules import TriggerError, check_placeholders, fill_placeholders
from casegate.desk.automation.vocabulary import SIGNATURE_PLACEHOLDERS
from casegate.desk.changes import DeskError
from casegate.desk.models import Agent, Case, Intake, Lead

MAX_LENGTH = 2000


def checked_signature(text: str) -> str:
    """A signature as it is stored: trimmed, its placeholders known."""
    text = text.strip().replace("\r\n", "\n")
    if len(text) > MAX_LENGTH:
        raise DeskError(f"a signature is at most {MAX_LENGTH} characters")
    try:
        return check_placeholders(text, known=SIGNATURE_PLACEHOLDERS)
    except TriggerError as exc:
        raise DeskError(str(exc)) from None


@transaction.atomic
def set_agent_signature(username: str, text: str) -> Agent:
    agent = Agent.objects.select_related("user").filter(user__username=username).first()
    if agent is None:
        raise DeskError(f"there is no agent {username!r}; see: casegate agent add")
    agent.signature = checked_signature(text)
    agent.save(update_fields=["signature"])
    return agent


def signature_for(conversation: Case | Lead, author: Any) -> str:
    """The signature ``author`` (a user, or None for the desk) signs a reply on
    ``conversation`` with, filled: theirs, else the intake's; empty when neither has one."""
    own = Agent.objects.filter(user=author).values_list("signature", flat=True).first() \
        if author is not None else ""
    template = own or Intake.objects.filter(pk=conversation.intake_id).values_list(
        "signature", flat=True).first() or ""
    if not template:
        return ""
    return fill_placeholders(template, placeholder_values(conversation, author)).strip()


def signed(conversation: Case | Lead, author: Any, text: str) -> str:
    """``text`` with the signature under it, unless it has it already."""
    signature = signature_for(conversation, author)
    if not signature or " ".join(signature.split()) in " ".join(text.split()):
        return text
    return f"{text.rstrip()}\n\n{signature}\n"
