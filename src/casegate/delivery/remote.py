"""Sending to remote SMTP hosts: transport map or MX lookup, then aiosmtplib (or LMTP)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import random
import smtplib
import socket
import ssl
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

import aiosmtplib
import dns.exception
import dns.resolver
from django.utils import timezone

from casegate.config import get_config
from casegate.mail.xtext import xtext_encode
from casegate.nameservers import resolver
from casegate.outbound_tls.dane import Tlsa, mismatch, signed_host, tlsa_records
from casegate.outbound_tls.mta_sts import Policies, Policy
from casegate.outbound_tls.trust import unverified_context, verifying_context
from casegate.outbound_tls.vocabulary import PolicyMode
from casegate.spool.queue import Claimed

log = logging.getLogger("casegate.delivery")


CONNECT_TIMEOUT = 30.0
COMMAND_TIMEOUT = 300.0


class Status(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    REFUSED = "refused"
    # Never handed to a server (no connection slot before the deadline): due again at once.
    NOT_TRIED = "not-tried"


@dataclass(frozen=True)
class Result:
    item: Claimed
    status: Status
    reply: str
    host: str = ""
    started_at: datetime | None = None
    duration: float = 0.0


@dataclass(frozen=True)
class Hop:
    host: str
    port: int
    protocol: str = "smtp"
    # A route, transport or rule that requires TLS: verified TLS, or the message waits.
    require_tls: bool = False
    # The MTA-STS policy of the recipient's domain, for an MX host it lists.
    policy: Policy | None = None

    def __str__(self) -> str:
        return f"{self.protocol}:{self.host}:{self.port}"


@dataclass(frozen=True)
class TransportEntry:
    host: str
    port: int
    require_tls: bool = False


class RouteError(Exception):
    def __init__(self, reply: str, permanent: bool) -> None:
        super().__init__(reply)
        self.reply = reply
        self.permanent = permanent


def parse_relay(relay: str) -> Hop:
    protocol, _, rest = relay.partition(":")
    host, _, port = rest.rpartition(":")
    return Hop(host.strip("[]"), int(port), protocol)


async def mx_hops(domain: str) -> list[Hop]:
    """MX hosts by preference; the domain itself when it has none; an error for null MX."""
    try:
        answer = await resolver().resolve(domain, "MX")
    except dns.resolver.NXDOMAIN:
        raise RouteError(f"5.1.2 domain {domain} does not exist", permanent=True) from None
    except dns.resolver.NoAnswer:
        await _has_address(domain)
        return [Hop(domain, get_config().remote_smtp_port)]
    except dns.exception.DNSException as exc:
        raise _lookup_failed(domain, exc) from None
    records = list(answer)
    random.shuffle(records)  # hosts of one preference share the load (RFC 5321 5.1)
    records.sort(key=lambda r: r.preference)
    if len(records) == 1 and str(records[0].exchange) == ".":
        raise RouteError(f"5.1.10 {domain} accepts no mail (null MX)", permanent=True)
    port = get_config().remote_smtp_port
    return [Hop(str(r.exchange).rstrip("."), port) for r in records]


async def _has_address(domain: str) -> None:
    """A domain without MX takes mail at its own address (RFC 5321 5.1); one with none
    takes no mail at all, which no retry changes."""
    for kind in ("A", "AAAA"):
        try:
            await resolver().resolve(domain, kind)
            return
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            continue
        except dns.exception.DNSException as exc:
            raise _lookup_failed(domain, exc) from None
    raise RouteError(f"5.1.2 {domain} has neither MX nor address records", permanent=True)


def _lookup_failed(domain: str, exc: dns.exception.DNSException) -> RouteError:
    """A lookup that failed, not one that answered no: a retry may succeed."""
    return RouteError(f"4.4.3 DNS lookup for {domain} failed: {exc}", permanent=False)


# The MTA-STS policies of recipient domains, kept by this worker for their max_age.
POLICIES = Policies()


async def under_policy(domain: str, hops: list[Hop]) -> list[Hop]:
    """The MX hosts ``domain``'s MTA-STS policy lets mail go to, each carrying the policy:
    in ``enforce`` mode only the hosts it lists (none: the mail waits), in ``testing`` mode
    all, those it does not list logged."""
    policy, problem = await POLICIES.for_domain(domain)
    if problem:
        log.warning("mta-sts=unavailable domain=%s reason=%s", domain, problem)
    if policy is None or policy.mode == PolicyMode.NONE:
        return hops
    listed = [hop for hop in hops if policy.allows(hop.host)]
    for hop in hops:
        if hop not in listed:
            log.warning("mta-sts=%s domain=%s host=%s failure=not-listed mx=%s", policy.mode,
                        domain, hop.host, ",".join(policy.mx))
    if policy.mode == PolicyMode.ENFORCE:
        if not listed:
            raise RouteError(f"4.7.5 no MX host of {domain} ({', '.join(h.host for h in hops)})"
                             f" is listed in its MTA-STS policy (mx: {', '.join(policy.mx)});"
                             " the message waits", permanent=False)
        hops = listed
    return [replace(hop, policy=policy) for hop in hops]


async def hops_for(item: Claimed, transports: dict[str, TransportEntry]) -> list[Hop]:
    """Where the item goes: its rule's route or the domain's mail store, the transport map,
    else MX. A rule that requires TLS makes every hop require it."""
    domain = item.recipient.rpartition("@")[2]
    entry = transports.get(domain)
    if item.relay:
        hops = [parse_relay(item.relay)]
    elif entry is not None:
        hops = [Hop(entry.host, entry.port, require_tls=entry.require_tls)]
    else:
        hops = await under_policy(domain, await mx_hops(domain))
    if item.edits.require_tls:
        hops = [replace(hop, require_tls=True) for hop in hops]
    return hops


def outgoing(item: Claimed, raw: bytes, loop_marker: str) -> bytes:
    """The message as it leaves: headers prepended only, so DKIM signatures stay valid."""
    header = f"X-Casegate-Loop: {loop_marker}\r\nX-Original-To: {item.original_recipient}\r\n"
    if item.junk:
        header += "X-Spam-Flag: YES\r\n"
    return header.encode("utf-8") + raw


def _reply_text(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"


class NeedsSmtpUtf8(Exception):
    """The next hop does not offer SMTPUTF8, which an address of the message needs."""


def _classify_error(exc: BaseException, hop: Hop) -> tuple[Status, str]:
    """A 5xx reply refuses the message for good; anything else is worth another try."""
    code: int | None = None
    text = ""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        code, text = exc.recipients[0].code, exc.recipients[0].message
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        code, text = exc.code, exc.message
    elif isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, refusal = next(iter(exc.recipients.values()))
        text = refusal.decode("utf-8", "replace")
    elif isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        error = exc.smtp_error
        text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    if isinstance(exc, aiosmtplib.SMTPNotSupported | NeedsSmtpUtf8):
        return Status.REFUSED, f"5.6.7 {hop.host} cannot take this message: {exc}"
    if code is None:
        return Status.DEFERRED, f"4.4.1 cannot deliver to {hop}: {type(exc).__name__}: {exc}"
    status = Status.REFUSED if 500 <= code < 600 else Status.DEFERRED
    return status, f"{hop.host} said: {_reply_text(code, text)}"


class TLSUnavailable(Exception):
    """The hop must be reached over TLS and offers none."""


class _UnverifiedUnderTesting(Exception):
    """The certificate fails an MTA-STS policy in ``testing`` mode: report, still deliver."""


class _TlsaLookupFailed(Exception):
    """The validating resolver could not say whether the hop publishes TLSA records."""


async def _dane(hop: Hop) -> tuple[Tlsa, ...]:
    """The hop's DNSSEC-validated TLSA records (none for an address). For a host in a signed
    zone a lookup that fails (a bogus answer is a SERVFAIL) is no "none" (RFC 7672 section
    2.1.1): it raises; elsewhere the host is taken to have none."""
    if hop.protocol != "smtp" or _is_address(hop.host):
        return ()
    try:
        return await tlsa_records(hop.host, hop.port)
    except dns.exception.DNSException as exc:
        log.warning("relay=%s dane=unavailable reason=%s", hop, _error(exc))
        if await signed_host(hop.host):
            raise _TlsaLookupFailed(_error(exc)) from None
        return ()


def _why_tls(hop: Hop, tlsa: tuple[Tlsa, ...]) -> str:
    """Why the hop must be reached over TLS; "" when TLS is opportunistic there."""
    if tlsa:
        return f"{hop.host} publishes DANE TLSA records"
    if hop.policy is not None and hop.policy.mode == PolicyMode.ENFORCE:
        return f"the MTA-STS policy of {hop.policy.domain} is enforced"
    if hop.require_tls:
        return "the route requires TLS"
    return ""


async def _secure(client: aiosmtplib.SMTP, hop: Hop) -> str:
    """STARTTLS on ``client`` as the hop demands; why the message must wait, or "".

    Opportunistic TLS (Postfix's ``may``) checks no certificate. DANE records the resolver
    validated (usages 2 and 3) are checked against the chain and win over MTA-STS (RFC 8461
    section 2); a route requiring TLS or an MTA-STS policy has the certificate verified for
    the host's name against CASEGATE_TLS_CA_FILE (else the system's authorities)."""
    try:
        tlsa = await _dane(hop)
    except _TlsaLookupFailed as exc:
        return f"4.4.3 the TLSA lookup for {hop.host} failed ({exc}); the message waits"
    why = _why_tls(hop, tlsa)
    if not client.supports_extension("starttls"):
        if hop.policy is not None and not why:
            log.warning("mta-sts=testing domain=%s host=%s failure=no-starttls",
                        hop.policy.domain, hop.host)
        return (f"4.7.10 TLS is required for {hop.host} ({why}), which does not offer"
                " STARTTLS; the message waits") if why else ""
    usable = tuple(record for record in tlsa if record.usable)
    verify = not usable and (hop.require_tls or hop.policy is not None)
    try:
        await client.starttls(tls_context=verifying_context() if verify
                              else unverified_context(), server_hostname=hop.host)
    except Exception as exc:
        failure = _certificate_failure(exc)
        if verify and failure:
            # Only a route requiring TLS or an enforced policy waits for a certificate that
            # verifies; under a testing policy (unusable TLSA records or none) it is reported.
            if not (hop.require_tls or hop.policy is None
                    or hop.policy.mode == PolicyMode.ENFORCE):
                raise _UnverifiedUnderTesting(f"certificate: {failure}") from None
            return (f"4.7.5 the certificate of {hop.host} does not verify ({why}): {failure};"
                    " the message waits")
        if why:
            return f"4.7.10 TLS is required for {hop.host} ({why}): {_error(exc)}"
        raise
    if usable and (problem := mismatch(usable, _peer_chain(client), hop.host)):
        return f"4.7.5 {problem} (DANE); the message waits"
    return ""


def _certificate_failure(exc: BaseException) -> str:
    """Why the handshake's certificate check failed, or "" when something else did."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message or seen.reason or seen)
        seen = seen.__cause__ or seen.__context__
    return ""


def _peer_chain(client: aiosmtplib.SMTP) -> list[bytes]:
    """The certificates the server sent (DER, its own first). Python 3.11 reads the chain
    through the private ``get_unverified_chain`` (public from 3.13); without it, the
    server's own certificate alone."""
    ssl_object = client.get_transport_info("ssl_object")
    if ssl_object is None:
        return []
    chain = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    if chain is not None:
        return [certificate.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
                for certificate in chain() or []]
    der = ssl_object.getpeercert(binary_form=True)
    return [der] if der else []


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def dsn_options(item: Claimed) -> tuple[list[str], list[str]]:
    """The MAIL and RCPT parameters that pass on what the sender asked of delivery status
    notifications (RFC 3461 6.2), for a next hop that offers DSN."""
    mail = [f"RET={item.dsn_ret}"] if item.dsn_ret else []
    if item.dsn_envid:
        mail.append(f"ENVID={xtext_encode(item.dsn_envid)}")
    rcpt = [f"NOTIFY={item.notify}"] if item.notify else []
    if item.orcpt:
        address_type, _, address = item.orcpt.partition(";")
        rcpt.append(f"ORCPT={address_type.strip()};{xtext_encode(address.strip())}")
    return mail, rcpt


def envelope_options(item: Claimed, sender: str, data: bytes, offers: Callable[[str], bool]
                     ) -> tuple[list[str], list[str]]:
    """The MAIL and RCPT parameters for ``item`` at a next hop offering the extensions
    ``offers`` names: the sender's DSN requests, BODY=8BITMIME for 8-bit content (RFC 6152)
    and SMTPUTF8 for an address that is not ASCII (RFC 6531), which a hop without it cannot
    take (:class:`NeedsSmtpUtf8`)."""
    mail, rcpt = dsn_options(item) if offers("dsn") else ([], [])
    if not data.isascii() and offers("8bitmime"):
        mail.append("BODY=8BITMIME")
    if not (sender.isascii() and item.recipient.isascii()):
        if not offers("smtputf8"):
            raise NeedsSmtpUtf8("it does not offer SMTPUTF8, which this message's addresses"
                                " need (RFC 6531)")
        mail.append("SMTPUTF8")
    return mail, rcpt


async def _greet(client: aiosmtplib.SMTP) -> None:
    """EHLO, or HELO for a server that refuses EHLO (RFC 5321 3.2): it takes mail without
    the extensions."""
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError as exc:
        if exc.code // 100 != 5:
            raise
        await client.helo()


class Sender:
    """Delivers claimed remote items: one connection per destination, several messages on it.

    ``outbound`` holds, for each delivery id, the envelope sender and the bytes to send.
    """

    def __init__(self, outbound: dict[int, tuple[str, bytes]]) -> None:
        self.outbound = outbound

    def _send_lmtp(self, hop: Hop, item: Claimed, line: _LmtpLine) -> str:
        sender, data = self.outbound[item.id]
        with smtplib.LMTP(hop.host, hop.port, local_hostname=get_config().hostname,
                          timeout=CONNECT_TIMEOUT) as client:
            line.opened(client)
            # Then each reply is waited for as long as an SMTP server's: a mail store that
            # takes long to answer DATA may have stored the message (a retry stores it twice).
            if client.sock is not None:
                client.sock.settimeout(COMMAND_TIMEOUT)
            if hop.require_tls:
                client.ehlo_or_helo_if_needed()
                if not client.has_extn("starttls"):
                    raise TLSUnavailable(f"4.7.10 TLS is required for {hop.host}, which does"
                                         " not offer STARTTLS; the message waits")
                client.starttls(context=verifying_context())
            client.ehlo_or_helo_if_needed()
            mail_options, rcpt_options = envelope_options(item, sender, data, client.has_extn)
            client.sendmail(sender, [item.recipient], data, mail_options, rcpt_options)
        return f"{hop.host} accepted the message (LMTP)"

    async def _lmtp_group(self, hop: Hop, items: list[Claimed], results: list[Result]) -> None:
        for item in items:
            started, clock = timezone.now(), time.monotonic()
            try:
                reply = await _LmtpLine().run(functools.partial(self._send_lmtp, hop, item))
                status = Status.SENT
            except TLSUnavailable as exc:
                status, reply = Status.DEFERRED, str(exc)
            except Exception as exc:
                status, reply = _classify_error(exc, hop)
            results.append(Result(item, status, reply, str(hop), started,
                                  time.monotonic() - clock))

    async def send_group(self, hop: Hop, items: list[Claimed], results: list[Result]) -> None:
        """Send several messages over one connection to ``hop``, adding each one's result
        to ``results`` as soon as it is known (so a cut keeps what was already sent)."""
        if hop.protocol == "lmtp":
            await self._lmtp_group(hop, items, results)
            return
        client = aiosmtplib.SMTP(hostname=hop.host, port=hop.port, timeout=COMMAND_TIMEOUT,
                                 local_hostname=get_config().hostname, start_tls=False,
                                 validate_certs=False)
        try:
            await self._smtp_group(client, hop, items, results)
        except asyncio.CancelledError:  # out of time: drop the connection, do not wait on it
            client.close()
            raise

    async def _smtp_group(self, client: aiosmtplib.SMTP, hop: Hop, items: list[Claimed],
                          results: list[Result]) -> None:
        started, clock = timezone.now(), time.monotonic()

        def failed_all(status: Status, reply: str, pending: list[Claimed]) -> None:
            results.extend(Result(i, status, reply, str(hop), started, time.monotonic() - clock)
                           for i in pending)

        try:
            await asyncio.wait_for(client.connect(), CONNECT_TIMEOUT)
            await _greet(client)
            refusal = await _secure(client, hop)
            if not refusal and client.is_ehlo_or_helo_needed:  # TLS started: the extensions
                await _greet(client)                            # are asked for again
        except _UnverifiedUnderTesting as exc:  # reported; then sent as without the policy
            client.close()
            assert hop.policy is not None
            log.warning("mta-sts=testing domain=%s host=%s failure=%s", hop.policy.domain,
                        hop.host, exc)
            await self.send_group(replace(hop, policy=None), items, results)
            return
        except Exception as exc:
            client.close()
            failed_all(Status.DEFERRED, _classify_error(exc, hop)[1], items)
            return
        if refusal:
            client.close()
            log.warning("relay=%s tls=refused reason=%s", hop, refusal)
            failed_all(Status.DEFERRED, refusal, items)
            return
        for index, item in enumerate(items):
            item_start, item_clock = timezone.now(), time.monotonic()
            try:
                sender, data = self.outbound[item.id]
                mail_options, rcpt_options = envelope_options(item, sender, data,
                                                              client.supports_extension)
                _, response = await client.sendmail(sender, [item.recipient], data,
                                                    mail_options=mail_options,
                                                    rcpt_options=rcpt_options)
                status, reply = Status.SENT, f"{hop.host} said: 250 {response}"
            except aiosmtplib.SMTPServerDisconnected as exc:
                reply = _classify_error(exc, hop)[1]
                client.close()
                failed_all(Status.DEFERRED, reply, items[index:])
                return
            except Exception as exc:
                status, reply = _classify_error(exc, hop)
                with contextlib.suppress(Exception):
                    await client.rset()
            results.append(Result(item, status, reply, str(hop), item_start,
                                  time.monotonic() - item_clock))
        try:
            await client.quit()
        except Exception:
            client.close()

    async def send_destination(self, hops: list[Hop], items: list[Claimed],
                               results: list[Result]) -> None:
        """Try the hops in order; what one defers goes to the next. Each final result is
        added to ``results`` as it is known."""
        pending = items
        for hop in hops[:-1]:
            group: list[Result] = []
            try:
                await self.send_group(hop, pending, group)
            finally:  # also when cut short: what this hop settled stays settled
                results.extend(r for r in group if r.status is not Status.DEFERRED)
            pending = [r.item for r in group if r.status is Status.DEFERRED]
            if not pending:
                return
        await self.send_group(hops[-1], pending, results)


class _LmtpLine:
    """The connection of one blocking LMTP send in a thread, which the event loop can hang
    up when it gives the send up, so the thread does not deliver after the outcome is
    recorded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: smtplib.LMTP | None = None
        self._hung_up = False

    async def run(self, send: Callable[[_LmtpLine], str]) -> str:
        try:
            return await asyncio.to_thread(send, self)
        except asyncio.CancelledError:
            self._hang_up()
            raise

    def opened(self, client: smtplib.LMTP) -> None:
        """Called by the sending thread once connected."""
        with self._lock:
            self._client = client
            if self._hung_up:
                raise ConnectionAbortedError("the send was given up while connecting")

    def _hang_up(self) -> None:
        with self._lock:
            self._hung_up = True
            client = self._client
        if client is not None and client.sock is not None:
            with contextlib.suppress(OSError):
                client.sock.shutdown(socket.SHUT_RDWR)


class ConnectionSlots:
    """At most N connections to each destination at once, over every batch being sent."""

    def __init__(self, per_destination: int) -> None:
        self.per_destination = max(1, per_destination)
        self._slots: dict[tuple[str, str, bool], tuple[asyncio.Semaphore, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def connection(self, destination: tuple[str, str, bool]) -> AsyncIterator[None]:
        semaphore, users = self._slots.setdefault(
            destination, (asyncio.Semaphore(self.per_destination), [0]))
        users[0] += 1
        try:
            async with semaphore:
                yield
        finally:
            users[0] -= 1
            if not users[0]:  # forget idle destinations, so memory follows the traffic
                del self._slots[destination]


class Deadline:
    """When sending must be over (a monotonic time); it can be brought forward to stop now.

    Each lane of each destination runs in its own timeout at this deadline, so a slow lane
    is cut without touching the results its siblings already have.
    """

    def __init__(self, when: float) -> None:
        self.when = when
        self._timeouts: set[asyncio.Timeout] = set()

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.when

    def left(self) -> float:
        return max(0.0, self.when - time.monotonic())

    async def run(self, work: Awaitable[None]) -> bool:
        """Await ``work`` until the deadline; whether it ended in time."""
        # asyncio's loop clock is time.monotonic(), the clock ``when`` is on
        timeout = asyncio.timeout_at(self.when)
        self._timeouts.add(timeout)
        try:
            async with timeout:
                await work
        except TimeoutError:
            if timeout.expired():
                return False
            raise
        finally:
            self._timeouts.discard(timeout)
        return True

    def cut(self) -> None:
        """End now: every lane still running is cancelled (call on the event loop)."""
        self.when = min(self.when, time.monotonic())
        for timeout in list(self._timeouts):
            timeout.reschedule(self.when)


def _destination(item: Claimed) -> tuple[str, str, bool]:
    """What decides an item's next hops: its rule's route, its domain, whether TLS is required."""
    return item.relay, item.recipient.rpartition("@")[2].lower(), item.edits.require_tls


def _unsettled(items: list[Claimed], results: list[Result], status: Status, reply: str,
               where: str) -> list[Result]:
    """A result for each of ``items`` that has none yet."""
    settled = {r.item.id for r in results}
    return [Result(i, status, reply, where, timezone.now()) for i in items
            if i.id not in settled]


async def deliver(items: list[Claimed], sender: Sender, transports: dict[str, TransportEntry],
                  connections_per_destination: int = 4, deadline: Deadline | None = None,
                  slots: ConnectionSlots | None = None) -> list[Result]:
    """Deliver remote items; destinations in parallel, each over at most N connections
    (counted over every batch that shares ``slots``).

    Each destination looks up its own next hops and starts sending as soon as it has them,
    so a domain whose DNS is slow holds up only its own mail. Whatever is not done by
    ``deadline`` is cut, so the outcome is recorded while the claim is still held: a
    message a server already accepted counts as delivered, the one in flight at the cut
    and those behind it on its connection are deferred, and those that never got a
    connection slot are not tried (due again at once). A destination whose sending fails
    unexpectedly defers its own messages only.
    """
    by_destination: dict[tuple[str, str, bool], list[Claimed]] = defaultdict(list)
    for item in items:
        by_destination[_destination(item)].append(item)

    slots = slots or ConnectionSlots(connections_per_destination)
    deadline = deadline or Deadline(float("inf"))

    async def lane(where: str, hops: list[Hop], lane_items: list[Claimed]) -> list[Result]:
        results: list[Result] = []
        connected = False

        async def send() -> None:
            nonlocal connected
            async with slots.connection(_destination(lane_items[0])):
                connected = True
                await sender.send_destination(hops, lane_items, results)

        try:
            in_time = await deadline.run(send())
        except Exception as exc:
            log.exception("relay=%s sending failed", where)
            return results + _unsettled(lane_items, results, Status.DEFERRED,
                                        f"4.3.0 sending to {where} failed: {_error(exc)}", where)
        if in_time:
            return results
        if not connected:
            return results + _unsettled(lane_items, results, Status.NOT_TRIED,
                                        _not_tried(where), where)
        return results + _unsettled(lane_items, results, Status.DEFERRED,
                                    f"4.4.2 delivery to {where} was cut short; it is tried"
                                    " again later", where)

    async def destination(group: list[Claimed]) -> list[Result]:
        relay, domain, _ = _destination(group[0])
        where = relay or domain
        if deadline.passed:  # stopping, or the batch's time went on making the copies
            return _unsettled(group, [], Status.NOT_TRIED, _not_tried(where), where)
        found: list[list[Hop]] = []

        async def look_up() -> None:
            found.append(await hops_for(group[0], transports))

        try:
            if not await deadline.run(look_up()):
                return _unsettled(group, [], Status.DEFERRED,
                                  f"4.4.3 looking up where {where} is delivered took too long",
                                  "dns")
        except RouteError as exc:
            status = Status.REFUSED if exc.permanent else Status.DEFERRED
            return _unsettled(group, [], status, exc.reply, "dns")
        except Exception as exc:
            log.exception("relay=%s cannot find the next hops", where)
            return _unsettled(group, [], Status.DEFERRED,
                              f"4.3.0 cannot find the next hops for {where}: {_error(exc)}",
                              where)
        lanes = max(1, min(slots.per_destination, len(group)))
        sent = await asyncio.gather(*(lane(where, found[0], group[index::lanes])
                                      for index in range(lanes)))
        return [result for lane_results in sent for result in lane_results]

    done = await asyncio.gather(*(destination(group) for group in by_destination.values()))
    return [result for group_results in done for result in group_results]


def _not_tried(where: str) -> str:
    return f"4.4.2 no connection to {where} could be opened in time; it is tried again soon"


def _error(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
