"""SPF, DKIM, DMARC and ARC checks against a real name server on loopback (LocalDNS)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dkim
import dns.exception
import pytest

from casegate.filtering.auth_policy import AuthPolicy, decide
from casegate.filtering.lookups import MessageLookups, NotCached
from casegate.filtering.sender_checks import (
    aligned,
    check_sender,
    check_spf,
    from_domains,
    organisational_domain,
)
from casegate.filtering.vocabulary import AuthResult, DmarcPolicy
from casegate.mail.headers import HeaderFields
from tests.e2e.test_forwarding import rsa_key
from tests.mails import mail
from tests.support import LocalDNS

AUTHOR_KEY, AUTHOR_RECORD = rsa_key()
LIST_KEY, LIST_RECORD = rsa_key()
CLIENT = "192.0.2.7"
ZONE = {
    "s1._domainkey.example.net.": {"TXT": [AUTHOR_RECORD]},
    "s1._domainkey.mail.example.net.": {"TXT": [AUTHOR_RECORD]},
    "s1._domainkey.esp.example.": {"TXT": [AUTHOR_RECORD]},
    "arc._domainkey.lists.example.": {"TXT": [LIST_RECORD]},
    "example.net.": {"TXT": [f"v=spf1 ip4:{CLIENT} -all"]},
    "_dmarc.example.net.": {"TXT": ["v=DMARC1; p=reject; sp=quarantine"]},
    "_dmarc.strict.example.": {"TXT": ["v=DMARC1; p=reject; adkim=s; aspf=s"]},
    "_dmarc.sampled.example.": {"TXT": ["v=DMARC1; p=reject; pct=0"]},
    "_dmarc.twice.example.": {"TXT": ["v=DMARC1; p=reject", "v=DMARC1; p=none"]},
    "_dmarc.twice.example.net.": {"TXT": ["v=DMARC1; p=none", "v=DMARC1; p=none; pct=100"]},
    "_dmarc.flaky.example.": {"TXT": ["v=DMARC1; p=reject"]},
    "xn--bcher-kva.example.": {"TXT": [f"v=spf1 ip4:{CLIENT} -all"]},
    "_dmarc.xn--bcher-kva.example.": {"TXT": ["v=DMARC1; p=reject"]},
    "macro.example.": {"TXT": ["v=spf1 exists:%{l}.senders.macro.example -all"]},
    "dana.senders.macro.example.": {"A": ["127.0.0.2"]},
}


@pytest.fixture
def dns_server(setting: Callable[..., None]) -> Iterator[LocalDNS]:
    with LocalDNS(ZONE, silent={"s1._domainkey.slow.example.", "slow.example."},
                  failing={"s1._domainkey.flaky.example.", "flaky.example."}) as server:
        setting("CASEGATE_DNS_SERVERS", server.address)
        yield server


def signed(author: str, domain: bytes = b"example.net", subject: str = "Hi") -> bytes:
    data, _ = mail(subject=subject, sender=f"Dana <dana@{author}>")
    return dkim.sign(data, b"s1", domain, AUTHOR_KEY) + data


def check(raw: bytes, mail_from: str = "dana@example.net", budget: float = 2.0
          ) -> object:
    return check_sender(raw, CLIENT, mail_from, "mx.example.net", MessageLookups(budget))


def test_a_from_domain_written_in_unicode_is_compared_as_the_dns_writes_it() -> None:
    domains = from_domains(HeaderFields("From: Dana <dana@Bücher.example>\r\n\r\n".encode()))
    assert domains == ("xn--bcher-kva.example",)  # as our domains and DKIM's d= are kept
    assert aligned(domains[0], "mail.xn--bcher-kva.example")


def test_mail_from_a_unicode_domain_aligns_through_spf(dns_server: LocalDNS) -> None:
    data = "From: Dana <dana@bücher.example>\r\nSubject: Hi\r\n\r\nHello\r\n".encode()
    report = check(data, mail_from="dana@bücher.example")
    assert (report.spf, report.dmarc.result) == (AuthResult.PASS, AuthResult.PASS)


def test_the_organisational_domain_comes_from_the_public_suffix_list() -> None:
    assert organisational_domain("a.b.example.co.uk") == "example.co.uk"
    assert organisational_domain("Mail.Example.NET") == "example.net"
    assert organisational_domain("co.uk") == "co.uk"


def test_every_signature_is_checked_and_relaxed_alignment_passes_dmarc(dns_server: LocalDNS
                                                                       ) -> None:
    raw = signed("example.net")
    raw = dkim.sign(raw, b"s1", b"esp.example", AUTHOR_KEY) + raw
    raw = dkim.sign(raw, b"nokey", b"example.net", AUTHOR_KEY) + raw
    report = check(raw, mail_from="bounce@esp.example")
    assert [(s.domain, s.selector, s.result, s.comment) for s in report.dkim] == [
        ("example.net", "nokey", AuthResult.PERMERROR, "no key"),
        ("esp.example", "s1", AuthResult.PASS, ""),
        ("example.net", "s1", AuthResult.PASS, ""),
    ]
    assert report.spf == AuthResult.NONE and report.spf_domain == "esp.example"
    assert report.dmarc.result == AuthResult.PASS

    sub = check(signed("news.example.net", domain=b"mail.example.net"), mail_from="")
    assert sub.dmarc.result == AuthResult.PASS  # mail.example.net aligns with news.example.net
    assert sub.spf_domain == "mx.example.net"  # the null sender: SPF for the HELO name


def test_a_subdomain_gets_sp_and_strict_alignment_needs_the_same_domain(dns_server: LocalDNS
                                                                        ) -> None:
    forged = check(mail()[0].replace(b"dana@example.net", b"dana@news.example.net"),
                   mail_from="x@elsewhere.example")
    assert (forged.dmarc.result, forged.dmarc.domain, forged.dmarc.published,
            forged.dmarc.disposition) == (AuthResult.FAIL, "news.example.net",
                                          DmarcPolicy.QUARANTINE, DmarcPolicy.QUARANTINE)
    strict = check(signed("strict.example", domain=b"mail.example.net"))
    assert strict.dmarc.result == AuthResult.FAIL


def test_pct_samples_out_to_the_next_milder_policy_and_two_records_are_none(
        dns_server: LocalDNS) -> None:
    sampled = check(signed("sampled.example", domain=b"esp.example"),
                    mail_from="x@esp.example").dmarc
    assert (sampled.published, sampled.disposition) == (DmarcPolicy.REJECT,
                                                        DmarcPolicy.QUARANTINE)
    assert check(signed("twice.example"), mail_from="x@esp.example").dmarc.result == (
        AuthResult.NONE)
    # Several at the From domain end the discovery: not the organisational domain's p=reject.
    assert check(signed("twice.example.net", domain=b"esp.example"),
                 mail_from="x@esp.example").dmarc.result == AuthResult.NONE


def test_silent_name_servers_give_temperror_within_the_budget(dns_server: LocalDNS) -> None:
    report = check(signed("slow.example", domain=b"slow.example"), budget=0.5)
    assert report.dkim[0].result == AuthResult.TEMPERROR
    assert report.dmarc.result == AuthResult.TEMPERROR
    lookups = MessageLookups(0)
    with pytest.raises(dns.exception.Timeout):
        lookups.txt("example.net")


def test_a_dns_failure_of_the_aligned_checks_is_dmarc_temperror_never_a_rejection(
        dns_server: LocalDNS) -> None:
    report = check(signed("flaky.example", domain=b"flaky.example"),
                   mail_from="dana@flaky.example")
    assert (report.spf, report.dkim[0].result) == (AuthResult.TEMPERROR, AuthResult.TEMPERROR)
    assert report.dmarc.result == AuthResult.TEMPERROR
    assert decide(report, AuthPolicy(), frozenset()).refusal == ""


@pytest.mark.parametrize(("author", "domains"), [
    ('a"b <ceo@ours.example>', ("ours.example",)),  # too odd for the address parser
    ("ceo@paypal.example, x@evil.example", ("paypal.example", "evil.example")),
    ("ceo@paypal.example <x@evil.example>", ("paypal.example", "evil.example")),
    ("\"'dana@example.net' via Group\" <group@lists.example>", ("lists.example",)),
])
def test_every_domain_a_from_field_names_counts(dns_server: LocalDNS, author: str,
                                                domains: tuple[str, ...]) -> None:
    raw = mail()[0].replace(b"From: Dana <dana@example.net>", f"From: {author}".encode())
    report = check(raw, mail_from="x@elsewhere.example")
    assert report.from_domains == domains
    decision = decide(report, AuthPolicy(), frozenset({"ours.example"}))
    if len(domains) > 1:
        assert decision.spam_reason.startswith("From: names several domains")
    elif domains == ("ours.example",):
        assert decision.spam_reason.startswith("From: claims our own domain ours.example")
    else:
        assert decision == decide(report, AuthPolicy(), frozenset())


def test_a_signature_that_leaves_part_of_the_body_unsigned_does_not_pass(
        dns_server: LocalDNS) -> None:
    data, _ = mail(sender="Dana <dana@example.net>")
    whole = dkim.sign(data, b"s1", b"example.net", AUTHOR_KEY, length=True) + data
    assert check(whole, mail_from="x@elsewhere.example").dmarc.result == AuthResult.PASS
    spaced, _ = mail(sender="Dana <dana@example.net>", body="<p>\n        indented   html\n</p>")
    relaxed = dkim.sign(spaced, b"s1", b"example.net", AUTHOR_KEY, length=True,
                        canonicalize=(b"relaxed", b"relaxed")) + spaced
    assert check(relaxed, mail_from="x@elsewhere.example").dmarc.result == AuthResult.PASS
    added = whole + b"Also: wire the money to account 666.\r\n"
    report = check(added, mail_from="x@elsewhere.example")
    assert [(s.result, s.comment) for s in report.dkim] == [
        (AuthResult.POLICY, "l= leaves part of the body unsigned")]
    assert report.dmarc.result == AuthResult.FAIL


def test_a_list_s_arc_seal_from_a_trusted_sealer_keeps_the_original_pass(
        dns_server: LocalDNS) -> None:
    original = signed("example.net", subject="Meeting")
    # The list changes the subject, which breaks the author's signature, records what it saw
    # and seals.
    changed = original.replace(b"Subject: Meeting", b"Subject: [team] Meeting")
    changed = (b"Authentication-Results: lists.example; dkim=pass header.d=example.net;"
               b" dmarc=pass header.from=example.net\r\n" + changed)
    seal = dkim.arc_sign(changed, b"arc", b"lists.example", LIST_KEY, b"lists.example")
    report = check(b"".join(seal) + changed, mail_from="team-bounces@lists.example")
    assert report.dkim[0].result == AuthResult.FAIL
    assert report.dmarc.result == AuthResult.FAIL
    assert (report.arc.result, report.arc.sealer, report.arc.instance,
            report.arc.recorded_dmarc, report.arc.recorded_from) == (
        AuthResult.PASS, "lists.example", 1, "pass", "example.net")
    trusting = AuthPolicy(trusted_sealers=frozenset({"lists.example"}))
    assert decide(report, trusting, frozenset()).arc_override == "lists.example"
    assert decide(report, AuthPolicy(), frozenset()).refusal


def test_a_result_hidden_behind_a_bare_cr_does_not_stand_in_for_the_sealed_one(
        dns_server: LocalDNS) -> None:
    changed = (b"Authentication-Results: lists.example; dmarc=fail header.from=example.net\r\n"
               + signed("example.net", subject="Pay").replace(b"Subject: ", b"Subject: [x] "))
    sealed = b"".join(dkim.arc_sign(changed, b"arc", b"lists.example", LIST_KEY,
                                    b"lists.example")) + changed
    # dkimpy reads this as one X-Note field; a reader ending lines at a CR sees two.
    forged = (b"X-Note: a\rARC-Authentication-Results: i=1; lists.example; dmarc=pass"
              b" header.from=example.net\r\n" + sealed)
    report = check(forged, mail_from="team-bounces@lists.example")
    assert (report.arc.result, report.arc.recorded_dmarc) == (AuthResult.PASS, "fail")
    trusting = AuthPolicy(trusted_sealers=frozenset({"lists.example"}))
    assert decide(report, trusting, frozenset()).refusal


def list_sealed(subject: str) -> bytes:
    changed = signed("example.net", subject=subject).replace(b"Subject: ", b"Subject: [team] ")
    changed = (b"Authentication-Results: lists.example; dmarc=pass header.from=example.net\r\n"
               + changed)
    return b"".join(dkim.arc_sign(changed, b"arc", b"lists.example", LIST_KEY,
                                  b"lists.example")) + changed


def test_from_kept_answers_alone_the_checks_find_what_they_found_asking(
        dns_server: LocalDNS) -> None:
    messages = [(signed("example.net"), "dana@example.net"),
                (signed("news.example.net", domain=b"mail.example.net"), ""),
                (mail()[0].replace(b"dana@example.net", b"dana@news.example.net"),
                 "x@elsewhere.example"),
                (list_sealed("Meeting"), "team-bounces@lists.example")]
    for raw, mail_from in messages:
        with pytest.raises(NotCached):  # nothing kept yet: SPF, the first check, says so
            check_sender(raw, CLIENT, mail_from, "mx.example.net",
                         MessageLookups(2, cached_only=True))
        asked = check(raw, mail_from)
        questions = len(dns_server.asked)
        assert check_sender(raw, CLIENT, mail_from, "mx.example.net",
                            MessageLookups(2, cached_only=True)) == asked
        assert len(dns_server.asked) == questions


def test_an_spf_result_is_kept_for_the_client_the_sender_domain_and_the_helo_name(
        dns_server: LocalDNS) -> None:
    assert check_spf(CLIENT, "dana@example.net", "mx.example.net",
                     MessageLookups(2)) == AuthResult.PASS
    questions = len(dns_server.asked)
    kept = MessageLookups(2, cached_only=True)
    assert check_spf(CLIENT, "lee@Example.NET", "MX.example.net", kept) == AuthResult.PASS
    assert len(dns_server.asked) == questions
    for other_client, other_helo in (("192.0.2.8", "mx.example.net"), (CLIENT, "mx2.example")):
        with pytest.raises(NotCached):
            check_spf(other_client, "dana@example.net", other_helo, kept)


def test_an_spf_result_that_depends_on_the_local_part_or_failed_to_come_is_not_kept(
        dns_server: LocalDNS) -> None:
    assert check_spf(CLIENT, "dana@macro.example", "mx.example.net",
                     MessageLookups(2)) == AuthResult.PASS
    assert check_spf(CLIENT, "lee@macro.example", "mx.example.net",
                     MessageLookups(2)) == AuthResult.FAIL
    assert check_spf(CLIENT, "dana@slow.example", "mx.example.net",
                     MessageLookups(0.3)) == AuthResult.TEMPERROR
    for mail_from in ("dana@macro.example", "dana@slow.example"):
        with pytest.raises(NotCached):
            check_spf(CLIENT, mail_from, "mx.example.net", MessageLookups(2, cached_only=True))
