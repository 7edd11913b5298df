"""The SMTP conversation's decisions: who may receive mail, and what happens at DATA."""

from __future__ import annotations

import asyncio
import inspect
import logging

from aiosmtpd.smtp import SMTP, Envelope, Session

from casegate.config import Config
from casegate.filtering.classifiers import Classifier
from casegate.filtering.dnsbl import Blocklists
from casegate.gateway.admission import Admission, Arrival, recipient_refusal, route
from casegate.gateway.limits import RateLimiter
from casegate.gateway.transaction import SessionState, Transaction
from casegate.routing.engine import Routing, RoutingTable
from casegate.routing.snapshot import TableCache
from casegate.spool.store import DurableStore
from casegate.spool.vocabulary import Source
from casegate.text import malformed

log = logging.getLogger("casegate.gateway")

NEEDS_SMTPUTF8 = ("553 5.6.7 A non-ASCII address needs the SMTPUTF8 extension"
                  " (MAIL FROM:<…> SMTPUTF8), or its domain in ASCII (xn--) form")
MAX_PATH = 320  # local part (64) + @ + domain (253), rounded up to the stored column


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
                 classifiers: list[Classifier], source: Source = Source.SMTP) -> None:
        self.config = config
        self.tables = tables
        self.admission = Admission(config, classifiers, store)
        self.limits = RateLimiter()
        self.blocklists = Blocklists(config)
        # LMTP names itself in the Received header; SMTP says which extensions were used.
        self.source = source
        self.protocol = "LMTP" if source == Source.LMTP else ""

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
        if malformed(address):
            return ("553 5.1.7 The sender address holds control characters or bytes that are"
                    " not UTF-8")
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
        if malformed(address):
            return ("553 5.1.3 The recipient address holds control characters or bytes that"
                    " are not UTF-8")
        if not address.isascii() and not envelope.smtp_utf8:
            return NEEDS_SMTPUTF8
        transaction = _open(server)
        routing = route(address, transaction.table, sender=envelope.mail_from or "")
        refused = recipient_refusal(routing)
        if refused:
            return refused
        refused = (await self._blocklisted(server, session)
                   or self._over_limit(session, routing, server.trusted))
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
            server.client_listing = ("" if server.trusted
                                     else await self.blocklists.listing(ip))
            if server.client_listing:
                log.info("client=%s rejected reason=dnsbl zone=%s", ip, server.client_listing)
        if not server.client_listing:
            return ""
        return (f"554 5.7.1 Service unavailable; client [{ip}] blocked using"
                f" {server.client_listing}")

    def _over_limit(self, session: Session, routing: Routing, trusted: bool) -> str:
        """The 451 reply when the client or the recipient is over its rate, else ``""``.

        A client's rate counts its accepted RCPT commands, whether a message follows or
        not (as Postfix's smtpd_client_recipient_rate_limit); a recipient's counts the
        messages it was given, at DATA (:meth:`_count_messages`)."""
        ip = session.peer[0] if isinstance(session.peer, tuple) else ""
        client_rate = self.config.client_rate
        if client_rate and not trusted and not self.limits.allow(
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

    async def handle_DATA(self, server: SessionState, session: Session, envelope: Envelope
                          ) -> str:
        transaction = _open(server)
        peer_ip = session.peer[0] if isinstance(session.peer, tuple) else None
        protocol = "ESMTPS" if session.ssl else ("ESMTP" if session.extended_smtp else "SMTP")
        if envelope.smtp_utf8:
            protocol = "UTF8SMTPS" if session.ssl else "UTF8SMTP"
        admitted = await self.admission.admit(Arrival(
            envelope.original_content or b"",
            "" if envelope.mail_from == "<>" else envelope.mail_from or "",
            transaction.table, transaction.routings, peer_ip, session.host_name or "",
            server.trusted, self.protocol or protocol, self.source,
            transaction.notices, transaction.ret, transaction.envid,
        ))
        if admitted.stored:
            self._count_messages(transaction.routings)
        return admitted.reply

    async def handle_exception(self, error: Exception) -> str:
        log.exception("SMTP session failed", exc_info=error)
        return "451 4.3.0 Temporary local problem; try again later"


# aiosmtpd tells the old EHLO hook from the new by its signature, read again for every new
# session; a function that carries its signature spares inspect working it out each time.
GatewayHandler.handle_EHLO.__signature__ = (  # type: ignore[attr-defined]
    inspect.signature(GatewayHandler.handle_EHLO))
