"""What the gateway does with a message, given who sent it: refuse it, take it as spam, or
let it through (the administrator's policy on top of the domains' own DMARC policies)."""

from __future__ import annotations

from dataclasses import dataclass

from casegate.config import Config
from casegate.filtering.sender_checks import SenderReport
from casegate.filtering.vocabulary import AuthResult, DmarcPolicy

SPAM_REASON_LENGTH = 200  # the stored column's


def within(domain: str, domains: frozenset[str]) -> bool:
    """Whether ``domain`` is one of ``domains`` or a subdomain of one."""
    labels = domain.split(".")
    return any(".".join(labels[n:]) in domains for n in range(len(labels)))


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """The administrator's side: p=reject taken as quarantine (everywhere, or for some
    domains, as receivers do for domains whose mail is often forwarded), and the ARC sealers
    whose recorded results are believed."""

    reject_as_quarantine: bool = False
    quarantine_domains: frozenset[str] = frozenset()
    trusted_sealers: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, config: Config) -> AuthPolicy:
        return cls(config.dmarc_reject_as_quarantine, config.dmarc_quarantine_domains,
                   config.arc_trusted)

    def softens_reject(self, domain: str) -> bool:
        return self.reject_as_quarantine or within(domain, self.quarantine_domains)


@dataclass(frozen=True, slots=True)
class Decision:
    refusal: str = ""  # the SMTP reply refusing the message at DATA
    spam_reason: str = ""  # why the message is spam
    arc_override: str = ""  # the trusted sealer whose recorded DMARC pass was taken


def arc_vouches(report: SenderReport, policy: AuthPolicy) -> bool:
    """Whether a valid ARC chain, last sealed by a trusted sealer, recorded a DMARC pass
    for the message's From domain (a mailing list that changed the message, say)."""
    arc = report.arc
    return (arc.result == AuthResult.PASS and within(arc.sealer, policy.trusted_sealers)
            and arc.recorded_dmarc == AuthResult.PASS
            and arc.recorded_from in ("", report.dmarc.domain))


def decide(report: SenderReport, policy: AuthPolicy, company_domains: frozenset[str]
           ) -> Decision:
    dmarc = report.dmarc
    override = (report.arc.sealer if dmarc.result == AuthResult.FAIL
                and arc_vouches(report, policy) else "")
    if dmarc.result == AuthResult.FAIL and not override:
        if dmarc.disposition == DmarcPolicy.REJECT and not policy.softens_reject(dmarc.domain):
            return Decision(refusal=(
                f"550 5.7.1 Message rejected by the DMARC policy of {dmarc.domain} (p=reject):"
                f" neither SPF nor DKIM authenticates it for {dmarc.domain}"))
        if dmarc.disposition in (DmarcPolicy.REJECT, DmarcPolicy.QUARANTINE):
            softened = (", taken as quarantine here" if dmarc.disposition == DmarcPolicy.REJECT
                        else "")
            return Decision(spam_reason=(
                f"fails DMARC for {dmarc.domain} (p={dmarc.disposition}{softened})"
            )[:SPAM_REASON_LENGTH])
    if len(report.from_domains) > 1 and not override:
        return Decision(spam_reason=(
            f"From: names several domains ({', '.join(report.from_domains)}): which one"
            " wrote it cannot be told, so no DMARC policy applies")[:SPAM_REASON_LENGTH])
    ours = next((d for d in report.from_domains if within(d, company_domains)), "")
    if ours and not override and not report.authenticates(ours):
        return Decision(spam_reason=(
            f"From: claims our own domain {ours} but nothing authenticates it"
            " (no DMARC pass, no aligned SPF or DKIM pass)")[:SPAM_REASON_LENGTH])
    return Decision(arc_override=override)
