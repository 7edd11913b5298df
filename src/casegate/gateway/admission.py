"""Admitting a message: the decisions every way in shares, from the end of DATA to the
durable write that lets the sender be told it is ours.

The SMTP and LMTP sessions, ``casegate deliver``, the mailbox fetcher and the importer all
hand a message over as an :class:`Arrival` (its content, its envelope sender and its routed
recipients); :meth:`Admission.admit` checks it for loops, authenticates the sender,
classifies it, plans one delivery per final recipient and stores it, and answers with the
SMTP reply the way in passes on (or turns into an exit code or a mailbox's status).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from casegate.config import Config
from casegate.desk.onward import kept_at_desk, reply_address_refusal
from casegate.directory.addresses import domain_of
from casegate.filtering.classifiers import (
    NOT_SPAM,
    REASON_LENGTH,
    Classifier,
    InboundMessage,
    SpamVerdict,
    classify,
)
from casegate.filtering.phishing import phishing_reason
from casegate.filtering.reports import spam_status_headers
from casegate.filtering.sender_auth import SenderAuthentication
from casegate.filtering.vocabulary import SpamAction
from casegate.mail.headers import HeaderFields, header_block, shown
from casegate.mail.senders import one_line
from casegate.maillog import address_text
from casegate.routing.engine import Routing, RoutingTable, Verdict
from casegate.signing import srs
from casegate.spool.messages import AcceptedMessage, DeliveryRow, QuarantineRow, new_queue_id
from casegate.spool.store import DurableStore
from casegate.spool.vocabulary import FOREIGN_SOURCES, Source
from casegate.text import storable

log = logging.getLogger("casegate.gateway")

MAX_HOPS = 30
# The header section's limit (Exim's header_maxsize): real mail's is a few kilobytes, and
# every reading of the message, here and at the desk, goes through it.
MAX_HEADER_SECTION = 1024 * 1024


@dataclass
class Arrival:
    """A message handed over by one of the ways in, with what it knows of its sender.

    ``routings``: each recipient accepted, routed (see :func:`route`); ``notices``: their
    DSN NOTIFY and ORCPT, in the same order. ``peer`` and ``helo``: the client that sent it
    (``peer`` None for a local program); ``trusted``: whether that client is in the trusted
    networks, so the sender is not authenticated. ``protocol``: the Received header's
    ``with``. ``origin``: where a copy that can come again came from (a mailbox's message,
    an imported file); ``quiet``: filed without acknowledgement or notification; ``checked``
    False: stored without classification (old mail being imported)."""

    content: bytes
    mail_from: str
    table: RoutingTable
    routings: list[Routing]
    peer: str | None = None
    helo: str = ""
    trusted: bool = True
    protocol: str = "ESMTP"
    source: Source = Source.SMTP
    notices: list[tuple[str, str]] = field(default_factory=list)
    ret: str = ""
    envid: str = ""
    origin: str = ""
    quiet: bool = False
    checked: bool = True
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def recipients(self) -> list[str]:
        return [r.recipient for r in self.routings]


@dataclass(frozen=True)
class Admitted:
    """The answer to an arrival: an SMTP reply, and the queue id when it was stored.
    ``refuses_recipient``: a recipient is refused whoever sends to it (no such address, say),
    not for this message's sender."""

    reply: str
    queue_id: str = ""
    refuses_recipient: bool = False

    @property
    def code(self) -> int:
        return int(self.reply[:3])

    @property
    def stored(self) -> bool:
        return self.code == 250


def route(address: str, table: RoutingTable, spam: bool = False, sender: str = "",
          releasing: bool = False) -> Routing:
    """The routing table's answer, except for a bounce to an SRS address we made, which
    goes back to the original sender; ``releasing`` from quarantine lifts its rules."""
    if not srs.is_srs(address) or domain_of(address).lower() not in table.domains:
        return table.route(address, spam=spam, releasing=releasing, sender=sender)
    original = srs.reverse_srs(address)
    targets = table.targets_for(original.lower()) if original else ()
    if not targets:
        return Routing(address, Verdict.UNKNOWN_USER,
                       reason="not a valid SRS address of ours (or it has expired)")
    if spam:  # never passed on to the outside, as for any address that is not an account
        return Routing(address, Verdict.QUARANTINE,
                       reason=f"classified as spam; a bounce for {original}")
    return Routing(address, Verdict.ACCEPT, targets=targets)


def recipient_refusal(routing: Routing) -> str:
    """The reply that refuses a recipient the routing table does not take, else ``""``."""
    address = routing.recipient
    if routing.verdict is Verdict.INVALID:
        return f"553 5.1.3 <{address}>: {routing.reason}"
    if routing.verdict is Verdict.RELAY_DENIED:
        return (f"550 5.7.1 <{address}>: Relay access denied;"
                " this server only takes mail for its own domains")
    if routing.verdict is Verdict.UNKNOWN_USER:
        return f"550 5.1.1 <{address}>: Recipient address rejected: no such user here"
    if routing.verdict is Verdict.REJECT:
        return f"550 5.7.1 <{address}>: {routing.reason}"
    return ""


def verdict_refusal(verdict: SpamVerdict) -> str:
    """The reply that refuses a message at the end of DATA, or ``""`` to accept it: a
    rejection is final (550), a soft rejection, greylisting or a filter that did not answer
    asks the sender to try again (451). The filter's own words are used when it has any."""
    said = "".join(c for c in one_line(verdict.reply) if c.isprintable())[:300]
    if verdict.action == SpamAction.REJECT:
        return f"550 5.7.1 {said or f'Message rejected as spam ({verdict.reason})'}"
    if verdict.action == SpamAction.SOFT_REJECT:
        return f"451 4.7.1 {said or 'Message not accepted for now'}; try again later"
    if verdict.action == SpamAction.GREYLIST:
        return f"451 4.7.1 {said or 'Greylisted'}; try again later"
    if verdict.action == SpamAction.TEMPFAIL:
        return "451 4.7.1 The spam filter is not answering; try again later"
    return ""


def received_header(arrival: Arrival, queue_id: str, hostname: str) -> bytes:
    helo = arrival.helo.replace("\r", "").replace("\n", "")[:200] or "unknown"
    client = f"{helo} ([{arrival.peer}])" if arrival.peer else helo
    recipients = arrival.recipients
    recipient = f"\r\n\tfor <{recipients[0]}>" if len(recipients) == 1 else ""
    text = (
        f"Received: from {client}\r\n\tby {hostname} (casegate) with {arrival.protocol}"
        f" id {queue_id}{recipient};\r\n\t{format_datetime(arrival.received_at)}\r\n"
    )
    return text.encode("utf-8", errors="replace")


class Admission:
    """The checks and the durable write every way in shares (see the module)."""

    def __init__(self, config: Config, classifiers: list[Classifier],
                 store: DurableStore) -> None:
        self.config = config
        self.classifiers = classifiers
        self.store = store
        self.sender_auth = SenderAuthentication(config)

    def _looping(self, headers: HeaderFields) -> str:
        hops = len(headers.get_all("Received"))
        if hops >= MAX_HOPS:
            return (f"554 5.4.6 Too many hops: {hops} Received headers; this looks like a mail"
                    " loop")
        if self.config.hostname in headers.get_all("X-Casegate-Loop"):
            return ("554 5.4.6 Mail loop: this message already passed through"
                    f" {self.config.hostname}")
        return ""

    async def admit(self, arrival: Arrival) -> Admitted:
        """Store ``arrival`` and answer 250 with its queue id, or answer why not (nothing is
        kept then)."""
        content = arrival.content
        queue_id = new_queue_id()
        if len(header_block(content)) > MAX_HEADER_SECTION:
            return Admitted(f"552 5.3.4 Message header section too big: the limit is"
                            f" {MAX_HEADER_SECTION} bytes")
        headers = HeaderFields(content)
        # Old mail is imported once, and what this host relayed long ago is history too.
        if arrival.source != Source.IMPORT and (refusal := self._looping(headers)):
            return Admitted(refusal)
        mail_from = arrival.mail_from
        checked = await self.sender_auth.check(content, arrival.peer, arrival.trusted,
                                               mail_from, arrival.helo, arrival.table.domains,
                                               arrival.source in FOREIGN_SOURCES)
        if checked.refusal:
            log.info("queue=%s rejected reason=dmarc domain=%s from=%s client=%s", queue_id,
                     checked.report.dmarc.domain if checked.report else "",
                     address_text(mail_from), arrival.peer)
            return Admitted(checked.refusal)
        verdict = NOT_SPAM
        if arrival.checked:
            verdict = await classify(
                InboundMessage(content, headers, arrival.peer, arrival.trusted, mail_from,
                               tuple(arrival.recipients), arrival.helo, queue_id),
                self.classifiers,
            )
        refused = verdict_refusal(verdict)
        if refused:
            log.info("queue=%s refused from=%s client=%s classifier=%s action=%s reason=%r",
                     queue_id, address_text(mail_from), arrival.peer, verdict.classifier,
                     verdict.action, verdict.reason)
            return Admitted(refused)
        verdict = checked.verdict(verdict)
        raw = (checked.field + received_header(arrival, queue_id, self.config.hostname)
               + checked.content)
        message = AcceptedMessage(
            queue_id=queue_id, mail_from=mail_from, rcpt_tos=arrival.recipients,
            received_at=arrival.received_at, peer=arrival.peer or "",
            helo=storable(arrival.helo[:255]),
            message_id=storable((headers.get("Message-ID") or "")[:998]),
            subject=shown(headers, "Subject"), from_header=shown(headers, "From"),
            spam=verdict.spam, spam_reason=verdict.reason[:REASON_LENGTH], raw=raw,
            dsn_ret=arrival.ret, dsn_envid=arrival.envid, auth_results=checked.results,
            spam_report=verdict.report(), source=arrival.source, origin=arrival.origin,
            quiet=arrival.quiet,
        )
        routings = arrival.routings
        if verdict.spam:
            routings = [route(r, arrival.table, spam=True, sender=mail_from)
                        for r in arrival.recipients]
        refused = reply_address_refusal(message.rcpt_tos, headers, arrival.table)
        if refused:
            return Admitted(refused)
        routings = kept_at_desk(routings, headers, mail_from, arrival.table, queue_id)
        plan_deliveries(message, routings, arrival.notices,
                        phishing_reason(headers) if any(r.edits.spam_headers for r in routings)
                        else "")
        try:
            await self.store.save(message)
        except Exception:
            return Admitted("451 4.3.0 Temporary failure storing the message;"
                            " nothing was kept, try again later")
        log.info("queue=%s accepted from=%s client=%s source=%s rcpts=%d deliveries=%d"
                 " quarantined=%d spam=%s action=%s", queue_id, address_text(message.mail_from),
                 message.peer, arrival.source, len(message.rcpt_tos), len(message.deliveries),
                 len(message.quarantine), message.spam, verdict.action)
        return Admitted(f"250 2.0.0 Ok: queued as {queue_id}", queue_id)


def plan_deliveries(message: AcceptedMessage, routings: list[Routing],
                    dsn: list[tuple[str, str]] | None = None, phishing: str = "") -> None:
    """One delivery per distinct final recipient; held mail goes to quarantine, never away.

    ``dsn`` holds each recipient's DSN NOTIFY and ORCPT, in the order of ``routings``.
    """
    planned: dict[tuple[str, str], DeliveryRow] = {}
    spam_details = (spam_status_headers(message.spam_report, message.spam)
                    if any(r.edits.spam_headers for r in routings) else ())
    for index, routing in enumerate(routings):
        notify, orcpt = dsn[index] if dsn else ("", "")
        if routing.verdict is Verdict.ACCEPT:
            edits = routing.edits.written(routing.recipient, message.spam, message.spam_reason,
                                          phishing, spam_details)
            for target in routing.targets:
                key = (target.address, target.kind.value)
                if key in planned:  # one copy, with what every path to it asks for
                    planned[key].edits = planned[key].edits.merged(edits)
                    continue
                planned[key] = DeliveryRow(routing.recipient, target.address, target.kind.value,
                                           target.intake_id, routing.junk, list(routing.rules),
                                           target.relay, notify, orcpt, edits)
                message.deliveries.append(planned[key])
        else:
            reason = routing.reason or "no route for this recipient"
            message.quarantine.append(QuarantineRow(routing.recipient, reason, notify, orcpt))
