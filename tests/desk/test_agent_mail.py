"""Agents' mail without a server: their reply addresses, how the routing table treats them,
what the gateway withholds at DATA, and which DKIM signatures prove an agent's answer."""

from __future__ import annotations

import time
from collections.abc import Callable

import dkim
import pytest

from casegate.desk import dkim_proof
from casegate.desk.authorship import agent_of_reply_address, reply_address
from casegate.desk.dkim_proof import dkim_signer
from casegate.desk.onward import author_address, kept_at_desk, reply_address_refusal
from casegate.desk.parsing import parse_message
from casegate.desk.threading import signed_message_id
from casegate.mail.headers import HeaderFields
from casegate.routing.engine import (
    RoutingTable,
    Target,
    TargetKind,
    Verdict,
    build_table,
    compile_rule,
)
from tests.e2e.test_forwarding import rsa_key
from tests.mails import mail
from tests.support import LocalDNS

AGENT = "ivy@agents.example"
HELP = "help@solarmora.com"
INTAKE = "support@x1.case.desk.solarmora.com"
CRM = "crm@crm.example"
ALEX = "alex@solarmora.com"


def table(agent_id: int = 7) -> RoutingTable:
    crm_rule = compile_rule(id=1, position=1, match_type="address", match_value=HELP,
                            rewrite="recipient", rewrite_value=INTAKE, also_deliver=[CRM])
    archive_rule = compile_rule(id=2, position=2, match_type="all", also_deliver=[ALEX],
                                apply_to="all")
    return build_table(version=1, domains=["solarmora.com"], accounts=[ALEX], groups={},
                       intakes={INTAKE: 3}, rules=[crm_rule, archive_rule],
                       agent_addresses=[AGENT], agent_reply_addresses=[reply_address(agent_id)])


def test_a_reply_address_names_its_agent_and_cannot_be_made_up() -> None:
    address = reply_address(7)
    assert address.startswith("reply+7.") and address.endswith("@desk.casegate.localhost")
    assert agent_of_reply_address(address) == 7
    assert agent_of_reply_address(address.upper()) == 7
    assert agent_of_reply_address(address.replace("reply+7.", "reply+8.")) is None
    assert agent_of_reply_address(address.replace("@desk.", "@other.")) is None
    assert agent_of_reply_address(HELP) is None


def test_a_reply_address_reaches_the_desk_alone_whatever_the_rules() -> None:
    routes = table()
    routing = routes.route(reply_address(7))
    assert routing.verdict is Verdict.ACCEPT and routing.rules == ()
    assert routing.targets == (Target(reply_address(7), TargetKind.DESK),)
    assert routes.route(reply_address(7), spam=True).verdict is Verdict.QUARANTINE
    assert routes.is_ours(reply_address(7))
    assert routes.route(reply_address(8)).verdict is Verdict.RELAY_DENIED


def final(sender: str, rcpts: list[str], in_reply_to: str, mail_from: str = ""
          ) -> set[tuple[str, str]]:
    """Each envelope recipient with the final recipients the gateway delivers it to."""
    routes = table()
    raw, _ = mail(sender=sender, to=", ".join(rcpts),
                  headers={"In-Reply-To": in_reply_to} if in_reply_to else {})
    routings = kept_at_desk([routes.route(r) for r in rcpts], HeaderFields(raw), mail_from,
                            routes, "Q1")
    return {(r.recipient, t.address) for r in routings for t in r.targets}


def test_an_agents_answer_to_help_is_not_forwarded_by_its_rules() -> None:
    assert final(f"Ivy <{AGENT}>", [HELP, ALEX], signed_message_id("c", 12, "gw.test")) == {
        (HELP, INTAKE), (ALEX, ALEX)}  # Alex was written to, not forwarded to


def test_the_gateway_reads_the_sender_as_the_desk_does() -> None:
    """An encoded word in the address, or no address in From (the desk then takes the
    envelope sender): the desk files the agent's answer, so the CRM must not get it."""
    signed = signed_message_id("c", 12, "gw")
    assert final("=?utf-8?q?ivy?=@agents.example", [HELP], signed) == {(HELP, INTAKE)}
    assert final("undisclosed-recipients:;", [HELP], signed, mail_from=AGENT) == {
        (HELP, INTAKE)}
    assert final("hana@customer.example", [HELP], signed, mail_from=AGENT) == {
        (HELP, INTAKE), (HELP, CRM), (HELP, ALEX)}


@pytest.mark.parametrize("from_field", [
    "=?utf-8?q?Ivy?= <=?utf-8?q?IVY?=@agents.example>", "=?utf-8?q?ivy=40agents.example?=",
    "=?utf-8?b?eA0KWTogeg==?= <ivy@agents.example>", "Ivy\r\n <ivy@agents.example>",
    "a\x00b <ivy@agents.example>", "J\xf6rg <ivy@agents.example>", "",
    "undisclosed-recipients:;", "=?utf-8?q?=ZZ?= =?bogus?x?abc?= <ivy@agents.example>"])
def test_the_desk_and_the_gateway_read_one_sender(from_field: str) -> None:
    raw = f"From: {from_field}\r\nSubject: s\r\n\r\nbody\r\n".encode()
    assert author_address(HeaderFields(raw), "") == parse_message(raw).sender


def test_customer_mail_and_an_agents_new_message_are_forwarded() -> None:
    forwarded = {(HELP, INTAKE), (HELP, CRM), (HELP, ALEX)}
    assert final("hana@customer.example", [HELP], signed_message_id("c", 12, "gw")) == forwarded
    assert final(AGENT, [HELP], "<someone@else.example>") == forwarded


def test_a_reply_address_takes_only_answers_to_our_mail() -> None:
    def headers(in_reply_to: str) -> HeaderFields:
        return HeaderFields(mail(sender=AGENT, headers={"In-Reply-To": in_reply_to}
                                 if in_reply_to else {})[0])
    address = reply_address(7)
    assert reply_address_refusal([address], headers(""), table()).startswith(
        f"550 5.7.1 <{address}>: ")
    assert reply_address_refusal([address], headers("<a@b.example>"), table()) != ""
    signed = headers(signed_message_id("c", 12, "gw"))
    assert reply_address_refusal([address], signed, table()) == ""
    assert reply_address_refusal([HELP], headers(""), table()) == ""


def test_a_dkim_signature_proves_the_senders_domain_or_a_sub_domain(
        setting: Callable[..., None]) -> None:
    key, record = rsa_key()
    with LocalDNS({"s1._domainkey.agents.example.": {"TXT": [record]}}) as server:
        setting("CASEGATE_DNS_SERVERS", server.address)
        data, _ = mail(sender=AGENT)
        signed = dkim.sign(data, b"s1", b"agents.example", key) + data
        assert dkim_signer(signed, "agents.example") == ("agents.example", "")
        assert dkim_signer(signed, "eu.agents.example") == ("agents.example", "")
        assert dkim_signer(signed, "evil-agents.example")[1] == (
            "the DKIM signature is by agents.example, not by evil-agents.example")
        partial = dkim.sign(data, b"s1", b"agents.example", key, length=True) + data
        assert "covers only part of the body" in dkim_signer(partial, "agents.example")[1]
        assert dkim_signer(data, "agents.example") == ("", "the message has no DKIM signature")


DEFAULT_SIGNED = (b"from", b"to", b"subject", b"date", b"message-id")  # dkimpy's choice here


def signature(data: bytes, key: bytes, domain: bytes = b"agents.example",
              selector: bytes = b"s1", signs: tuple[bytes, ...] = DEFAULT_SIGNED,
              length: bool = False) -> bytes:
    """A DKIM-Signature field for ``data``, signing the fields ``signs``."""
    return dkim.sign(data, selector, domain, key, include_headers=list(signs), length=length)


def signed_answer(key: bytes, signs: tuple[bytes, ...], headers: dict[str, str]) -> bytes:
    data, _ = mail(sender=AGENT, headers=headers)
    return signature(data, key, signs=signs) + data


def test_signatures_that_cannot_prove_the_answer_cost_no_dns_lookup(
        setting: Callable[..., None]) -> None:
    key, _ = rsa_key()
    data, _ = mail(sender=AGENT, headers={"In-Reply-To": signed_message_id("c", 12, "gw")})
    with LocalDNS({}) as server:
        setting("CASEGATE_DNS_SERVERS", server.address)
        raw = (b"".join(signature(data, key, domain=f"d{n}.example".encode()) for n in range(5))
               + signature(data, key, signs=(b"from", b"in-reply-to"), length=True)
               + signature(data, key)  # does not sign In-Reply-To
               + data)
        signer, why_not = dkim_signer(raw, "agents.example")
        assert signer == "" and server.asked == []
        assert why_not.startswith("the DKIM signature is by d0.example, not by agents.example")
        assert why_not.endswith("; and 4 more")


@pytest.mark.parametrize("signs", [(b"from",), (b"from", b"in-reply-to"),
                                   (b"from", b"in-reply-to", b"references")])
def test_a_signature_proves_an_answer_only_when_it_signs_the_answered_message_id(
        setting: Callable[..., None], signs: tuple[bytes, ...]) -> None:
    """A mail the agent once signed, with a signed Message-ID of ours added, is no answer."""
    key, record = rsa_key()
    ours = signed_message_id("c", 12, "gw")
    thread = {"In-Reply-To": ours, "References": f"<a@b.example> {ours}"}
    with LocalDNS({"s1._domainkey.agents.example.": {"TXT": [record]}}) as server:
        setting("CASEGATE_DNS_SERVERS", server.address)
        signed = signed_answer(key, signs, thread)
        if b"references" in signs:
            assert dkim_signer(signed, "agents.example") == ("agents.example", "")
            added = signed.replace(b"\r\nReferences:",
                                   f"\r\nIn-Reply-To: {ours}\r\nReferences:".encode(), 1)
            why_not = dkim_signer(added, "agents.example")[1]
            assert why_not.endswith("does not sign every In-Reply-To field of the message")
        else:
            unsigned = "References" if b"in-reply-to" in signs else "In-Reply-To"
            assert dkim_signer(signed, "agents.example")[1] == (
                f"the DKIM signature of agents.example does not sign every {unsigned} field of"
                " the message")
        oversigned = signed_answer(key, (b"from", b"from", b"in-reply-to", b"in-reply-to"),
                                   {"In-Reply-To": ours})
        assert dkim_signer(oversigned, "agents.example") == ("agents.example", "")


def test_a_signature_older_than_30_days_proves_nothing(setting: Callable[..., None]) -> None:
    key, record = rsa_key()
    with LocalDNS({"s1._domainkey.agents.example.": {"TXT": [record]}}) as server:
        setting("CASEGATE_DNS_SERVERS", server.address)
        data, _ = mail(sender=AGENT)
        assert dkim_signer(signature(data, key) + data, "agents.example")[0] == "agents.example"
        now = time.time()
        with pytest.MonkeyPatch.context() as clock:
            clock.setattr(time, "time", lambda: now - 31 * 24 * 3600)
            old = signature(data, key) + data
        assert dkim_signer(old, "agents.example")[1] == (
            "the DKIM signature of agents.example is more than 30 days old")


def test_a_proof_checks_two_signatures_at_most_and_gives_up_in_time(
        setting: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> None:
    """Key lookups that hang leave the answer unproven (a temporary error), and quickly."""
    key, _ = rsa_key()
    selectors = [f"s{n}".encode() for n in range(6)]
    data, _ = mail(sender=AGENT)
    raw = b"".join(signature(data, key, selector=s) for s in selectors) + data
    silent = {f"{s.decode()}._domainkey.agents.example." for s in selectors}
    with LocalDNS({}, silent=silent) as server:
        setting("CASEGATE_DNS_SERVERS", server.address)
        monkeypatch.setattr(dkim_proof, "DEADLINE", 1.5)
        unanswered: set[bytes] = set()
        started = time.monotonic()
        signer, why_not = dkim_signer(raw, "agents.example", unanswered)
        assert time.monotonic() - started < 2.5
        assert signer == "" and len(set(server.asked)) <= 2
        assert why_not.startswith("the DKIM key of agents.example could not be looked up in"
                                  " time (DKIM temporary error)")
        assert why_not.endswith("; 4 more DKIM signatures were not checked")

        # The next forged answer of the batch costs no time: the domain did not answer.
        asked, started = len(server.asked), time.monotonic()
        assert dkim_signer(raw, "agents.example", unanswered)[1] == why_not
        assert time.monotonic() - started < 0.5 and len(server.asked) == asked
