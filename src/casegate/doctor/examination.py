"""Running the checks and the report: findings in order, the worst status, the exit code,
as text or JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from casegate.config import Config
from casegate.doctor import DOMAIN_CHECKS, HOST_CHECKS
from casegate.doctor.base import Finding, Host, LookupFailed, addresses_of
from casegate.doctor.vocabulary import EXIT_CODES, CheckStatus
from casegate.mail.hostport import HostPort

_WORST_LAST = list(CheckStatus)


@dataclass(frozen=True)
class Report:
    host: Host
    domains: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def status(self) -> CheckStatus:
        return max((f.status for f in self.findings), key=_WORST_LAST.index,
                   default=CheckStatus.OK)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def as_dict(self) -> dict[str, Any]:
        return {"host": self.host.name, "addresses": list(self.host.addresses),
                "domains": list(self.domains), "status": self.status.value,
                "checks": [finding.as_dict() for finding in self.findings]}

    def lines(self) -> list[str]:
        counts = {s: sum(f.status == s for f in self.findings) for s in CheckStatus}
        domains = f"{len(self.domains)} domain{'' if len(self.domains) == 1 else 's'}"
        lines = [f"casegate doctor: {self.host.name}, {domains}:"
                 f" {counts[CheckStatus.OK]} ok, {counts[CheckStatus.WARNING]} warning,"
                 f" {counts[CheckStatus.FAILING]} failing"]
        for subject in dict.fromkeys(f.subject for f in self.findings):
            lines += ["", subject if subject in self.domains else f"this host: {subject}"]
            for finding in (f for f in self.findings if f.subject == subject):
                lines.append(f"  {finding.status.value:<8} {finding.check:<12}"
                             f" {finding.explanation}")
                for number, text in enumerate(finding.record.splitlines()):
                    lines.append(f"  {'':<8} {'publish:' if number == 0 else '':<12} {text}")
        return lines


def this_host(config: Config, smtp: HostPort, http_url: str) -> Host:
    name = config.hostname.rstrip(".").lower()
    try:
        addresses = addresses_of(name)
    except LookupFailed:
        addresses = ()
    return Host(config, name, addresses, smtp, http_url.rstrip("/"))


def examine(domains: Iterable[str], host: Host) -> Report:
    """Every check, in order: each domain's, then this host's."""
    domains = tuple(domains)
    findings = [_unless_dns_fails(check.NAME, domain, partial(check.check, domain, host))
                for domain in domains for check in DOMAIN_CHECKS]
    findings += [_unless_dns_fails(check.NAME, host.name, partial(check.check, host))
                 for check in HOST_CHECKS]
    return Report(host, domains, tuple(findings))


def _unless_dns_fails(name: str, subject: str, run: Callable[[], Finding]) -> Finding:
    """The check's finding; a warning when no name server answered one of its questions."""
    try:
        return run()
    except LookupFailed as exc:
        return Finding(name, subject, CheckStatus.WARNING, f"cannot tell: {exc}")
