"""casegate verify: the article's step 3 as one command, naming the hop that failed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support import Instance, RecordingHandler, free_port, instance, smtp_sink


@pytest.fixture(scope="module")
def gateway(backend: str) -> Iterator[tuple[Instance, RecordingHandler]]:
    crm_port = free_port()
    with instance(backend) as inst, smtp_sink(crm_port) as (_, crm):
        inst.run("demo")
        inst.run("transport", "add", "my-crm.com", f"127.0.0.1:{crm_port}")
        inst.run("rule", "add", "--match", "crm@solarmora.com", "--replace-recipient",
                 "support@my-crm.com")
        inst.start()
        yield inst, crm


def verify(inst: Instance, address: str, *extra: str) -> tuple[int, dict]:
    done = inst.run("verify", address, "--smtp", f"127.0.0.1:{inst.smtp_port}", "--json",
                    *extra, check=False)
    return done.returncode, json.loads(done.stdout)


def test_every_hop_to_a_new_case_is_reported_with_its_time(gateway) -> None:
    inst, _ = gateway
    code, result = verify(inst, "help@solarmora.com")
    assert code == 0 and result["ok"], result
    assert [h["name"] for h in result["hops"]] == ["accepted", "routed", "delivered",
                                                   "case opened"]
    assert "rule #1 applied" in result["hops"][1]["detail"]
    assert result["hops"][3]["detail"].startswith("case ")
    times = [h["seconds"] for h in result["hops"]]
    assert times == sorted(times)
    text = inst.run("verify", "help@solarmora.com", "--smtp", f"127.0.0.1:{inst.smtp_port}")
    assert "verified: help@solarmora.com" in text.stdout


def test_the_failing_hop_is_named_with_the_reason(gateway) -> None:
    inst, crm = gateway
    code, result = verify(inst, "nobody@solarmora.com")
    assert code == 1 and result["failure"].startswith("accepted: RCPT TO refused: 550")
    crm.reply = "550 5.7.1 This CRM refuses your message"
    try:
        code, result = verify(inst, "crm@solarmora.com")
        assert code == 1
        assert result["failure"].startswith("delivered: support@my-crm.com bounced")
        assert "550 5.7.1 This CRM refuses" in result["failure"]
        crm.reply = "451 4.3.0 Busy"
        code, result = verify(inst, "crm@solarmora.com", "--timeout", "2")
        assert code == 1 and "timeout waiting for delivery" in result["failure"]
        assert "451 4.3.0" in result["failure"]
        # given up: the test message is not delivered, or filed, after the test
        assert "1 deliveries not made in time" in result["removed"]
    finally:
        crm.reply = None
    code, result = verify(inst, "crm@solarmora.com")
    assert code == 0 and result["hops"][-1]["name"] == "delivered"
    inst.run("transport", "add", "closed.example", f"127.0.0.1:{free_port()}")  # nobody listens
    inst.run("rule", "add", "--match", "closed@solarmora.com", "--replace-recipient",
             "crm@closed.example")
    code, result = verify(inst, "closed@solarmora.com", "--timeout", "3")
    assert code == 1 and result["failure"].startswith("delivered: timeout waiting for delivery")
    assert "crm@closed.example" in result["failure"]


def test_reject_and_quarantine_rules_over_smtp(gateway) -> None:
    inst, _ = gateway
    inst.run("rule", "add", "--match", "ops@solarmora.com", "--reject",
             "Write to help@solarmora.com instead")
    inst.run("rule", "add", "--match-pattern", "hold-.*@solarmora.com", "--quarantine")
    with inst.smtp() as client:
        client.ehlo("client.example.net")
        client.mail("dana@example.net")
        code, reply = client.rcpt("ops@solarmora.com")
        assert (code, reply.decode()) == (
            550, "5.7.1 <ops@solarmora.com>: Write to help@solarmora.com instead")
    code, result = verify(inst, "hold-me@solarmora.com")
    assert code == 1 and result["failure"].startswith("routed: quarantined: held by rule #")
    held = inst.json("quarantine", "list")
    assert [q["recipient"] for q in held] == ["hold-me@solarmora.com"]


def conversation_id(result: dict) -> int:
    """The case's or lead's number in the "case opened" hop: "case 12, removed after…"."""
    return int(result["hops"][-1]["detail"].split()[1].rstrip(","))


def test_the_test_message_leaves_nothing_behind_unless_kept(gateway) -> None:
    inst, _ = gateway
    cases, leads = inst.cases(), inst.json("leads", "list")
    code, result = verify(inst, "help@solarmora.com")
    assert code == 0 and result["hops"][-1]["name"] == "case opened", result
    case = conversation_id(result)
    assert result["hops"][-1]["detail"] == f"case {case}, removed after the test"
    assert result["removed"] == [f"case {case}"]
    assert inst.cases() == cases
    assert inst.run("cases", "show", str(case), check=False).returncode == 1

    # sales@ opens a lead and leaves a copy in Alex's mailbox
    mailbox = inst.mailbox("alex@solarmora.com")
    code, result = verify(inst, "sales@solarmora.com")
    assert code == 0, result
    assert result["removed"] == [f"lead {conversation_id(result)}",
                                 "the copy in alex@solarmora.com's mailbox"]
    assert inst.json("leads", "list") == leads
    assert inst.mailbox("alex@solarmora.com") == mailbox
    assert "verify@gw.test" not in {c["address"] for c in inst.json("contacts", "list")}
    assert inst.sql("SELECT count(*) FROM desk_deskmessage WHERE subject LIKE 'Test message%'"
                    ) == [(0,)]
    text = inst.run("verify", "help@solarmora.com", "--smtp", f"127.0.0.1:{inst.smtp_port}")
    assert text.stdout.splitlines()[-1].startswith("removed after the test: case ")

    code, result = verify(inst, "sales@solarmora.com", "--keep")
    assert code == 0 and result["removed"] == []
    lead = conversation_id(result)
    assert result["hops"][-1]["detail"] == f"lead {lead} (casegate leads show {lead})"
    assert len(inst.mailbox("alex@solarmora.com")) == len(mailbox) + 1
    code, result = verify(inst, "help@solarmora.com", "--keep")
    kept = inst.json("cases", "show", str(conversation_id(result)))
    assert kept["tags"] == ["test"] and kept["first_response_due_at"] is None
    assert kept["subject"].startswith("Test message from casegate verify (")
    assert kept["requester"] == "verify@gw.test"
