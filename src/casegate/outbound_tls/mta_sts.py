"""MTA-STS (RFC 8461): a domain's ``_mta-sts`` TXT record names its policy's id; the policy,
fetched over HTTPS from ``https://mta-sts.DOMAIN/.well-known/mta-sts.txt`` with its
certificate verified, lists the MX hosts that may take the domain's mail and whether
senders must hold to it (``enforce``) or only report (``testing``).

The records and policies are read by checkdmarc's parsers (RFC 8461's grammar, its rules
for unknown and repeated fields, its MX patterns); the DNS questions go to casegate's name
servers, also for the policy host's address.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import dns.exception
import dns.resolver
from aiohttp.abc import AbstractResolver, ResolveResult

from casegate.config import get_config
from casegate.nameservers import caching_async_resolver
from casegate.outbound_tls.trust import verifying_context
from casegate.outbound_tls.vocabulary import PolicyMode

POLICY_PATH = "/.well-known/mta-sts.txt"
MAX_POLICY_BYTES = 64 * 1024  # RFC 8461 section 3.3
FETCH_TIMEOUT = 20.0
LOOKUP_TIMEOUT = 10.0
DOMAINS_KEPT = 10_000


class PolicyError(Exception):
    """A domain's MTA-STS record or policy cannot be read; the reason, for the log and the
    operator."""


@dataclass(frozen=True)
class Policy:
    """A domain's MTA-STS policy as fetched, kept until ``expires`` (``time.time()``)."""

    domain: str
    id: str
    mode: PolicyMode
    max_age: int
    mx: tuple[str, ...]
    expires: float

    def allows(self, host: str) -> bool:
        """Whether ``host`` is one of the MX hosts the policy lists (RFC 8461 section 4.1)."""
        from checkdmarc.mta_sts import mx_in_mta_sts_patterns

        return mx_in_mta_sts_patterns(host.rstrip(".").lower(), list(self.mx))

    @property
    def text(self) -> str:
        """The policy file as it was read, in its fields' order."""
        lines = ["version: STSv1", f"mode: {self.mode}", *(f"mx: {mx}" for mx in self.mx),
                 f"max_age: {self.max_age}"]
        return "\n".join(lines) + "\n"


async def _txt(name: str) -> list[str]:
    try:
        answer = await caching_async_resolver().resolve(name, "TXT", lifetime=LOOKUP_TIMEOUT,
                                                        search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        raise PolicyError(f"DNS lookup of {name} failed: {exc}") from None
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


async def policy_id(domain: str) -> str | None:
    """The id of ``domain``'s policy from its ``_mta-sts`` TXT record; None when it publishes
    none (RFC 8461 section 3.1: several records count as none)."""
    from checkdmarc.mta_sts import MTASTSError, parse_mta_sts_record

    records = [r for r in await _txt(f"_mta-sts.{domain}") if r.startswith("v=STSv1")]
    if len(records) != 1:
        return None
    try:
        return str(parse_mta_sts_record(records[0])["tags"]["id"])
    except MTASTSError as exc:
        raise PolicyError(f"the _mta-sts.{domain} record cannot be read: {exc}") from None


def policy_url(domain: str) -> str:
    port = get_config().mta_sts_port
    return f"https://mta-sts.{domain}{'' if port == 443 else f':{port}'}{POLICY_PATH}"


async def fetch_policy(domain: str, id_: str) -> Policy:
    """The policy of ``domain`` over HTTPS, its certificate verified, no redirect followed
    (RFC 8461 section 3.3)."""
    from checkdmarc.mta_sts import MTASTSPolicySyntaxError, parse_mta_sts_policy

    url = policy_url(domain)
    connector = aiohttp.TCPConnector(ssl=verifying_context(), resolver=_NameServers())
    try:
        async with aiohttp.ClientSession(connector=connector) as session, session.get(
                url, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT)) as response:
            if response.status != 200:
                raise PolicyError(f"{url} answered HTTP {response.status}")
            if response.content_type != "text/plain":
                raise PolicyError(f"{url} is {response.content_type}, not text/plain")
            body = b""  # read(n) gives what has come so far: a policy may come in pieces
            while len(body) <= MAX_POLICY_BYTES and (
                    piece := await response.content.read(MAX_POLICY_BYTES + 1 - len(body))):
                body += piece
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise PolicyError(f"cannot fetch {url}: {_reason(exc)}") from None
    if len(body) > MAX_POLICY_BYTES:
        raise PolicyError(f"{url} is larger than {MAX_POLICY_BYTES} bytes")
    try:
        parsed = parse_mta_sts_policy(body.decode("utf-8"))["policy"]
    except (MTASTSPolicySyntaxError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{url} is no MTA-STS policy: {exc}") from None
    max_age = int(parsed["max_age"])
    return Policy(domain, id_, PolicyMode(parsed["mode"]), max_age, tuple(parsed["mx"]),
                  time.time() + max_age)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"certificate: {exc.certificate_error}"
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


class Policies:
    """The policies of recipient domains, each kept for its ``max_age`` and fetched again
    when the domain's record names another id (RFC 8461 section 5.1)."""

    def __init__(self) -> None:
        self._kept: dict[str, Policy] = {}

    async def for_domain(self, domain: str) -> tuple[Policy | None, str]:
        """The policy to apply to mail for ``domain`` (None: none) and, when a policy could
        not be read, why (for the log)."""
        domain = domain.rstrip(".").lower()
        kept = self._kept.get(domain)
        if kept is not None and kept.expires <= time.time():
            del self._kept[domain]
            kept = None
        try:
            id_ = await policy_id(domain)
            if id_ is None or (kept is not None and kept.id == id_):
                return kept, ""
            policy = await fetch_policy(domain, id_)
        except PolicyError as exc:  # a policy still kept is applied (section 5.1)
            return kept, str(exc)
        if len(self._kept) >= DOMAINS_KEPT:
            self._kept.pop(next(iter(self._kept)))
        self._kept[domain] = policy
        return policy, ""


class _NameServers(AbstractResolver):
    """aiohttp's resolver for the policy host: addresses from casegate's name servers."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found: list[ResolveResult] = []
        for rdtype, kind in (("A", socket.AF_INET), ("AAAA", socket.AF_INET6)):
            if family not in (socket.AF_UNSPEC, kind):
                continue
            try:
                answer: Any = await caching_async_resolver().resolve(
                    host, rdtype, lifetime=LOOKUP_TIMEOUT, search=False)
            except dns.exception.DNSException:
                continue
            found += [ResolveResult(hostname=host, host=record.address, port=port,
                                    family=kind, proto=0, flags=socket.AI_NUMERICHOST)
                      for record in answer]
        if not found:
            raise OSError(f"{host} has no address")
        return found

    async def close(self) -> None:
        return None
