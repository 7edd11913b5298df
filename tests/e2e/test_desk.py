"""The case desk keeps conversations together and makes no noise."""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from email.policy import default

import pytest

from tests.mails import mail, new_message_id
from tests.support import Instance, RecordingHandler, free_port, instance, smtp_sink


@pytest.fixture(scope="module")
def desk(backend: str) -> Iterator[tuple[Instance, RecordingHandler, str]]:
    """The demo with acknowledgements on a support intake; customers' mail lands in a sink."""
    port = free_port()
    with instance(backend) as inst, smtp_sink(port) as (_, customers):
        inst.run("demo")
        intake = inst.run("desk", "intake", "add", "--kind", "case", "--acknowledge",
                          "--address", "acked@desk.solarmora.com").stdout.strip()
        inst.run("rule", "add", "--match", "support@solarmora.com", "--replace-recipient",
                 intake)
        for domain in ("customer.example", "otherdesk.example", "acme.example"):
            inst.run("transport", "add", domain, f"127.0.0.1:{port}")
        inst.start()
        yield inst, customers, intake


def acks_to(sink: RecordingHandler, rcpt: str) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(raw, policy=default)
            for _, rcpts, raw in sink.messages if rcpts == [rcpt]]


def thread(inst: Instance, case_id: int) -> list[dict]:
    return inst.json("cases", "show", str(case_id))["messages"]


def test_customer_writes_gets_an_acknowledgement_replies_one_case_two_messages(desk) -> None:
    inst, customers, _ = desk
    first, first_id = mail(subject="Inverter beeps", sender="Ann <ann@customer.example>",
                           to="support@solarmora.com")
    inst.send("ann@customer.example", ["support@solarmora.com"], first)
    ack = inst.wait_for(lambda: acks_to(customers, "ann@customer.example"),
                        what="the acknowledgement")[0]
    case = inst.case_with(first_id)
    assert f"[#CG-{case['id']}]" in ack["Subject"]
    assert ack["In-Reply-To"] == first_id and ack["Auto-Submitted"] == "auto-replied"
    assert ack["From"] == "support@solarmora.com"
    reply, _ = mail(subject=f"Re: {ack['Subject']}", sender="ann@customer.example",
                    to="support@solarmora.com",
                    headers={"In-Reply-To": ack["Message-ID"],
                             "References": f"{first_id} {ack['Message-ID']}"})
    inst.send("ann@customer.example", ["support@solarmora.com"], reply)
    messages = inst.wait_for(
        lambda: [m for m in thread(inst, case["id"]) if m["direction"] == "inbound"][1:] and
        thread(inst, case["id"]), what="the reply on the case")
    assert [m["direction"] for m in messages] == ["inbound", "automatic", "inbound"]
    assert len([c for c in inst.cases() if c["requester"] == "ann@customer.example"]) == 1
    assert len(acks_to(customers, "ann@customer.example")) == 1


def test_new_subject_with_the_case_tag_and_in_reply_to_only_stay_on_the_case(desk) -> None:
    inst, _, _ = desk
    first, first_id = mail(subject="Panel 7 dark", sender="bob@acme.example",
                           to="support@solarmora.com")
    inst.send("bob@acme.example", ["support@solarmora.com"], first)
    case = inst.case_with(first_id)
    tagged, _ = mail(subject=f"Another thing [#CG-{case['id']}]", sender="bob@acme.example",
                     to="support@solarmora.com")
    inst.send("bob@acme.example", ["support@solarmora.com"], tagged)
    only_irt, _ = mail(subject="sent from my phone", sender="bob@acme.example",
                       to="support@solarmora.com", headers={"In-Reply-To": first_id})
    inst.send("bob@acme.example", ["support@solarmora.com"], only_irt)
    inst.wait_for(lambda: len([m for m in thread(inst, case["id"])
                               if m["direction"] == "inbound"]) == 3, what="three messages")
    stranger, stranger_id = mail(subject=f"Hijack [#CG-{case['id']}]",
                                 sender="eve@otherdesk.example", to="support@solarmora.com")
    inst.send("eve@otherdesk.example", ["support@solarmora.com"], stranger)
    assert inst.case_with(stranger_id)["id"] != case["id"]


def test_out_of_office_reply_is_stored_without_acknowledgement_or_new_case(desk) -> None:
    inst, customers, _ = desk
    first, first_id = mail(subject="Meter reading", sender="carl@customer.example",
                           to="support@solarmora.com")
    inst.send("carl@customer.example", ["support@solarmora.com"], first)
    ack = inst.wait_for(lambda: acks_to(customers, "carl@customer.example"), what="ack")[0]
    ooo, _ = mail(subject="Out of office: " + ack["Subject"], sender="carl@customer.example",
                  to="support@solarmora.com",
                  headers={"Auto-Submitted": "auto-replied", "In-Reply-To": ack["Message-ID"]})
    inst.send("carl@customer.example", ["support@solarmora.com"], ooo)
    case = inst.case_with(first_id)
    inst.wait_for(lambda: len(thread(inst, case["id"])) == 3, what="the OOO on the case")
    time.sleep(1)
    assert len(acks_to(customers, "carl@customer.example")) == 1
    assert len([c for c in inst.cases() if c["requester"] == "carl@customer.example"]) == 1


def test_two_desks_answering_each_other_stop_within_the_rate_limit(desk) -> None:
    inst, customers, _ = desk
    robot = "helpdesk@otherdesk.example"
    data, _ = mail(subject="Ticket opened", sender=robot, to="support@solarmora.com")
    inst.send(robot, ["support@solarmora.com"], data)
    answered = 0
    for _ in range(8):  # the other desk acknowledges every message, without loop headers
        got = len(acks_to(customers, robot))
        if got == answered:
            time.sleep(1.5)
            if len(acks_to(customers, robot)) == answered:
                break
        answered = len(acks_to(customers, robot))
        data, _ = mail(subject=f"Your ticket {answered} was received", sender=robot,
                       to="support@solarmora.com")
        inst.send(robot, ["support@solarmora.com"], data)
    assert len(acks_to(customers, robot)) == 3


def test_the_same_message_id_twice_is_stored_once(desk) -> None:
    inst, _, _ = desk
    msgid = new_message_id()
    data, _ = mail(subject="sent twice", sender="dan@customer.example", message_id=msgid,
                   to="support@solarmora.com")
    inst.send("dan@customer.example", ["support@solarmora.com"], data)
    inst.send("dan@customer.example", ["support@solarmora.com"], data)
    case = inst.case_with(msgid)
    time.sleep(1)
    assert len([c for c in inst.cases() if c["message_id"] == msgid]) == 1
    assert len([m for m in thread(inst, case["id"]) if m["direction"] == "inbound"]) == 1


def test_reply_to_solved_case_reopens_and_to_closed_case_opens_a_follow_up(desk) -> None:
    inst, _, _ = desk
    first, first_id = mail(subject="Billing", sender="fay@customer.example",
                           to="support@solarmora.com")
    inst.send("fay@customer.example", ["support@solarmora.com"], first)
    case = inst.case_with(first_id)
    inst.run("cases", "set", str(case["id"]), "--status", "solved")
    again, _ = mail(subject="Re: Billing", sender="fay@customer.example",
                    to="support@solarmora.com", headers={"In-Reply-To": first_id})
    inst.send("fay@customer.example", ["support@solarmora.com"], again)
    inst.wait_for(lambda: inst.json("cases", "show", str(case["id"]))["status"] == "open",
                  what="the case to reopen")
    inst.run("cases", "set", str(case["id"]), "--status", "closed")
    late, late_id = mail(subject="Re: Billing", sender="fay@customer.example",
                         to="support@solarmora.com", headers={"In-Reply-To": first_id})
    inst.send("fay@customer.example", ["support@solarmora.com"], late)
    follow_up = inst.case_with(late_id)
    assert follow_up["id"] != case["id"]
    assert inst.json("cases", "show", str(follow_up["id"]))["follows"] == case["id"]


def test_converted_lead_has_contact_and_company_linking_back(desk) -> None:
    inst, _, _ = desk
    data, msgid = mail(subject="Quote please", sender="Gil <gil@acme.example>",
                       to="sales@solarmora.com")
    inst.send("gil@acme.example", ["sales@solarmora.com"], data)
    lead = inst.wait_for(lambda: next((x for x in inst.json("leads", "list")
                                       if x["message_id"] == msgid), None), what="the lead")
    inst.run("leads", "set", str(lead["id"]), "--status", "qualified")
    inst.run("leads", "convert", str(lead["id"]))
    shown = inst.json("leads", "show", str(lead["id"]))
    assert shown["status"] == "converted" and shown["converted_by"]
    contact = next(c for c in inst.json("contacts", "list") if c["address"] == "gil@acme.example")
    assert contact["company"] == "acme.example" and lead["id"] in contact["leads"]
