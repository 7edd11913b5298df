"""What every check of ``casegate doctor`` shares: its finding, what it knows of this host,
and DNS questions through casegate's caching resolver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import dns.exception
import dns.resolver

from casegate.config import Config
from casegate.doctor.vocabulary import CheckStatus
from casegate.mail.hostport import HostPort
from casegate.nameservers import caching_resolver

LOOKUP_TIMEOUT = 5.0


@dataclass(frozen=True)
class Finding:
    """One check's outcome: what it found and, when something must change, the exact
    record (or file) to publish."""

    check: str
    subject: str  # the domain, or this host's name
    status: CheckStatus
    explanation: str
    record: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "subject": self.subject, "status": self.status.value,
                "explanation": self.explanation, "record": self.record}


@dataclass(frozen=True)
class Host:
    """This host as the checks see it: its name (``CASEGATE_HOSTNAME``, the banner and
    EHLO name), the addresses that name has in the DNS, where it listens."""

    config: Config
    name: str
    addresses: tuple[str, ...]
    smtp: HostPort
    http_url: str


class LookupFailed(Exception):
    """No name server answered; the check cannot tell."""


def lookup(name: str, rdtype: str) -> tuple[Any, ...]:
    """The records of ``name`` and ``rdtype`` (none when there are none)."""
    try:
        return caching_resolver().resolve(name, rdtype, lifetime=LOOKUP_TIMEOUT).rdata
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise LookupFailed(f"no name server answered about {name} {rdtype}: {exc}") from None
    except dns.exception.DNSException:
        return ()


def txt(name: str, prefix: str) -> list[str]:
    """The TXT records of ``name`` that start with ``prefix`` (``v=spf1`` …), as text."""
    texts = [b"".join(r.strings).decode("utf-8", "replace") for r in lookup(name, "TXT")]
    return [text for text in texts if text.lower().startswith(prefix.lower())]


def addresses_of(name: str) -> tuple[str, ...]:
    return tuple(r.address for kind in ("A", "AAAA") for r in lookup(name, kind))


class DomainCheck(Protocol):
    """A check of one company domain: a module with its name and its check."""

    NAME: str

    def check(self, domain: str, host: Host) -> Finding: ...


class HostCheck(Protocol):
    """A check of this host."""

    NAME: str

    def check(self, host: Host) -> Finding: ...
