"""Noise sent over SMTP to an intake is suspended, and a person recovers it onto a case."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.mails import mail
from tests.support import Instance, instance


@pytest.fixture(scope="module")
def desk(backend: str) -> Iterator[tuple[Instance, str]]:
    """The demo, serving: help@solarmora.com reaches its case intake."""
    with instance(backend) as inst:
        inst.run("demo")
        intake = next(i["address"] for i in inst.json("desk", "intake", "list")
                      if i["kind"] == "case")
        inst.start()
        yield inst, intake


def suspended(inst: Instance, queue_id: str) -> dict[str, Any]:
    [entry] = inst.wait_for(lambda: [s for s in inst.json("suspended", "list")
                                     if s["queue_id"] == queue_id],
                            what=f"queue {queue_id} suspended")
    return entry


def test_an_out_of_office_that_threads_onto_no_case_is_suspended_until_recovered(
        desk: tuple[Instance, str]) -> None:
    inst, intake = desk
    data, msgid = mail(subject="Out of office: back on Monday", sender="carl@customer.example",
                       headers={"Auto-Submitted": "auto-replied"})
    queue_id = inst.send("carl@customer.example", ["help@solarmora.com"], data)
    entry = suspended(inst, queue_id)
    assert (entry["cause"], entry["reason"], entry["intake"], entry["sender"]) == (
        "auto_mailer", "Auto-Submitted: auto-replied", intake, "carl@customer.example")
    time.sleep(0.5)
    assert not [c for c in inst.cases() if c["message_id"] == msgid]
    assert inst.run("suspended", "recover", str(entry["id"])).stdout.startswith(
        f"recovered #{entry['id']}: case ")
    case = inst.case_with(msgid)
    assert (case["subject"], case["requester"]) == ("Out of office: back on Monday",
                                                    "carl@customer.example")
    assert queue_id not in [s["queue_id"] for s in inst.json("suspended", "list")]


def test_a_blocked_senders_mail_is_suspended_and_others_open_cases(
        desk: tuple[Instance, str]) -> None:
    inst, intake = desk
    inst.run("desk", "intake", "block", intake, "pest.example")
    blocked, _ = mail(subject="Buy now", sender="Pest <sales@mail.pest.example>")
    queue_id = inst.send("sales@mail.pest.example", ["help@solarmora.com"], blocked)
    entry = suspended(inst, queue_id)
    assert (entry["cause"], entry["reason"]) == ("blocked_sender", "the intake blocks pest.example")
    welcome, msgid = mail(subject="Panel dark", sender="dora@customer.example")
    inst.send("dora@customer.example", ["help@solarmora.com"], welcome)
    assert inst.case_with(msgid)["requester"] == "dora@customer.example"
    inst.run("suspended", "delete", str(entry["id"]))
    assert queue_id not in [s["queue_id"] for s in inst.json("suspended", "list")]
