"""Agents answer by mail or from the CLI; replies reach the customer, threaded and signed;
a bounce of a reply comes back to its case; every part of a message is kept; agents' mail
never reaches the CRM that help@ also delivers to.

Everything here comes from 127.0.0.1, a trusted network by default: that proves the
agents' answers (tests/e2e/test_desk_agent_proofs.py has the other proofs, and forgeries).
"""

from __future__ import annotations

import email
import hashlib
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP, default
from typing import Any

import dkim
import pytest

from casegate.filtering.classifiers import GTUBE
from tests.mails import mail, new_message_id, winmail_dat
from tests.support import Instance, RecordingHandler, free_port, instance, smtp_sink

AGENT = "ivy@agents.example"
CRM = "crm@crm.example"


@pytest.fixture(scope="module")
def crm() -> Iterator[tuple[int, RecordingHandler]]:
    """The external CRM that help@ also delivers to, as the README sets it up."""
    port = free_port()
    with smtp_sink(port) as (_, handler):
        yield port, handler


@pytest.fixture(scope="module")
def desk(backend: str, crm: tuple[int, RecordingHandler]
         ) -> Iterator[tuple[Instance, RecordingHandler]]:
    """The demo with an agent; customers, the agent, a refusing host and the CRM behind sinks."""
    port, refusing_port = free_port(), free_port()
    with (instance(backend) as inst, smtp_sink(port) as (_, outside),
          smtp_sink(refusing_port) as (_, refusing)):
        refusing.reply = "550 5.1.1 <gone@refuses.example>: no such user"
        inst.run("demo")
        inst.run("agent", "add", AGENT, "--name", "Ivy Agent", "--username", "ivy")
        for domain in ("customer.example", "agents.example"):
            inst.run("transport", "add", domain, f"127.0.0.1:{port}")
        inst.run("transport", "add", "refuses.example", f"127.0.0.1:{refusing_port}")
        inst.run("transport", "add", "crm.example", f"127.0.0.1:{crm[0]}")
        inst.run("rule", "add", "--match", "help@solarmora.com", "--also-deliver",
                 "crm@crm.example")
        inst.start()
        yield inst, outside


def received_by(sink: RecordingHandler, rcpt: str) -> list[EmailMessage]:
    return [email.message_from_bytes(raw, policy=default)
            for _, rcpts, raw in sink.messages if rcpt in rcpts]


def notified(inst: Instance, outside: RecordingHandler, customer: str, subject: str
             ) -> tuple[str, dict[str, Any], EmailMessage]:
    """A customer's question to help@: its Message-ID, its case and the agent's notice."""
    question, question_id = mail(subject=subject, sender=customer, to="help@solarmora.com")
    inst.send(customer, ["help@solarmora.com"], question)
    case = inst.case_with(question_id)
    notice = inst.wait_for(lambda: [m for m in received_by(outside, AGENT)
                                    if f"[#CG-{case['id']}]" in m["Subject"]], what="notice")[0]
    return question_id, case, notice


def test_agent_answers_the_notification_by_mail_and_the_requester_gets_it(desk) -> None:
    inst, outside = desk
    question, question_id = mail(
        subject="Inverter shows E42", sender="Hana <hana@customer.example>",
        to="help@solarmora.com", body="It beeps every night.",
        headers={"Cc": "Omar <omar@customer.example>, help@solarmora.com"})
    inst.send("hana@customer.example", ["help@solarmora.com"], question)
    case = inst.case_with(question_id)
    notice = inst.wait_for(lambda: received_by(outside, AGENT), what="the notification")[0]
    assert f"[#CG-{case['id']}]" in notice["Subject"]
    assert "It beeps every night." in notice.get_content()
    assert notice["Auto-Submitted"] == "auto-generated"
    assert notice["Reply-To"].startswith("reply+") and notice["Reply-To"] != notice["From"]

    answer, _ = mail(subject=f"Re: {notice['Subject']}", sender=f"Ivy <{AGENT}>",
                     to=notice["From"], headers={"In-Reply-To": notice["Message-ID"],
                                                 "References": notice["Message-ID"]},
                     body="Please update the firmware to 2.1.\n\n"
                          f"On Tue, someone <{notice['From']}> wrote:\n> It beeps every night.\n")
    inst.send(AGENT, [notice["From"]], answer)
    reply = inst.wait_for(lambda: received_by(outside, "hana@customer.example"),
                          what="the reply at the customer")[0]
    assert reply["In-Reply-To"] == question_id
    assert f"[#CG-{case['id']}]" in reply["Subject"]
    assert reply["From"] == "help@solarmora.com"
    assert reply.get_content().strip() == "Please update the firmware to 2.1."
    copy = inst.wait_for(lambda: received_by(outside, "omar@customer.example"), what="the Cc")
    assert copy[0]["Cc"] == "omar@customer.example"
    assert copy[0]["Message-ID"] == reply["Message-ID"]
    notices = [m["Message-ID"] for m in received_by(outside, AGENT)]
    assert notices == [notice["Message-ID"]]  # the agent's own reply is not notified

    shown = inst.json("cases", "show", str(case["id"]))
    outbound = [m for m in shown["messages"] if m["direction"] == "outbound"]
    assert [m["author"] for m in outbound] == ["ivy"]
    assert outbound[0]["new_text"].strip() == "Please update the firmware to 2.1."
    assert outbound[0]["parse_problems"] == []
    assert shown["first_responded_at"] and shown["status"] == "open"
    assert {"first response", "status"} <= {e["field"] for e in shown["history"]}

    customer_again, _ = mail(subject=f"Re: {reply['Subject']}", sender="hana@customer.example",
                             to="help@solarmora.com", headers={"In-Reply-To": reply["Message-ID"]})
    inst.send("hana@customer.example", ["help@solarmora.com"], customer_again)
    inst.wait_for(lambda: len(inst.json("cases", "show", str(case["id"]))["messages"]) == 3,
                  what="the customer's answer on the same case")


def test_an_agent_note_by_mail_never_leaves(desk) -> None:
    inst, outside = desk
    _, case, notice = notified(inst, outside, "jon@customer.example", "Warranty?")
    note, _ = mail(subject="Re: note", sender=AGENT, to=notice["From"],
                   headers={"In-Reply-To": notice["Message-ID"]},
                   body="#note check the serial number first")
    inst.send(AGENT, [notice["From"]], note)
    inst.wait_for(lambda: [m for m in inst.json("cases", "show", str(case["id"]))["messages"]
                           if m["direction"] == "note"], what="the note")
    inst.run("cases", "reply", str(case["id"]), "--note", "--text", "also internal")
    inst.run("cases", "reply", str(case["id"]), "--text", "Your warranty runs to 2030.",
             "--as", "ivy")
    inst.wait_for(lambda: received_by(outside, "jon@customer.example"), what="the reply")
    sent = [m.get_content().strip() for m in received_by(outside, "jon@customer.example")]
    assert sent == ["Your warranty runs to 2030."]


def test_an_answer_by_mail_crossing_another_agents_reply_is_held_as_a_note(desk) -> None:
    inst, outside = desk
    question_id, case, notice = notified(inst, outside, "kim@customer.example", "Fuse?")
    assert notice["In-Reply-To"] == question_id  # what the agent was told about
    inst.run("agent", "add", "bo@agents.example", "--username", "bo", "--no-notify")
    inst.run("cases", "reply", str(case["id"]), "--text", "Replace fuse F2.", "--as", "bo")
    answer, _ = mail(subject=f"Re: {notice['Subject']}", sender=AGENT, to=notice["From"],
                     headers={"In-Reply-To": notice["Message-ID"],
                              "References": f"{question_id} {notice['Message-ID']}"},
                     body="Check fuse F1.")
    inst.send(AGENT, [notice["From"]], answer)
    held = inst.wait_for(lambda: [m for m in inst.json("cases", "show", str(case["id"]))[
        "messages"] if m["direction"] == "note"], what="the held answer")[0]
    assert held["new_text"].strip() == "Check fuse F1."
    assert any("held, not mailed: bo replied" in p for p in held["parse_problems"])
    inst.wait_for(lambda: received_by(outside, "kim@customer.example"), what="bo's reply")
    sent = [m.get_content().strip() for m in received_by(outside, "kim@customer.example")]
    assert sent == ["Replace fuse F2."]


def test_reply_is_dkim_signed_and_its_bounce_marks_it_failed_on_the_case(desk) -> None:
    inst, _ = desk
    record = inst.run("dkim", "keygen", "solarmora.com").stdout
    question, question_id = mail(subject="Order 77", sender="gone@refuses.example",
                                 to="help@solarmora.com")
    inst.send("gone@refuses.example", ["help@solarmora.com"], question)
    case = inst.case_with(question_id)
    inst.run("cases", "reply", str(case["id"]), "--text", "Shipped today.")

    def report() -> list[dict]:
        messages = inst.json("cases", "show", str(case["id"]))["messages"]
        return [m for m in messages if m["direction"] == "inbound" and m["automated"]]
    assert "550 5.1.1" in inst.wait_for(report, timeout=30, what="the bounce")[0]["text"]
    [reply] = [m for m in inst.json("cases", "show", str(case["id"]))["messages"]
               if m["direction"] == "outbound"]
    assert reply["delivery_status"] == "failed"

    inst.run("cases", "reply", str(case["id"]), "--text", "Signed?")
    signed = _sent_raw(inst, case["id"], "Signed?")
    assert signed is not None and signed.startswith(b"DKIM-Signature:")
    txt = record.split(" TXT ", 1)[1].replace('"', "").replace(" ", "").encode()
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: txt)


def _sent_raw(inst: Instance, case_id: int, text: str) -> bytes | None:
    """The stored bytes of our reply containing ``text`` (its recipient refuses mail)."""
    for message in inst.json("cases", "show", str(case_id))["messages"]:
        if message["direction"] == "outbound" and message["text"] == text:
            sha = message["raw_sha256"]
            return inst.blob(sha)
    return None


def test_every_part_of_a_difficult_message_is_accounted_for(desk) -> None:
    inst, _ = desk
    big = bytes(range(256)) * (10 * 1024 * 1024 // 256)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    msg = EmailMessage()
    msg["From"] = "kai@customer.example"
    msg["To"] = "help@solarmora.com"
    msg["Subject"] = "Photos and logs"
    msg["Message-ID"] = message_id = new_message_id()
    msg.set_content("see attached")
    msg.add_alternative('<p>the panel: <img src="cid:panel@kai"></p>', subtype="html")
    msg.get_payload()[1].add_related(png, maintype="image", subtype="png", cid="<panel@kai>")
    msg.add_attachment(big, maintype="application", subtype="octet-stream", filename="logs.bin")
    msg.add_attachment(winmail_dat({"invoice.pdf": b"%PDF-1.4 invoice"}), maintype="application",
                       subtype="ms-tnef", filename="winmail.dat")
    raw = msg.as_bytes(policy=SMTP)
    broken = (b"Content-Type: application/pdf; name=\"broken.pdf\"\r\n"
              b"Content-Transfer-Encoding: base64\r\n"
              b"Content-Disposition: attachment; filename=\"broken.pdf\"\r\n\r\n"
              b"JVBERi0xLjQK!!!not*base64###\r\nQUJD\r\n")
    boundary = msg.get_boundary().encode()
    raw = raw.replace(b"--" + boundary + b"--", b"--" + boundary + b"\r\n" + broken
                      + b"--" + boundary + b"--")
    inst.send("kai@customer.example", ["help@solarmora.com"], raw)
    case = inst.case_with(message_id, timeout=60)
    [message] = inst.json("cases", "show", str(case["id"]))["messages"]
    parts = {a["filename"] or a["content_id"]: a for a in message["attachments"]}
    assert set(parts) == {"panel@kai", "logs.bin", "invoice.pdf", "broken.pdf"}
    assert parts["logs.bin"]["size"] == len(big) and parts["logs.bin"]["stored"]
    assert parts["logs.bin"]["sha256"] == hashlib.sha256(big).hexdigest()
    assert parts["panel@kai"]["inline"] and parts["panel@kai"]["content_type"] == "image/png"
    assert parts["invoice.pdf"]["container"] == "winmail.dat"
    assert parts["broken.pdf"]["problem"] and parts["broken.pdf"]["stored"]
    assert inst.blob(parts["logs.bin"]["sha256"]) == big
    assert inst.blob(message["raw_sha256"]).endswith(raw[-4096:])


def test_agents_mail_never_reaches_the_crm_while_customer_mail_does(desk, crm) -> None:
    inst, outside = desk
    _, crm_sink = crm
    question_id, case, notice = notified(inst, outside, "lea@customer.example", "Fan noise")
    answers = {}
    for rcpt in (notice["Reply-To"], "help@solarmora.com"):  # as asked, and reply-all
        for body, extra in (("#note the fan was replaced in May", {}),
                            ("The noise is normal while it cools.", {}),
                            ("I am out of the office.", {"Auto-Submitted": "auto-replied"})):
            answer, answer_id = mail(subject=f"Re: {notice['Subject']}", sender=AGENT, to=rcpt,
                                     body=body, headers={"In-Reply-To": notice["Message-ID"],
                                                         **extra})
            inst.send(AGENT, [rcpt], answer)
            answers[answer_id] = body

    def directions() -> list[str]:
        shown = inst.json("cases", "show", str(case["id"]))["messages"]
        return sorted(m["direction"] for m in shown)
    inst.wait_for(lambda: len(directions()) == 7, what="the agent's six answers on the case")
    assert directions() == ["inbound", "note", "note", "note", "note", "outbound", "outbound"]
    inst.wait_for(lambda: len(received_by(outside, "lea@customer.example")) == 2,
                  what="the two public replies at the customer")

    again, again_id = mail(subject="Re: Fan noise", sender="lea@customer.example",
                           to="help@solarmora.com", headers={"In-Reply-To": question_id})
    inst.send("lea@customer.example", ["help@solarmora.com"], again)

    def at_crm() -> set[str]:
        return {m["Message-ID"] for m in received_by(crm_sink, "crm@crm.example")}
    inst.wait_for(lambda: again_id in at_crm(), what="the customer's answer at the CRM")
    assert question_id in at_crm()
    assert not at_crm() & set(answers)


def test_an_answer_the_desk_takes_as_the_agents_never_reaches_the_crm(desk, crm) -> None:
    """The gateway reads the sender as the desk does: an encoded word in the address, or no
    From address at all (the envelope sender stands in)."""
    inst, outside = desk
    _, crm_sink = crm
    question_id, case, notice = notified(inst, outside, "noa@customer.example", "Roof mount")
    from_line = f"From: {AGENT}\r\n".encode()
    answer_ids = []
    for written in (b"From: =?utf-8?q?ivy?=@agents.example\r\n", b""):
        answer, answer_id = mail(subject=f"Re: {notice['Subject']}", sender=AGENT,
                                 body="#note the bracket is on back order",
                                 headers={"In-Reply-To": notice["Message-ID"]})
        assert from_line in answer
        inst.send(AGENT, ["help@solarmora.com"], answer.replace(from_line, written))
        answer_ids.append(answer_id)
    inst.wait_for(lambda: len([m for m in inst.json("cases", "show", str(case["id"]))["messages"]
                               if m["direction"] == "note" and m["author"] == "ivy"]) == 2,
                  what="both answers on the case as the agent's notes")

    again, again_id = mail(subject="Re: Roof mount", sender="noa@customer.example",
                           to="help@solarmora.com", headers={"In-Reply-To": question_id})
    inst.send("noa@customer.example", ["help@solarmora.com"], again)
    inst.wait_for(lambda: again_id in {m["Message-ID"] for m in received_by(crm_sink, CRM)},
                  what="the customer's answer at the CRM")
    assert not {m["Message-ID"] for m in received_by(crm_sink, CRM)} & set(answer_ids)


def test_an_agents_answer_released_from_quarantine_is_not_forwarded_either(desk, crm) -> None:
    inst, outside = desk
    _, crm_sink = crm
    question_id, case, notice = notified(inst, outside, "max@customer.example", "Cable colour")
    note, note_id = mail(subject="Re: note", sender=AGENT, to="help@solarmora.com",
                         headers={"In-Reply-To": notice["Message-ID"]},
                         body=f"#note this looks like spam:\n{GTUBE.decode()}\n")
    inst.send(AGENT, ["help@solarmora.com"], note)
    held = inst.wait_for(lambda: [q for q in inst.json("quarantine", "list")
                                  if q["message_id"] == note_id], what="the note held as spam")
    inst.run("quarantine", "release", str(held[0]["id"]))
    inst.wait_for(lambda: [m for m in inst.json("cases", "show", str(case["id"]))["messages"]
                           if m["direction"] == "note"], what="the released note on the case")

    again, again_id = mail(subject="Re: Cable colour", sender="max@customer.example",
                           to="help@solarmora.com", headers={"In-Reply-To": question_id})
    inst.send("max@customer.example", ["help@solarmora.com"], again)
    inst.wait_for(lambda: again_id in {m["Message-ID"] for m in received_by(crm_sink, CRM)},
                  what="the customer's answer at the CRM")
    assert note_id not in {m["Message-ID"] for m in received_by(crm_sink, CRM)}
