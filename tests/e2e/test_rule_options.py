"""Every rule option over real SMTP: what arrives at a sink standing in for the CRM (headers,
subject, parts, envelope), or what the gateway answers."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.mails import mail
from tests.support import Instance, RecordingHandler, free_port, instance, smtp_sink

OURS = "solarmora.com"
CRM = "inbound@crm.example"
RULES = f"""\
rules:
  - match: address
    value: orig@{OURS}
    change: recipient
    to: {CRM}
    original_recipient_header: X-Original-Rcpt
  - match: address
    value: verdict@{OURS}
    change: recipient
    to: {CRM}
    spam_headers: true
  - match: address
    value: headers@{OURS}
    change: recipient
    to: {CRM}
    custom_headers: {{X-Team: support, X-Tier: gold}}
  - match: address
    value: prefix@{OURS}
    change: recipient
    to: {CRM}
    subject_prefix: "[Ext]"
  - match: address
    value: routed@{OURS}
    route: other-hop
  - match: address
    value: strip@{OURS}
    change: recipient
    to: {CRM}
    remove_attachments: true
  - match: address
    value: tls@{OURS}
    change: recipient
    to: {CRM}
    require_tls: true
  - match: group
    value: eng@{OURS}
    also_deliver: [{CRM}]
    apply_to: users
  - match: address
    value: lists@{OURS}
    change: recipient
    to: {CRM}
    sender_list: partners
    sender_list_mode: bypass
  - match: address
    value: limited@{OURS}
    change: recipient
    to: {CRM}
    rate_limit: 2
  - match: pattern
    value: conflict.*@solarmora\\.com
    change: recipient
    to: {CRM}
  - match: address
    value: conflict@{OURS}
    change: recipient
    to: second@crm.example
  - match: address
    value: closed@{OURS}
    change: recipient
    to: {CRM}
  - match: all
    apply_to: users
    subject_prefix: "[Top]"
  - match: all
    apply_to: users
    unit: /Sales
    subject_prefix: "[Sales]"
  - match: all
    change: recipient
    to: catchall@crm.example
    recipient_list: leavers
    recipient_list_mode: only
  - match: pattern
    value: closed@solarmora\\.com
    action: reject
    reject_text: This address is closed; write to help@{OURS}
"""


@pytest.fixture(scope="module")
def gateway(backend: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Instance, RecordingHandler, RecordingHandler]]:
    crm_port, hop_port = free_port(), free_port()
    with instance(backend) as inst, smtp_sink(crm_port) as (_, crm), \
            smtp_sink(hop_port) as (_, hop):
        inst.run("domain", "add", OURS)
        inst.run("unit", "add", "/Sales")
        for account in ("ann", "bob", "carol", "dave"):
            inst.run("account", "add", f"{account}@{OURS}",
                     *(["--unit", "/Sales"] if account == "ann" else []))
        inst.run("group", "add", f"team@{OURS}", "--member", f"ann@{OURS}")
        inst.run("group", "add", f"eng@{OURS}", "--member", f"team@{OURS}")
        inst.run("transport", "add", "crm.example", f"127.0.0.1:{crm_port}")
        inst.run("route", "add", "other-hop", f"127.0.0.1:{hop_port}")
        inst.run("address-list", "set", "partners", "partner.example")
        inst.run("address-list", "set", "leavers", f"carol@{OURS}")
        rules = tmp_path_factory.mktemp("rules") / "rules.yaml"
        rules.write_text(RULES)
        inst.run("rule", "import", str(rules))
        inst.start()
        yield inst, crm, hop


def arrived(inst: Instance, sink: RecordingHandler, marker: str
            ) -> tuple[str, list[str], EmailMessage]:
    found = inst.wait_for(lambda: [m for m in sink.messages if marker.encode() in m[2]],
                          what=f"the message {marker} at the sink")
    sender, rcpts, data = found[0]
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return sender, rcpts, parsed


def send(inst: Instance, to: str, subject: str, sender: str = "dana@example.net",
         from_header: str = "Dana <dana@example.net>") -> str:
    data, message_id = mail(subject=subject, to=to, sender=from_header)
    inst.send(sender, [to], data)
    return message_id


def rcpt_reply(inst: Instance, sender: str, rcpt: str) -> tuple[int, bytes]:
    with inst.smtp() as client:
        client.ehlo("client.example.net")
        client.mail(sender)
        return client.rcpt(rcpt)


def test_original_recipient_header(gateway) -> None:
    inst, crm, _ = gateway
    marker = send(inst, f"orig@{OURS}", "original recipient")
    _, rcpts, message = arrived(inst, crm, marker)
    assert rcpts == [CRM] and message["X-Original-Rcpt"] == f"orig@{OURS}"


def test_spam_and_phishing_verdict_headers(gateway) -> None:
    inst, crm, _ = gateway
    marker = send(inst, f"verdict@{OURS}", "verdicts",
                  from_header='"billing@yourbank.example" <dana@example.net>')
    _, _, message = arrived(inst, crm, marker)
    assert message["X-Casegate-Spam"] == "no"
    assert message["X-Casegate-Phishing"] == "yes"
    assert "yourbank.example" in message["X-Casegate-Phishing-Reason"]


def test_custom_headers(gateway) -> None:
    inst, crm, _ = gateway
    marker = send(inst, f"headers@{OURS}", "custom headers")
    _, _, message = arrived(inst, crm, marker)
    assert (message["X-Team"], message["X-Tier"]) == ("support", "gold")


def test_subject_prefix(gateway) -> None:
    inst, crm, _ = gateway
    marker = send(inst, f"prefix@{OURS}", "Où est ma commande ?")
    _, _, message = arrived(inst, crm, marker)
    assert message["Subject"] == "[Ext] Où est ma commande ?"


def test_change_route_sends_to_the_named_next_hop(gateway) -> None:
    inst, crm, hop = gateway
    marker = send(inst, f"routed@{OURS}", "another route")
    _, rcpts, _ = arrived(inst, hop, marker)
    assert rcpts == [f"routed@{OURS}"]
    assert not [m for m in crm.messages if marker.encode() in m[2]]


def test_remove_attachments_leaves_a_notice(gateway) -> None:
    inst, crm, _ = gateway
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = ("dana@example.net", f"strip@{OURS}",
                                                          "attachment")
    message["Message-ID"] = marker = "<strip.1@client.example.net>"
    message.set_content("The contract is attached.")
    message.add_attachment(b"PK\x03\x04 zip bytes" * 50, maintype="application",
                           subtype="zip", filename="contract.zip")
    inst.send("dana@example.net", [f"strip@{OURS}"], message.as_bytes(policy=policy.SMTP))
    _, _, received = arrived(inst, crm, marker)
    parts = [p for p in received.walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/plain"]
    assert "contract.zip (application/zip" in parts[1].get_content()
    assert b"PK\x03\x04" not in received.as_bytes()


def test_require_tls_defers_when_the_next_hop_has_no_starttls(gateway) -> None:
    inst, crm, _ = gateway
    marker = send(inst, f"tls@{OURS}", "needs TLS")
    deferred = inst.wait_for(lambda: [d for d in inst.json("queue", "list")
                                      if d["recipient"] == CRM and d["state"] == "deferred"
                                      and "TLS" in d["last_reply"]],
                             what="the TLS delivery deferred")
    assert "STARTTLS" in deferred[0]["last_reply"]
    assert not [m for m in crm.messages if marker.encode() in m[2]]


def test_group_membership_follows_a_member_added_to_a_nested_group(gateway) -> None:
    inst, crm, _ = gateway
    marker = send(inst, f"ann@{OURS}", "to a nested member")
    arrived(inst, crm, marker)
    before = send(inst, f"dave@{OURS}", "not a member yet")
    inst.run("group", "add-member", f"team@{OURS}", f"dave@{OURS}")
    after = send(inst, f"dave@{OURS}", "a member now")
    _, rcpts, _ = arrived(inst, crm, after)
    assert rcpts == [CRM]
    inst.wait_for(lambda: len(inst.mailbox(f"dave@{OURS}")) >= 2, what="dave's two messages")
    assert not [m for m in crm.messages if before.encode() in m[2]]


def test_a_suspended_account_counts_as_unrecognized(gateway) -> None:
    inst, crm, _ = gateway
    active = send(inst, f"carol@{OURS}", "while active")
    inst.wait_for(lambda: [m for m in inst.mailbox(f"carol@{OURS}") if active.encode() in m],
                  what="carol's mailbox copy")
    inst.run("account", "set", f"carol@{OURS}", "--suspend")
    suspended = send(inst, f"carol@{OURS}", "while suspended")
    _, rcpts, _ = arrived(inst, crm, suspended)
    assert rcpts == ["catchall@crm.example"]


def test_address_lists_bypass_a_rule_for_listed_senders(gateway) -> None:
    inst, crm, _ = gateway
    marker = send(inst, f"lists@{OURS}", "not listed", sender="dana@example.net")
    arrived(inst, crm, marker)
    code, _ = rcpt_reply(inst, "joe@mail.partner.example", f"lists@{OURS}")
    assert code == 550  # the rule is bypassed, and nothing else takes mail for lists@


def test_organisational_unit_rule_overrides_the_top_level_for_its_accounts(gateway) -> None:
    inst, _, _ = gateway
    sales = send(inst, f"ann@{OURS}", "unit check")
    top = send(inst, f"bob@{OURS}", "unit check")

    def subject(address: str, marker: str) -> str:
        found = [m for m in inst.mailbox(address) if marker.encode() in m]
        return message_from_bytes(found[0], policy=policy.default)["Subject"] if found else ""

    assert inst.wait_for(lambda: subject(f"ann@{OURS}", sales), what="ann's copy").startswith(
        "[Sales] ")
    assert inst.wait_for(lambda: subject(f"bob@{OURS}", top), what="bob's copy") == (
        "[Top] unit check")


def test_rate_limit_of_a_routed_address_answers_451(gateway) -> None:
    inst, _, _ = gateway
    with inst.smtp() as client:
        client.ehlo("client.example.net")
        for _ in range(2):  # transactions given up after RCPT are no messages
            client.mail("dana@example.net")
            assert client.rcpt(f"limited@{OURS}")[0] == 250
            client.rset()
        for _ in range(2):
            client.sendmail("dana@example.net", [f"limited@{OURS}"], b"Subject: x\r\n\r\nx\r\n")
        client.mail("dana@example.net")
        code, reply = client.rcpt(f"limited@{OURS}")
    assert code == 451
    assert b"4.7.1" in reply and b"at most 2 messages a minute" in reply


def test_two_rules_changing_the_recipient_the_higher_priority_wins(gateway) -> None:
    inst, crm, _ = gateway
    marker = send(inst, f"conflict@{OURS}", "conflict")
    _, rcpts, _ = arrived(inst, crm, marker)
    assert rcpts == [CRM]


def test_a_reject_rule_placed_last_still_rejects(gateway) -> None:
    inst, _, _ = gateway
    code, reply = rcpt_reply(inst, "dana@example.net", f"closed@{OURS}")
    assert code == 550 and b"5.7.1" in reply and b"This address is closed" in reply


def test_the_simulator_shows_each_option_without_sending(gateway) -> None:
    inst, _, _ = gateway
    result = inst.json("rule", "test", "--rcpt", f"ann@{OURS}", "--sender", "x@example.net")
    changes = [c for rule in result["rules"] for c in rule["changes"]]
    assert "prepend '[Sales]' to the subject" in changes
    assert f"also deliver to {CRM}" in changes
    assert result["disposition"] == "accept"


def test_history_and_rollback_from_the_command_line(gateway, tmp_path: Path) -> None:
    inst, _, _ = gateway
    versions = inst.json("rule", "history")
    assert versions[0]["summary"].startswith("import ")
    exported = inst.run("rule", "export").stdout
    assert "value: orig@solarmora.com" in exported
    bad = tmp_path / "bad.yaml"
    bad.write_text(exported.replace("match: group", "match: grouq"))
    refused = inst.run("rule", "import", str(bad), check=False)
    assert refused.returncode != 0 and f"{bad}:" in refused.stderr
    inst.run("rule", "add", "--match", f"extra@{OURS}", "--replace-recipient", CRM)
    assert "extra@" in inst.run("rule", "export").stdout
    inst.run("rule", "rollback", str(versions[0]["version"]))
    assert inst.run("rule", "export").stdout == exported
