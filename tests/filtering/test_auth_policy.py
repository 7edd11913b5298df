"""The decision after the sender checks: refuse, spam, or let through."""

from __future__ import annotations

from dataclasses import replace

from casegate.filtering.auth_policy import AuthPolicy, Decision, decide, within
from casegate.filtering.sender_checks import Arc, Dmarc, SenderReport, Signature
from casegate.filtering.vocabulary import AuthResult, DmarcPolicy

OURS = frozenset({"solarmora.com"})
PASS, FAIL, NONE = AuthResult.PASS, AuthResult.FAIL, AuthResult.NONE
NO_ARC = Arc(NONE)


def report(author: str = "example.net", dmarc: Dmarc | None = None, spf: AuthResult = NONE,
           spf_domain: str = "bounce.example.org", dkim: tuple[Signature, ...] = (),
           arc: Arc = NO_ARC) -> SenderReport:
    return SenderReport(spf=spf, spf_domain=spf_domain, mail_from=f"x@{spf_domain}",
                        helo="mx.example.org", peer_ip="192.0.2.7", dkim=dkim,
                        from_domains=(author,), dmarc=dmarc or Dmarc(NONE, author), arc=arc)


def failing(policy: DmarcPolicy, domain: str = "example.net") -> Dmarc:
    return Dmarc(FAIL, domain, policy, policy)


def test_a_domain_and_its_subdomains_are_within_a_list() -> None:
    assert within("mail.lists.example", frozenset({"lists.example"}))
    assert within("lists.example", frozenset({"lists.example"}))
    assert not within("otherlists.example", frozenset({"lists.example"}))


def test_dmarc_pass_none_and_p_none_let_the_message_through() -> None:
    assert decide(report(dmarc=Dmarc(PASS, "example.net", DmarcPolicy.REJECT)), AuthPolicy(),
                  OURS) == Decision()
    assert decide(report(), AuthPolicy(), OURS) == Decision()
    assert decide(report(dmarc=failing(DmarcPolicy.NONE)), AuthPolicy(), OURS) == Decision()


def test_p_reject_refuses_with_550_naming_dmarc_and_the_domain() -> None:
    assert decide(report(dmarc=failing(DmarcPolicy.REJECT)), AuthPolicy(), OURS) == Decision(
        refusal="550 5.7.1 Message rejected by the DMARC policy of example.net (p=reject):"
                " neither SPF nor DKIM authenticates it for example.net")


def test_p_quarantine_is_spam() -> None:
    decision = decide(report(dmarc=failing(DmarcPolicy.QUARANTINE)), AuthPolicy(), OURS)
    assert decision == Decision(spam_reason="fails DMARC for example.net (p=quarantine)")


def test_the_administrator_takes_reject_as_quarantine_everywhere_or_for_some_domains() -> None:
    forged = report(author="news.example.net", dmarc=failing(DmarcPolicy.REJECT,
                                                              "news.example.net"))
    spam = Decision(spam_reason="fails DMARC for news.example.net (p=reject, taken as"
                                " quarantine here)")
    assert decide(forged, AuthPolicy(reject_as_quarantine=True), OURS) == spam
    assert decide(forged, AuthPolicy(quarantine_domains=frozenset({"example.net"})),
                  OURS) == spam
    assert decide(forged, AuthPolicy(quarantine_domains=frozenset({"other.example"})),
                  OURS).refusal.startswith("550 5.7.1")


def test_a_trusted_sealer_s_recorded_pass_overrides_a_dmarc_failure() -> None:
    sealed = Arc(PASS, "lists.example", 1, recorded_dmarc="pass", recorded_from="example.net")
    forwarded = report(dmarc=failing(DmarcPolicy.REJECT), arc=sealed)
    trusting = AuthPolicy(trusted_sealers=frozenset({"lists.example"}))
    assert decide(forwarded, trusting, OURS) == Decision(arc_override="lists.example")
    assert decide(forwarded, AuthPolicy(), OURS).refusal  # an untrusted sealer changes nothing
    for untrusted in (replace(sealed, result=FAIL), replace(sealed, recorded_dmarc="fail"),
                      replace(sealed, recorded_from="other.example")):
        assert decide(replace(forwarded, arc=untrusted), trusting, OURS).refusal


def test_our_own_domain_from_outside_needs_an_aligned_pass() -> None:
    spoofed = report(author="solarmora.com")
    assert decide(spoofed, AuthPolicy(), OURS) == Decision(
        spam_reason="From: claims our own domain solarmora.com but nothing authenticates it"
                    " (no DMARC pass, no aligned SPF or DKIM pass)")
    assert decide(report(author="billing.solarmora.com"), AuthPolicy(), OURS).spam_reason
    signed = replace(spoofed, dkim=(Signature("mail.solarmora.com", "s1", PASS),))
    assert decide(signed, AuthPolicy(), OURS) == Decision()
    by_spf = replace(spoofed, spf=PASS, spf_domain="bounces.solarmora.com")
    assert decide(by_spf, AuthPolicy(), OURS) == Decision()
    # A pass for someone else's domain does not authenticate ours.
    other = replace(spoofed, spf=PASS, dkim=(Signature("example.org", "s1", PASS),))
    assert decide(other, AuthPolicy(), OURS).spam_reason
