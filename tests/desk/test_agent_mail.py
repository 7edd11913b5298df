"""Agents' mail without a server: their reply addresses, how the routing table treats them,
what the gateway withholds at DATA, and which DKIM signatures prove an agent's answer."""

from __future__ import annotations

from collections.abc import Callable

import dkim

from casegate.desk.authorship import agent_of_reply_address, dkim_signer, reply_address
from casegate.desk.onward import kept_at_desk, reply_address_refusal
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


def final(sender: str, rcpts: list[str], in_reply_to: str) -> set[tuple[str, str]]:
    """Each envelope recipient with the final recipients the gateway delivers it to."""
    routes = table()
    raw, _ = mail(sender=sender, to=", ".join(rcpts),
                  headers={"In-Reply-To": in_reply_to} if in_reply_to else {})
    routings = kept_at_desk([routes.route(r) for r in rcpts], HeaderFields(raw), routes, "Q1")
    return {(r.recipient, t.address) for r in routings for t in r.targets}


def test_an_agents_answer_to_help_is_not_forwarded_by_its_rules() -> None:
    assert final(f"Ivy <{AGENT}>", [HELP, ALEX], signed_message_id("c", 12, "gw.test")) == {
        (HELP, INTAKE), (ALEX, ALEX)}  # Alex was written to, not forwarded to


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
