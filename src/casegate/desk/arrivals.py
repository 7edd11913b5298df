"""A message delivered to the desk on its way to a conversation, and where it went."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from casegate.desk.authorship import Authorship
from casegate.desk.models import Case, DeskMessage, Intake, Lead
from casegate.desk.parsing import ParsedMail
from casegate.desk.threading import ThreadHint
from casegate.mail.senders import or_envelope_sender


@dataclass
class DeskArrival:
    """A message delivered to the desk, parsed and ready to be filed.

    ``intake`` is None for mail to an agent's reply address: it belongs to the conversation
    it answers, and takes that conversation's intake when filed. ``peer``: the client the
    gateway received it from; ``spam``: the gateway classified it as spam (a rule with
    "bypass spam filter" let it through). ``recovered``: a person took it out of the
    suspended mail, so it is filed without being suspended again. ``quiet``: old mail
    (imported, or older than the mailbox it was fetched from): filed without
    acknowledgement or notification, never counted as a flood, and dated by its
    ``Date:`` (``received_at``, see :func:`casegate.desk.reception.receive`).
    ``null_sender``: it came with ``MAIL FROM:<>`` (a delivery report, another program's
    mail): it reopens nothing and opens nothing unless a person recovers it.
    """

    intake: Intake | None
    queue_id: str
    original_recipient: str
    received_at: datetime
    mail: ParsedMail
    raw: bytes = field(default=b"", repr=False)
    mail_from: str = ""
    peer: str = ""
    spam: bool = False
    recovered: bool = False
    quiet: bool = False
    null_sender: bool = False

    def __post_init__(self) -> None:
        self.mail.sender, note = or_envelope_sender(self.mail.sender, self.mail_from)
        if note:
            self.mail.problems.append(note)

    @property
    def kind(self) -> str:
        return self.intake.kind if self.intake else Intake.CASE

    def filed_at(self, now: datetime) -> datetime:
        """When its new conversation and its message are dated: old mail keeps the time it
        was received, other mail is dated when it is filed."""
        return self.received_at if self.quiet else now


@dataclass
class Filed:
    """Where an arrival went, decided step by step as its batch is filed.

    ``hint`` and ``authorship``: what was read about the arrival before filing (what it
    says about its conversation; whether an agent wrote it). ``duplicate``: the message was
    stored before, so it is not stored again. ``conversation``: the case or lead it went to,
    ``created`` when that is new (``follows``: the closed case a new case continues), and
    ``message`` its stored message. ``author`` is set when an agent answered a notification
    by mail: the message is their reply (``direction`` outbound) or an internal note.
    ``unproven`` says why a message sent as an agent's answer was kept as customer mail.
    ``suspended``: the cause for which the arrival was set aside instead of opening a
    conversation (see :mod:`casegate.desk.filing.suspension`); it goes no further.
    """

    arrival: DeskArrival
    hint: ThreadHint
    authorship: Authorship = field(default_factory=Authorship)
    duplicate: bool = False
    conversation: Case | Lead | None = None
    follows: Case | None = None
    created: bool = False
    message: DeskMessage | None = None
    author: Any = None
    direction: str = DeskMessage.INBOUND
    unproven: str = ""
    suspended: str = ""
