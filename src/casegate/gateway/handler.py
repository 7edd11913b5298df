"""The SMTP conversation's decisions: who may receive mail, and what happens at DATA."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import format_datetime

from aiosmtpd.smtp import SMTP, Envelope, Session

from casegate.config import Config
from casegate.desk.onward import kept_at_desk, reply_address_refusal
from casegate.directory.addresses import domain_of
from casegate.filtering.classifiers import (
    REASON_LENGTH,
    Classifier,
    InboundMessage,
    SpamVerdict,
    classify,
)
from casegate.filtering.dnsbl import Blocklists
from casegate.filtering.phishing import phishing_reason
from casegate.filtering.reports import spam_status_headers
from casegate.filtering.sender_auth import SenderAuthentication
from casegate.filtering.vocabulary import SpamAction
from casegate.gateway.limits import RateLimiter
from casegate.gateway.transaction import SessionState, Transaction
from casegate.mail.headers import HeaderFields, shown
from casegate.mail.senders import one_line
from casegate.routing.engine import Routing, RoutingTable, Verdict
from casegate.routing.snapshot import TableCache
from casegate.signing import srs
from casegate.spool.messages import AcceptedMessage, DeliveryRow, QuarantineRow, new_queue_id
from casegate.spool.store import DurableStore

log = logging.getLogger("casegate.gateway")

MAX_HOPS = 30
NEEDS_SMTPUTF8 = ("553 5.6.7 A non-ASCII address needs the SMTPUTF8 extension"
                  " (MAIL FROM:<…> SMTPUTF8), or its domain in ASCII (xn--) form")
MAX_PATH = 320  # local part (64) + @ + domain (253), rounded up to the stored column


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


def received_header(session: Session, envelope: Envelope, queue_id: str, hostname: str,
                    when: datetime) -> bytes:
    helo = (session.host_name or "unknown").replace("\r", "").replace("\n", "")[:200]
    ip = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
    protocol = "ESMTPS" if session.ssl else ("ESMTP" if session.extended_smtp else "SMTP")
    if envelope.smtp_utf8:
        protocol = "UTF8SMTPS" if session.ssl else "UTF8SMTP"
    recipient = f"\r\n\tfor <{envelope.rcpt_tos[0]}>" if len(envelope.rcpt_tos) == 1 else ""
    text = (
        f"Received: from {helo} ([{ip}])\r\n\tby {hostname} (casegate) with {protocol}"
        f" id {queue_id}{recipient};\r\n\t{format_datetime(when)}\r\n"
    )
    return text.encode("utf-8", errors="replace")


def _open(server: SessionState) -> Transaction:
    """The transaction a RCPT or DATA belongs to: aiosmtpd passes them on only after a
    MAIL FROM this handler accepted."""
    if server.transaction is None:
        raise RuntimeError("RCPT or DATA without an accepted MAIL FROM")
    return server.transaction


class GatewayHandler:
    """aiosmtpd handler hooks: routing decisions at RCPT, durable storage at DATA."""

    _HOOKS = ("handle_EHLO", "handle_MAIL", "handle_RCPT", "handle_DATA", "handle_exception")

    def __dir__(self) -> list[str]:
        # aiosmtpd scans dir(handler) for hooks and auth_* methods on every new session.
        return list(self._HOOKS)

    def __init__(self, config: Config, tables: TableCache, store: DurableStore,
                 classifiers: list[Classifier]) -> None:
        self.config = config
        self.tables = tables
        self.store = store
        self.classifiers = classifiers
        self.limits = RateLimiter()
        self.sender_auth = SenderAuthentication(config)
        self.blocklists = Blocklists(config)

    async def _table(self) -> RoutingTable:
        if self.tables.needs_reload():
            return await asyncio.to_thread(self.tables.reload)
        return self.tables.table

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        # aiosmtpd offers AUTH after STARTTLS even with no mechanism to offer.
        responses = [line for line in responses if not line.startswith("250-AUTH")]
        responses[-1:-1] = ["250-PIPELINING", "250-ENHANCEDSTATUSCODES", "250-DSN"]
        return responses

    async def handle_MAIL(self, server: SessionState, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        try:
            table = await self._table()
        except Exception:
            log.exception("cannot read the routing table")
            return "451 4.3.0 Temporary failure reading the routing table; try again later"
        dsn = server.dsn_parameters
        if dsn.keys() & {"NOTIFY", "ORCPT"}:
            return "555 5.5.4 NOTIFY and ORCPT belong on RCPT TO, not MAIL FROM"
        ret = dsn.get("RET", "").upper()
        if ret not in ("", "FULL", "HDRS"):
            return "501 5.5.4 RET must be FULL or HDRS"
        envid = dsn.get("ENVID", "")
        if len(envid) > 100 or any(not 0x21 <= ord(c) <= 0x7E for c in envid):
            return "501 5.5.4 ENVID must be at most 100 printable ASCII characters"
        if len(address) > MAX_PATH:
            return f"553 5.1.7 The sender address is longer than {MAX_PATH} characters"
        if not address.isascii() and not envelope.smtp_utf8:
            return NEEDS_SMTPUTF8
        server.transaction = Transaction(table, ret, envid)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender ok"

    async def handle_RCPT(self, server: SessionState, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= self.config.max_recipients:
            return (
                f"452 4.5.3 Too many recipients: at most {self.config.max_recipients} per message;"
                " send the rest in another transaction"
            )
        dsn = server.dsn_parameters
        if dsn.keys() & {"RET", "ENVID"}:
            return "555 5.5.4 RET and ENVID belong on MAIL FROM, not RCPT TO"
        notify = dsn.get("NOTIFY", "").upper()
        words = set(notify.split(",")) if notify else set()
        if words and not (words == {"NEVER"} or words <= {"SUCCESS", "FAILURE", "DELAY"}):
            return "501 5.5.4 NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY"
        notify = ",".join(sorted(words))
        orcpt = dsn.get("ORCPT", "")
        if orcpt and (";" not in orcpt or len(orcpt) > 500
                      or any(not 0x20 <= ord(c) <= 0x7E for c in orcpt)):
            return "501 5.5.4 ORCPT must look like rfc822;user@example.com"
        if len(address) > MAX_PATH:
            return f"553 5.1.3 The recipient address is longer than {MAX_PATH} characters"
        if not address.isascii() and not envelope.smtp_utf8:
            return NEEDS_SMTPUTF8
        transaction = _open(server)
        routing = self._route(address, transaction.table, sender=envelope.mail_from or "")
        if routing.verdict is Verdict.INVALID:
            return f"553 5.1.3 <{address}>: {routing.reason}"
        if routing.verdict is Verdict.RELAY_DENIED:
            return (f"550 5.7.1 <{address}>: Relay access denied;"
                    " this server only takes mail for its own domains")
        if routing.verdict is Verdict.UNKNOWN_USER:
            return f"550 5.1.1 <{address}>: Recipient address rejected: no such user here"
        if routing.verdict is Verdict.REJECT:
            return f"550 5.7.1 <{address}>: {routing.reason}"
        refused = await self._blocklisted(server, session) or self._over_limit(session, routing)
        if refused:
            return refused
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        transaction.accept(routing, notify, orcpt)
        return "250 2.1.5 Recipient ok"

    async def _blocklisted(self, server: SessionState, session: Session) -> str:
        """The 554 reply when a DNS block list lists the client, else ``""``; asked once per
        session, at its first recipient (Postfix's reject_rbl_client)."""
        ip = session.peer[0] if isinstance(session.peer, tuple) else ""
        if server.client_listing is None:
            trusted = self.config.is_trusted(ip)
            server.client_listing = "" if trusted else await self.blocklists.listing(ip)
            if server.client_listing:
                log.info("client=%s rejected reason=dnsbl zone=%s", ip, server.client_listing)
        if not server.client_listing:
            return ""
        return (f"554 5.7.1 Service unavailable; client [{ip}] blocked using"
                f" {server.client_listing}")

    def _over_limit(self, session: Session, routing: Routing) -> str:
        """The 451 reply when the client or the recipient is over its rate, else ``""``.

        A client's rate counts its accepted RCPT commands, whether a message follows or
        not (as Postfix's smtpd_client_recipient_rate_limit); a recipient's counts the
        messages it was given, at DATA (:meth:`_count_messages`)."""
        ip = session.peer[0] if isinstance(session.peer, tuple) else ""
        client_rate = self.config.client_rate
        if client_rate and not self.config.is_trusted(ip) and not self.limits.allow(
                f"client {ip}", client_rate):
            return (f"451 4.7.1 Too much mail from {ip}: at most {client_rate}"
                    f" recipient{'s' if client_rate != 1 else ''} a minute; try again later")
        rate = self._recipient_rate(routing)
        if rate and self.limits.reached(f"rcpt {routing.recipient}", rate):
            return (f"451 4.7.1 <{routing.recipient}>: this address takes at most {rate}"
                    f" message{'s' if rate != 1 else ''} a minute; try again later")
        return ""

    def _recipient_rate(self, routing: Routing) -> int:
        return routing.rate_limit or self.config.recipient_rate

    def _count_messages(self, routings: list[Routing]) -> None:
        """One message for each rate-limited recipient of a message just accepted."""
        for recipient in {r.recipient for r in routings if self._recipient_rate(r)}:
            self.limits.count(f"rcpt {recipient}")

    @staticmethod
    def _route(address: str, table: RoutingTable, spam: bool = False, sender: str = ""
               ) -> Routing:
        """The routing table's answer, except for a bounce to an SRS address we made,
        which goes back to the original sender."""
        if not srs.is_srs(address) or domain_of(address).lower() not in table.domains:
            return table.route(address, spam=spam, sender=sender)
        original = srs.reverse_srs(address)
        targets = table.targets_for(original.lower()) if original else ()
        if not targets:
            return Routing(address, Verdict.UNKNOWN_USER,
                           reason="not a valid SRS address of ours (or it has expired)")
        return Routing(address, Verdict.ACCEPT, targets=targets)

    async def handle_DATA(self, server: SessionState, session: Session, envelope: Envelope
                          ) -> str:
        transaction = _open(server)
        table = transaction.table
        content = envelope.original_content or b""
        received_at = datetime.now(UTC)
        queue_id = new_queue_id()
        peer_ip = session.peer[0] if isinstance(session.peer, tuple) else None
        headers = HeaderFields(content)
        hops = len(headers.get_all("Received"))
        if hops >= MAX_HOPS:
            return f"554 5.4.6 Too many hops: {hops} Received headers; this looks like a mail loop"
        if self.config.hostname in headers.get_all("X-Casegate-Loop"):
            return ("554 5.4.6 Mail loop: this message already passed through"
                    f" {self.config.hostname}")
        mail_from = "" if envelope.mail_from == "<>" else envelope.mail_from or ""
        trusted = self.config.is_trusted(peer_ip)
        checked = await self.sender_auth.check(content, peer_ip, trusted, mail_from,
                                               session.host_name or "", table.domains)
        if checked.refusal:
            log.info("queue=%s rejected reason=dmarc domain=%s from=<%s> client=%s", queue_id,
                     checked.report.dmarc.domain if checked.report else "", mail_from, peer_ip)
            return checked.refusal
        verdict = await classify(
            InboundMessage(content, headers, peer_ip, trusted, mail_from,
                           tuple(envelope.rcpt_tos), session.host_name or "", queue_id),
            self.classifiers,
        )
        refused = verdict_refusal(verdict)
        if refused:
            log.info("queue=%s refused from=<%s> client=%s classifier=%s action=%s reason=%r",
                     queue_id, mail_from, peer_ip, verdict.classifier, verdict.action,
                     verdict.reason)
            return refused
        verdict = checked.verdict(verdict)
        raw = checked.field + received_header(session, envelope, queue_id,
                                              self.config.hostname, received_at)
        raw += checked.content
        message = AcceptedMessage(
            queue_id=queue_id,
            mail_from=mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            received_at=received_at,
            peer=peer_ip or "",
            helo=(session.host_name or "")[:255],
            message_id=(headers.get("Message-ID") or "")[:998],
            subject=shown(headers, "Subject"), from_header=shown(headers, "From"),
            spam=verdict.spam,
            spam_reason=verdict.reason[:REASON_LENGTH],
            raw=raw,
            dsn_ret=transaction.ret,
            dsn_envid=transaction.envid,
            auth_results=checked.results,
            spam_report=verdict.report(),
        )
        routings = transaction.routings
        if verdict.spam:
            routings = [self._route(r, table, spam=True, sender=message.mail_from)
                        for r in envelope.rcpt_tos]
        refused = reply_address_refusal(message.rcpt_tos, headers, table)
        if refused:
            return refused
        routings = kept_at_desk(routings, headers, message.mail_from, table, queue_id)
        plan_deliveries(message, routings, transaction.notices,
                        phishing_reason(headers) if any(r.edits.spam_headers for r in routings)
                        else "")
        try:
            await self.store.save(message)
        except Exception:
            return ("451 4.3.0 Temporary failure storing the message;"
                    " nothing was kept, try again later")
        self._count_messages(transaction.routings)
        log.info("queue=%s accepted from=<%s> client=%s rcpts=%d deliveries=%d quarantined=%d"
                 " spam=%s action=%s", queue_id, message.mail_from, message.peer,
                 len(message.rcpt_tos), len(message.deliveries), len(message.quarantine),
                 message.spam, verdict.action)
        return f"250 2.0.0 Ok: queued as {queue_id}"

    async def handle_exception(self, error: Exception) -> str:
        log.exception("SMTP session failed", exc_info=error)
        return "451 4.3.0 Temporary local problem; try again later"


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
