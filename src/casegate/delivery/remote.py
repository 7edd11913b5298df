"""Sending to remote SMTP hosts: transport map or MX lookup, then aiosmtplib (or LMTP)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import smtplib
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

import aiosmtplib
import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from casegate.delivery.queue import Claimed

log = logging.getLogger("casegate.delivery")

CONNECT_TIMEOUT = 30.0
COMMAND_TIMEOUT = 300.0


class Outcome(StrEnum):
    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"


@dataclass(frozen=True)
class Result:
    item: Claimed
    outcome: Outcome
    reply: str


@dataclass(frozen=True)
class Hop:
    host: str
    port: int
    protocol: str = "smtp"

    def __str__(self) -> str:
        return f"{self.protocol}:{self.host}:{self.port}"


class RouteError(Exception):
    def __init__(self, reply: str, permanent: bool) -> None:
        super().__init__(reply)
        self.reply = reply
        self.permanent = permanent


def parse_relay(relay: str) -> Hop:
    protocol, _, rest = relay.partition(":")
    host, _, port = rest.rpartition(":")
    return Hop(host.strip("[]"), int(port), protocol)


_NAMESERVER = re.compile(
    r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<v4>[0-9.]+)|(?P<bare6>[0-9a-fA-F:]+))"
    r"(?::(?P<port>\d{1,5}))?$"
)


def resolver() -> dns.asyncresolver.Resolver:
    """The system's resolver, or the name servers in CASEGATE_DNS_SERVERS (IP or IP:PORT)."""
    servers = os.environ.get("CASEGATE_DNS_SERVERS", "").strip()
    if not servers:
        return dns.asyncresolver.get_default_resolver()
    custom = dns.asyncresolver.Resolver(configure=False)
    nameservers: list[dns.nameserver.Nameserver] = []
    for entry in filter(None, (e.strip() for e in servers.split(","))):
        found = _NAMESERVER.match(entry)
        if found is None:
            raise RouteError(f"4.3.5 CASEGATE_DNS_SERVERS: {entry!r} is not IP or IP:PORT",
                             permanent=False)
        host = found["v6"] or found["v4"] or found["bare6"]
        nameservers.append(dns.nameserver.Do53Nameserver(host, int(found["port"] or 53)))
    custom.nameservers = nameservers
    return custom


async def mx_hops(domain: str) -> list[Hop]:
    """MX hosts by preference; the domain itself when it has none; an error for null MX."""
    try:
        answer = await resolver().resolve(domain, "MX")
    except dns.resolver.NXDOMAIN:
        raise RouteError(f"5.1.2 domain {domain} does not exist", permanent=True) from None
    except dns.resolver.NoAnswer:
        return [Hop(domain, 25)]
    except dns.exception.DNSException as exc:
        raise RouteError(f"4.4.3 DNS lookup for {domain} failed: {exc}", permanent=False) from None
    records = sorted(answer, key=lambda r: r.preference)
    if len(records) == 1 and str(records[0].exchange) == ".":
        raise RouteError(f"5.1.10 {domain} accepts no mail (null MX)", permanent=True)
    return [Hop(str(r.exchange).rstrip("."), 25) for r in records]


async def hops_for(item: Claimed, transports: dict[str, tuple[str, int]]) -> list[Hop]:
    if item.relay:
        return [parse_relay(item.relay)]
    domain = item.recipient.rpartition("@")[2]
    if domain in transports:
        host, port = transports[domain]
        return [Hop(host, port)]
    return await mx_hops(domain)


def _outgoing(item: Claimed, raw: bytes) -> bytes:
    header = f"X-Original-To: {item.original_recipient}\r\n"
    if item.junk:
        header += "X-Spam-Flag: YES\r\n"
    return header.encode("utf-8") + raw


def _reply_text(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"


def _classify_error(exc: BaseException, hop: Hop) -> tuple[Outcome, str]:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        refused = exc.recipients[0]
        outcome = Outcome.BOUNCED if 500 <= refused.code < 600 else Outcome.DEFERRED
        return outcome, f"{hop.host} said: {_reply_text(refused.code, refused.message)}"
    if isinstance(exc, aiosmtplib.SMTPResponseException | smtplib.SMTPResponseException):
        code = exc.code if isinstance(exc, aiosmtplib.SMTPResponseException) else exc.smtp_code
        text = exc.message if isinstance(exc, aiosmtplib.SMTPResponseException) else (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error))
        outcome = Outcome.BOUNCED if 500 <= code < 600 else Outcome.DEFERRED
        return outcome, f"{hop.host} said: {_reply_text(code, text)}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        outcome = Outcome.BOUNCED if 500 <= code < 600 else Outcome.DEFERRED
        return outcome, f"{hop.host} said: {_reply_text(code, text.decode('utf-8', 'replace'))}"
    return Outcome.DEFERRED, f"4.4.1 cannot deliver to {hop}: {type(exc).__name__}: {exc}"


def _send_lmtp(hop: Hop, item: Claimed, data: bytes) -> str:
    with smtplib.LMTP(hop.host, hop.port, timeout=CONNECT_TIMEOUT) as client:
        client.sendmail(item.mail_from, [item.recipient], data)
    return f"{hop.host} accepted the message (LMTP)"


async def _send_group(hop: Hop, items: list[Claimed], raws: dict[str, bytes]) -> list[Result]:
    """Send several messages over one connection to ``hop``."""
    results: list[Result] = []
    if hop.protocol == "lmtp":
        for item in items:
            try:
                reply = await asyncio.to_thread(_send_lmtp, hop, item, _outgoing(item,
                                                                                raws[item.queue_id]))
                results.append(Result(item, Outcome.DELIVERED, reply))
            except Exception as exc:
                outcome, reply = _classify_error(exc, hop)
                results.append(Result(item, outcome, reply))
        return results
    client = aiosmtplib.SMTP(hostname=hop.host, port=hop.port, timeout=COMMAND_TIMEOUT,
                             start_tls=None, validate_certs=False)
    try:
        await asyncio.wait_for(client.connect(), CONNECT_TIMEOUT)
    except Exception as exc:
        _, reply = _classify_error(exc, hop)
        return [Result(item, Outcome.DEFERRED, reply) for item in items]
    try:
        for item in items:
            try:
                _, response = await client.sendmail(
                    item.mail_from, [item.recipient], _outgoing(item, raws[item.queue_id])
                )
                results.append(Result(item, Outcome.DELIVERED, f"{hop.host} said: {response}"))
            except aiosmtplib.SMTPServerDisconnected as exc:
                _, reply = _classify_error(exc, hop)
                done = {r.item.id for r in results}
                results.extend(
                    Result(i, Outcome.DEFERRED, reply) for i in items if i.id not in done
                )
                return results
            except Exception as exc:
                outcome, reply = _classify_error(exc, hop)
                results.append(Result(item, outcome, reply))
                with contextlib.suppress(Exception):
                    await client.rset()
    finally:
        try:
            await client.quit()
        except Exception:
            client.close()
    return results


async def _send_destination(hops: list[Hop], items: list[Claimed],
                            raws: dict[str, bytes]) -> list[Result]:
    pending = items
    results: list[Result] = []
    for index, hop in enumerate(hops):
        group = await _send_group(hop, pending, raws)
        last_hop = index == len(hops) - 1
        retry = [r.item for r in group if r.outcome is Outcome.DEFERRED and not last_hop]
        results.extend(r for r in group if r.item not in retry)
        pending = retry
        if not pending:
            break
    return results


async def deliver(items: list[Claimed], raws: dict[str, bytes],
                  transports: dict[str, tuple[str, int]]) -> list[Result]:
    """Deliver remote items, one connection per destination, destinations in parallel."""
    by_route: dict[tuple[Hop, ...], list[Claimed]] = defaultdict(list)
    results: list[Result] = []
    for item in items:
        try:
            hops = tuple(await hops_for(item, transports))
        except RouteError as exc:
            outcome = Outcome.BOUNCED if exc.permanent else Outcome.DEFERRED
            results.append(Result(item, outcome, exc.reply))
            continue
        by_route[hops].append(item)
    groups = await asyncio.gather(
        *(_send_destination(list(hops), group, raws) for hops, group in by_route.items())
    )
    for group_results in groups:
        results.extend(group_results)
    return results
