"""Triggers and macros as a user runs them: mail over SMTP to ``casegate serve``, changes
from the command line and the API, replies caught by an SMTP server standing in for the
customers' (SQLite and PostgreSQL)."""

from __future__ import annotations

import email
import json
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from tests.mails import mail
from tests.support import Instance, RecordingHandler, free_port, instance, smtp_sink

TRIGGERS = """\
triggers:
  - name: Refunds to billing
    events: [case_created]
    conditions:
      all:
        - {field: original_recipient, is: help@solarmora.com}
        - {field: subject, contains: refund}
    actions:
      - team: Billing
      - assign_round_robin: Billing
      - add_tags: [refund]
      - reply: |
          Hello {{requester.name}},
          {{agent.name}} of our billing team has your request {{case.number}}.
  - name: Up
    events: [field_changed]
    conditions:
      all:
        - {field: priority, is: low}
    actions:
      - priority: high
  - name: Down
    events: [field_changed]
    conditions:
      all:
        - {field: priority, is: high}
    actions:
      - priority: low
"""


@pytest.fixture(scope="module")
def desk(backend: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Instance, RecordingHandler, Path]]:
    port = free_port()
    files = tmp_path_factory.mktemp("triggers")
    with instance(backend) as inst, smtp_sink(port) as (_, sink):
        inst.run("demo")
        for domain in ("customer.example", "agents.example"):
            inst.run("transport", "add", domain, f"127.0.0.1:{port}")
        for name in ("ann", "bob", "cid"):
            inst.run("agent", "add", f"{name}@agents.example", "--name", f"{name.title()} Agent",
                     "--username", name, "--team", "Billing", "--no-notify",
                     "--signature", f"{name.title()}, billing team")
        (files / "triggers.yaml").write_text(TRIGGERS)
        inst.run("trigger", "import", str(files / "triggers.yaml"))
        inst.start(http=True)
        yield inst, sink, files


def to(sink: RecordingHandler, rcpt: str) -> list[EmailMessage]:
    return [email.message_from_bytes(raw, policy=default)  # type: ignore[misc]
            for _, rcpts, raw in sink.messages if rcpts == [rcpt]]


def text_of(message: EmailMessage) -> str:
    return str(message.get_content()).replace("\r\n", "\n").strip()


def show(inst: Instance, case_id: int) -> dict:
    return json.loads(inst.run("cases", "show", str(case_id), "--json").stdout)


def test_refund_mail_goes_to_billing_round_robin_tagged_and_answered(desk) -> None:
    inst, sink, _ = desk
    cases = []
    for n in (1, 2, 3):
        data, message_id = mail(subject=f"Refund for order {n}",
                                sender=f"Customer {n} <c{n}@customer.example>",
                                to="help@solarmora.com")
        inst.send(f"c{n}@customer.example", ["help@solarmora.com"], data)
        cases.append(inst.case_with(message_id))
    details = [inst.wait_for(lambda c=c: (d := show(inst, c["id"]))["assignee"] and d,
                             what="the assignment") for c in cases]
    assert [d["assignee"] for d in details] == ["ann", "bob", "cid"]
    assert all(d["team"] == "Billing" and d["tags"] == ["refund"] for d in details)
    actor = "trigger:Refunds to billing"
    history = [(e["field"], e["actor"]) for e in details[0]["history"]]
    assert history == [("team", actor), ("assignee", actor), ("tags", actor),
                       ("reply", actor)]
    answer = inst.wait_for(lambda: to(sink, "c2@customer.example"), what="the reply")[0]
    assert answer["Auto-Submitted"] == "auto-replied"
    assert f"[#CG-{cases[1]['id']}]" in answer["Subject"]
    assert text_of(answer) == (
        f"Hello Customer 2,\nBob Agent of our billing team has your request "
        f"CG-{cases[1]['id']}.")

    other, other_id = mail(subject="Panel dark", sender="c9@customer.example",
                           to="help@solarmora.com")
    inst.send("c9@customer.example", ["help@solarmora.com"], other)
    plain = show(inst, inst.case_with(other_id)["id"])
    assert plain["team"] != "Billing" and not plain["history"]


def test_a_macro_applied_over_the_api_sets_fields_and_mails_its_reply(desk) -> None:
    inst, sink, _ = desk
    data, message_id = mail(subject="Invoice missing", sender="Dana Cohen <dana@customer.example>",
                            to="help@solarmora.com")
    inst.send("dana@customer.example", ["help@solarmora.com"], data)
    case = inst.case_with(message_id)
    inst.run("cases", "set", str(case["id"]), "--team", "Billing")
    inst.run("macro", "add", "Invoice resent", "--action", "status", "pending",
             "--action", "add_tags", "invoice",
             "--reply", "Dear {{requester.name}}, we sent the invoice again for "
                        "{{case.number}}.\n{{agent.signature}}")
    [macro] = inst.json("macro", "list")
    token = inst.run("token", "create", "ann").stdout.split()[-1]
    request = urllib.request.Request(
        f"http://127.0.0.1:{inst.http_port}/api/macros/{macro['id']}/apply",
        data=json.dumps({"case": case["id"]}).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        applied = json.load(answer)
    assert applied["case"]["status"] == "pending" and applied["case"]["tags"] == ["invoice"]
    reply = inst.wait_for(lambda: to(sink, "dana@customer.example"), what="the reply")[0]
    assert text_of(reply) == (
        f"Dear Dana Cohen, we sent the invoice again for CG-{case['id']}.\nAnn, billing team")
    assert reply["In-Reply-To"] == message_id
    history = show(inst, case["id"])["history"]
    assert ("status", "ann (macro Invoice resent)") in [(e["field"], e["actor"])
                                                         for e in history]


def test_two_triggers_undoing_each_other_stop_at_the_fixed_depth(desk) -> None:
    inst, _, _ = desk
    data, message_id = mail(subject="Ping pong", sender="pp@customer.example",
                            to="help@solarmora.com")
    inst.send("pp@customer.example", ["help@solarmora.com"], data)
    case = inst.case_with(message_id)
    inst.run("cases", "set", str(case["id"]), "--priority", "low")
    history = show(inst, case["id"])["history"]
    stops = [e for e in history if e["field"] == "triggers"]
    assert len(stops) == 1 and "stopped after 5 rounds" in stops[0]["after"]
    assert len([e for e in history if e["field"] == "priority"]) == 1 + 2 * 6


def test_an_import_with_one_bad_trigger_changes_nothing_and_rollback_restores(desk) -> None:
    inst, _, files = desk
    before = inst.run("trigger", "export").stdout
    bad = files / "bad.yaml"
    bad.write_text(TRIGGERS.replace("priority: high\n  - name: Down",
                                    "priority: highest\n  - name: Down"))
    refused = inst.run("trigger", "import", str(bad), check=False)
    assert refused.returncode == 1
    assert f"{bad}:21: a priority is one of" in refused.stderr  # the bad line
    assert inst.run("trigger", "export").stdout == before
    version = inst.json("trigger", "history")[0]["version"]
    inst.run("trigger", "remove", "Up")
    inst.run("trigger", "disable", "Down")
    assert inst.run("trigger", "export").stdout != before
    inst.run("trigger", "rollback", str(version))
    assert inst.run("trigger", "export").stdout == before
