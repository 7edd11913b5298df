"""An agent's answer by mail reaches the customer only with a proof that the agent sent it:
their own reply address, or a DKIM signature of their domain (here nothing comes from a
trusted network; tests/e2e/test_desk_agents.py answers from one). A message that only
looks like an agent's (their From address, one of our signed Message-IDs) stays on the
case as customer mail, marked, and never reaches the customer."""

from __future__ import annotations

import email
import smtplib
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from typing import Any

import dkim
import pytest

from tests.e2e.test_forwarding import rsa_key
from tests.mails import mail
from tests.support import Instance, LocalDNS, RecordingHandler, free_port, instance, smtp_sink

AGENT = "ivy@agents.example"
HANGING = "slow"  # a DKIM selector whose key lookups the name server never answers


@pytest.fixture(scope="module")
def desk(backend: str) -> Iterator[tuple[Instance, RecordingHandler, RecordingHandler, bytes]]:
    """The demo with an agent whose domain publishes a DKIM key (and whose name server hangs
    for the selector ``HANGING``); casegate trusts no client of the tests; customers and the
    agent behind their own sinks."""
    agent_key, agent_record = rsa_key()
    zone = {"s1._domainkey.agents.example.": {"TXT": [agent_record]}}
    customers_port, agents_port = free_port(), free_port()
    with (LocalDNS(zone, silent={f"{HANGING}._domainkey.agents.example."}) as dns_server,
          instance(backend, CASEGATE_TRUSTED_NETWORKS="192.0.2.0/24",
                   CASEGATE_DNS_SERVERS=dns_server.address,
                   CASEGATE_AUTH_DNS_TIMEOUT="0.5") as inst,
          smtp_sink(customers_port) as (_, customers), smtp_sink(agents_port) as (_, agents)):
        inst.run("demo")
        inst.run("agent", "add", AGENT, "--name", "Ivy Agent", "--username", "ivy")
        inst.run("transport", "add", "customer.example", f"127.0.0.1:{customers_port}")
        inst.run("transport", "add", "agents.example", f"127.0.0.1:{agents_port}")
        inst.start()
        yield inst, customers, agents, agent_key


def received_by(sink: RecordingHandler, rcpt: str) -> list[EmailMessage]:
    return [email.message_from_bytes(raw, policy=default)
            for _, rcpts, raw in sink.messages if rcpt in rcpts]


def question(inst: Instance, agents: RecordingHandler, customer: str, subject: str
             ) -> tuple[dict[str, Any], EmailMessage]:
    """A customer's new case, and the agent's notification of it."""
    data, message_id = mail(subject=subject, sender=customer, to="help@solarmora.com")
    inst.send(customer, ["help@solarmora.com"], data)
    case = inst.case_with(message_id)
    notice = inst.wait_for(lambda: [m for m in received_by(agents, AGENT)
                                    if f"[#CG-{case['id']}]" in m["Subject"]],
                           what="the notification")[0]
    return case, notice


def messages(inst: Instance, case: dict[str, Any]) -> list[dict[str, Any]]:
    return inst.json("cases", "show", str(case["id"]))["messages"]


def answer(notice: EmailMessage, body: str, sender: str = AGENT, to: str = "help@solarmora.com",
           in_reply_to: str = "") -> bytes:
    return mail(subject=f"Re: {notice['Subject']}", sender=sender, to=to, body=body,
                headers={"In-Reply-To": in_reply_to or notice["Message-ID"]})[0]


def test_an_answer_to_the_agents_reply_address_reaches_the_customer(desk) -> None:
    inst, customers, agents, _ = desk
    case, notice = question(inst, agents, "hana@customer.example", "Inverter shows E42")
    reply_address = notice["Reply-To"]
    assert reply_address.startswith("reply+") and reply_address.endswith(
        "@desk.casegate.localhost")

    inst.send(AGENT, [reply_address], answer(notice, "Update the firmware to 2.1.",
                                             to=reply_address))
    [reply] = inst.wait_for(lambda: received_by(customers, "hana@customer.example"),
                            what="the reply at the customer")
    assert reply.get_content().strip() == "Update the firmware to 2.1."
    assert reply["From"] == "help@solarmora.com" and reply_address not in reply.as_string()
    [sent] = [m for m in messages(inst, case) if m["direction"] == "outbound"]
    assert sent["author"] == "ivy" and sent["parse_problems"] == []

    # Someone else holding the address (a forwarded notification) is not the agent.
    inst.send("omar@customer.example", [reply_address],
              answer(notice, "Also, my neighbour's panel.", sender="omar@customer.example",
                     to=reply_address))
    [kept] = inst.wait_for(lambda: [m for m in messages(inst, case)
                                    if m["sender"] == "omar@customer.example"],
                           what="the other sender's message on the case")
    assert kept["direction"] == "inbound" and kept["author"] is None
    assert "not from the agent's address" in kept["parse_problems"][-1]

    # The address takes answers to our notifications only.
    stray, _ = mail(subject="hello", sender=AGENT, to=reply_address)
    with inst.smtp() as client:
        client.ehlo("client.example.net")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail(AGENT, [reply_address], stray)
    assert refused.value.smtp_code == 550 and b"5.7.1" in refused.value.smtp_error
    assert len(received_by(customers, "hana@customer.example")) == 1


def test_a_forged_agent_reply_reaches_no_customer_and_stays_as_customer_mail(desk) -> None:
    inst, customers, agents, _ = desk
    case, notice = question(inst, agents, "jon@customer.example", "Refund for order 77")
    inst.run("cases", "reply", str(case["id"]), "--text", "Your refund is on its way.",
             "--as", "ivy")
    [reply] = inst.wait_for(lambda: received_by(customers, "jon@customer.example"),
                            what="the agent's reply at the customer")

    # Whoever saw the reply (the customer, anyone copied) knows its signed Message-ID.
    forged = answer(notice, "Please first pay a 50 EUR fee to IBAN XX00 0000.",
                    sender=f"Ivy Agent <{AGENT}>", in_reply_to=reply["Message-ID"])
    inst.send(AGENT, ["help@solarmora.com"], forged)
    [kept] = inst.wait_for(lambda: [m for m in messages(inst, case) if "IBAN" in m["text"]],
                           what="the forged message on the case")
    assert kept["direction"] == "inbound" and kept["author"] is None
    assert kept["parse_problems"][-1].startswith("sent as agent ivy but not authenticated:")
    assert "client 127.0.0.1 is not on a trusted network" in kept["parse_problems"][-1]
    assert "no DKIM signature" in kept["parse_problems"][-1]

    inst.run("cases", "reply", str(case["id"]), "--text", "Second answer.", "--as", "ivy")
    inst.wait_for(lambda: len(received_by(customers, "jon@customer.example")) == 2,
                  what="the agent's second reply")
    texts = [m.get_content().strip() for m in received_by(customers, "jon@customer.example")]
    assert texts == ["Your refund is on its way.", "Second answer."]


def test_an_answer_with_the_agents_domain_dkim_signature_reaches_the_customer(desk) -> None:
    inst, customers, agents, agent_key = desk
    case, notice = question(inst, agents, "kai@customer.example", "Battery warranty")
    data = answer(notice, "The battery is covered until 2031.", sender=f"Ivy <{AGENT}>")
    signature = dkim.sign(data, b"s1", b"agents.example", agent_key,
                          include_headers=[b"from", b"to", b"subject", b"message-id",
                                           b"in-reply-to"])
    inst.send(AGENT, ["help@solarmora.com"], signature + data)
    [reply] = inst.wait_for(lambda: received_by(customers, "kai@customer.example"),
                            what="the reply at the customer")
    assert reply.get_content().strip() == "The battery is covered until 2031."
    [sent] = [m for m in messages(inst, case) if m["direction"] == "outbound"]
    assert sent["author"] == "ivy"

    # The same signature on other words proves nothing.
    tampered = signature + data.replace(b"2031", b"2099")
    inst.send(AGENT, ["help@solarmora.com"], tampered.replace(b"Message-ID: <",
                                                              b"Message-ID: <x"))
    [kept] = inst.wait_for(lambda: [m for m in messages(inst, case) if "2099" in m["text"]],
                           what="the tampered answer on the case")
    assert kept["direction"] == "inbound"
    assert "DKIM signature of agents.example does not verify" in kept["parse_problems"][-1]


def test_an_agents_old_signed_mail_made_into_an_answer_proves_nothing(desk) -> None:
    """Any mail the agent sent, DKIM-signed without In-Reply-To, with our signed Message-ID
    added afterwards: not the agent's answer."""
    inst, customers, agents, agent_key = desk
    case, notice = question(inst, agents, "lea@customer.example", "Meter reading")
    old, _ = mail(subject=f"Re: {notice['Subject']}", sender=f"Ivy <{AGENT}>",
                  body="Send 50 EUR to IBAN XX11 to unlock your meter.")
    signature = dkim.sign(old, b"s1", b"agents.example", agent_key,
                          include_headers=[b"from", b"to", b"subject", b"message-id"])
    replayed = signature + f"In-Reply-To: {notice['Message-ID']}\r\n".encode() + old
    inst.send(AGENT, ["help@solarmora.com"], replayed)
    [kept] = inst.wait_for(lambda: [m for m in messages(inst, case) if "XX11" in m["text"]],
                           what="the replayed mail on the case")
    assert kept["direction"] == "inbound" and kept["author"] is None
    assert ("the DKIM signature of agents.example does not sign every In-Reply-To field"
            in kept["parse_problems"][-1])
    assert received_by(customers, "lea@customer.example") == []


def test_signatures_whose_keys_cannot_be_looked_up_hold_the_desk_up_briefly(desk) -> None:
    """A forged answer with many signatures whose key lookups hang: the desk gives up on them
    within a lookup's 5 seconds and files the message as customer mail."""
    inst, customers, agents, agent_key = desk
    case, notice = question(inst, agents, "max@customer.example", "Panel cleaning")
    data = answer(notice, "Pay the cleaning fee to IBAN XX22.", sender=AGENT)
    signatures = b"".join(
        dkim.sign(data, HANGING.encode(), b"agents.example", agent_key,
                  include_headers=[b"from", b"to", b"subject", b"in-reply-to"])
        for _ in range(12))
    started = time.monotonic()
    inst.send(AGENT, ["help@solarmora.com"], signatures + data)
    [kept] = inst.wait_for(lambda: [m for m in messages(inst, case) if "XX22" in m["text"]],
                           what="the forged answer on the case")
    assert time.monotonic() - started < 18
    assert kept["direction"] == "inbound" and kept["author"] is None
    assert "(DKIM temporary error)" in kept["parse_problems"][-1]
    assert "10 more DKIM signatures were not checked" in kept["parse_problems"][-1]
    assert received_by(customers, "max@customer.example") == []
