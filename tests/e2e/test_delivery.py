"""Delivery that loses nothing: retries with history, reports of failure, operator actions."""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from email.policy import default

import pytest

from casegate.gateway.admission import MAX_HEADER_SECTION
from tests.mails import mail
from tests.support import Instance, RecordingHandler, free_port, instance, smtp_sink


@pytest.fixture(scope="module")
def relay(backend: str) -> Iterator[tuple[Instance, RecordingHandler, RecordingHandler]]:
    """casegate with a CRM (my-crm.com) and the senders' own server (example.net) as sinks."""
    crm_port, senders_port = free_port(), free_port()
    with instance(backend) as inst, smtp_sink(crm_port) as (_, crm), \
            smtp_sink(senders_port) as (_, senders):
        forward_to_crm(inst, crm_port, senders_port)
        yield inst, crm, senders


def forward_to_crm(inst: Instance, crm_port: int, senders_port: int) -> None:
    """The demo, with crm@ routed to my-crm.com and both that and example.net at sinks."""
    inst.run("demo")
    inst.run("transport", "add", "my-crm.com", f"127.0.0.1:{crm_port}")
    inst.run("transport", "add", "example.net", f"127.0.0.1:{senders_port}")
    inst.run("rule", "add", "--match", "crm@solarmora.com", "--replace-recipient",
             "support@my-crm.com")
    inst.start()


def deliveries(inst: Instance, queue_id: str) -> list[dict]:
    return [d for d in inst.json("queue", "list", "--history") if d["queue_id"] == queue_id]


def delivery_in(inst: Instance, queue_id: str, state: str) -> dict:
    """Wait until a delivery of ``queue_id`` is in ``state``; return it."""
    return inst.wait_for(
        lambda: [d for d in deliveries(inst, queue_id) if d["state"] == state],
        what=f"the delivery to be {state}")[0]


def test_crm_answering_451_for_a_while_gets_the_message_once_it_recovers(relay) -> None:
    inst, crm, _ = relay
    crm.reply = "451 4.3.0 Busy, try again later"
    data, msgid = mail(subject="while busy", to="crm@solarmora.com")
    queue_id = inst.send("dana@example.net", ["crm@solarmora.com"], data)
    inst.wait_for(lambda: deliveries(inst, queue_id)[0]["attempts"] >= 2,
                  what="two refused attempts")
    crm.reply = None
    inst.wait_for(lambda: [m for m in crm.messages if msgid.encode() in m[2]],
                  what="the message after the CRM recovered")
    delivered = delivery_in(inst, queue_id, "delivered")
    outcomes = [a["outcome"] for a in delivered["attempt_log"]]
    assert outcomes[-1] == "delivered" and outcomes[:-1] and set(outcomes[:-1]) == {"deferred"}
    assert all("451" in a["reply"] for a in delivered["attempt_log"][:-1])
    assert all(a["host"] for a in delivered["attempt_log"])


def test_crm_refusing_with_550_sends_one_report_to_the_sender(relay) -> None:
    inst, crm, senders = relay
    crm.reply = "550 5.7.1 This CRM refuses your message"
    try:
        data, msgid = mail(subject="refused by the CRM", to="crm@solarmora.com",
                           sender="Dana <dana@example.net>")
        queue_id = inst.send("dana@example.net", ["crm@solarmora.com"], data)
        reports = inst.wait_for(
            lambda: [m for m in senders.messages if msgid.encode() in m[2]],
            what="the delivery status notification")
    finally:
        crm.reply = None
    sender, rcpts, raw = reports[0]
    assert sender in ("", "<>") and rcpts == ["dana@example.net"]
    report = email.message_from_bytes(raw, policy=default)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    parts = list(report.iter_parts())
    status = parts[1].as_string()
    assert "Final-Recipient: rfc822; support@my-crm.com" in status
    assert "Action: failed" in status and "Status: 5.7.1" in status
    assert "This CRM refuses your message" in status
    assert f"Message-ID: {msgid}" in parts[2].as_string()
    assert "Subject: refused by the CRM" in parts[2].as_string()
    assert deliveries(inst, queue_id)[0]["state"] == "bounced"
    inst.wait_for(lambda: deliveries(inst, queue_id)[0]["dsn"] == "sent", what="dsn marked")
    assert len([m for m in senders.messages if msgid.encode() in m[2]]) == 1


def test_null_sender_and_notify_never_get_no_report(relay) -> None:
    inst, crm, senders = relay
    crm.reply = "550 5.1.1 No such user at the CRM"
    try:
        silent, silent_id = mail(subject="from the null sender", to="crm@solarmora.com")
        first = inst.send("", ["crm@solarmora.com"], silent)
        never, never_id = mail(subject="notify never", to="crm@solarmora.com")
        with inst.smtp() as client:
            client.ehlo("client.example.net")
            assert client.has_extn("dsn")
            client.mail("dana@example.net", ["RET=HDRS", "ENVID=abc+2Bdef"])
            assert client.rcpt("crm@solarmora.com", ["NOTIFY=NEVER"])[0] == 250
            _, reply = client.data(never)
            second = reply.decode().rsplit(" ", 1)[-1]
        for queue_id in (first, second):
            inst.wait_for(lambda q=queue_id: deliveries(inst, q)[0]["dsn"] == "suppressed",
                          what="the report to be suppressed")
    finally:
        crm.reply = None
    assert not [m for m in senders.messages if silent_id.encode() in m[2]
                or never_id.encode() in m[2]]


def test_orcpt_and_envid_come_back_in_the_report(relay) -> None:
    inst, crm, senders = relay
    crm.reply = "554 5.6.0 Content refused"
    try:
        data, msgid = mail(subject="tracked", to="crm@solarmora.com")
        with inst.smtp() as client:
            client.ehlo("client.example.net")
            client.mail("dana@example.net", ["RET=FULL", "ENVID=Track+2B42"])
            client.rcpt("crm@solarmora.com", ["NOTIFY=FAILURE,DELAY",
                                               "ORCPT=rfc822;Crm@Solarmora.com"])
            assert client.data(data)[0] == 250
        report = inst.wait_for(lambda: [m for m in senders.messages if msgid.encode() in m[2]],
                               what="the report")[0][2].decode()
    finally:
        crm.reply = None
    assert "Original-Envelope-Id: Track+42" in report
    assert "Original-Recipient: rfc822;Crm@Solarmora.com" in report
    assert "message/rfc822" in report


def test_require_tls_defers_rather_than_sending_in_clear(relay) -> None:
    inst, _, _ = relay
    port = free_port()
    inst.run("transport", "add", "secure-crm.example", f"127.0.0.1:{port}", "--require-tls")
    inst.run("rule", "add", "--match", "secure@solarmora.com", "--replace-recipient",
             "support@secure-crm.example")
    with smtp_sink(port) as (_, sink):
        data, _ = mail(subject="secret", to="secure@solarmora.com")
        queue_id = inst.send("dana@example.net", ["secure@solarmora.com"], data)
        deferred = delivery_in(inst, queue_id, "deferred")
        assert "TLS is required" in deferred["last_reply"]
        assert sink.messages == []


def operate(inst: Instance, action: str, delivery: int, *options: str) -> None:
    """Hold or delete a deferred delivery; one the worker is trying again just now (the
    tests retry within a second) is refused as in flight, as an operator would see, and
    done once that try is over."""
    deadline = time.monotonic() + 30
    while True:
        done = inst.run("queue", action, str(delivery), *options, check=False)
        if done.returncode == 0:
            return
        assert "is inflight" in done.stderr and time.monotonic() < deadline, done.stderr
        time.sleep(0.2)


def test_operator_can_hold_release_retry_and_delete(relay) -> None:
    inst, crm, _ = relay
    crm.reply = "451 4.3.0 Busy"
    try:
        data, msgid = mail(subject="operated", to="crm@solarmora.com")
        queue_id = inst.send("dana@example.net", ["crm@solarmora.com"], data)
        delivery = delivery_in(inst, queue_id, "deferred")
        operate(inst, "hold", delivery["id"])
        assert deliveries(inst, queue_id)[0]["state"] == "held"
        refused = inst.run("queue", "retry", str(delivery["id"]), check=False)
        assert refused.returncode != 0 and "is held" in refused.stderr
        inst.run("queue", "release", str(delivery["id"]))
        crm.reply = None
        inst.run("queue", "retry", "--all")
        inst.wait_for(lambda: [m for m in crm.messages if msgid.encode() in m[2]],
                      what="the released message")
    finally:
        crm.reply = None
    crm.reply = "451 4.3.0 Busy"
    try:
        data, _ = mail(subject="to delete", to="crm@solarmora.com")
        queue_id = inst.send("dana@example.net", ["crm@solarmora.com"], data)
        delivery = delivery_in(inst, queue_id, "deferred")
        refused = inst.run("queue", "delete", str(delivery["id"]), check=False)
        assert refused.returncode != 0 and "--reason" in refused.stderr
        operate(inst, "delete", delivery["id"], "--reason", "spam complaint")
        deleted = deliveries(inst, queue_id)[0]
        assert deleted["state"] == "deleted"
        assert deleted["actions"][0]["action"] == "delete"
        assert deleted["actions"][0]["reason"] == "spam complaint"
        assert deleted["actions"][0]["actor"]
    finally:
        crm.reply = None


def test_our_own_loop_marker_coming_back_is_refused(relay) -> None:
    inst, _, _ = relay
    data, _ = mail(subject="came back", headers={"X-Casegate-Loop": "gw.test"})
    with inst.smtp() as client:
        client.ehlo("client.example.net")
        client.mail("a@example.net")
        client.rcpt("help@solarmora.com")
        code, reply = client.data(data)
    assert code == 554 and reply.startswith(b"5.4.6")


def test_a_header_section_over_the_limit_is_refused_at_data(relay) -> None:
    inst, _, _ = relay
    data, _ = mail(subject="folded")
    folded = b"X-Long: start" + b"\r\n a" * (MAX_HEADER_SECTION // 4) + b"\r\n"
    with inst.smtp() as client:
        client.ehlo("client.example.net")
        client.mail("a@example.net")
        client.rcpt("help@solarmora.com")
        code, reply = client.data(folded + data)
    assert code == 552 and reply.startswith(b"5.3.4 Message header section too big")


def test_forwarded_message_carries_the_loop_marker(relay) -> None:
    inst, crm, _ = relay
    data, msgid = mail(subject="marked", to="crm@solarmora.com")
    inst.send("dana@example.net", ["crm@solarmora.com"], data)
    got = inst.wait_for(lambda: [m for m in crm.messages if msgid.encode() in m[2]],
                        what="the forwarded message")[0][2]
    assert b"X-Casegate-Loop: gw.test" in got


def test_dsn_parameters_on_the_wrong_command_or_without_value_are_refused(relay) -> None:
    inst = relay[0]
    with inst.smtp() as client:
        client.ehlo("client.example.net")
        assert client.docmd("MAIL FROM:<a@example.net> NOTIFY=NEVER")[0] == 555
        assert client.docmd("MAIL FROM:<a@example.net> RET")[0] == 555
        assert client.docmd("MAIL FROM:<a@example.net> RET=HDRS")[0] == 250
        assert client.docmd("RCPT TO:<crm@solarmora.com> ENVID=x")[0] == 555
        assert client.docmd("RCPT TO:<crm@solarmora.com> NOTIFY=FAILURE")[0] == 250


def test_a_delivery_retried_past_the_delay_warning_gets_one_delayed_report(backend) -> None:
    crm_port, senders_port = free_port(), free_port()
    with (instance(backend, CASEGATE_DELAY_WARNING="0.0005") as inst,  # 1.8 seconds
          smtp_sink(crm_port) as (_, crm), smtp_sink(senders_port) as (_, senders)):
        forward_to_crm(inst, crm_port, senders_port)
        crm.reply = "451 4.3.0 Busy"
        data, msgid = mail(subject="slow CRM", to="crm@solarmora.com")
        queue_id = inst.send("dana@example.net", ["crm@solarmora.com"], data)
        reports = inst.wait_for(lambda: [m for m in senders.messages if msgid.encode() in m[2]],
                                what="the delay warning")
        inst.wait_for(lambda: deliveries(inst, queue_id)[0]["attempts"] >= 4,
                      what="more attempts after the warning")
        crm.reply = None
        delivery_in(inst, queue_id, "delivered")
        report = email.message_from_bytes(reports[0][2], policy=default)
        status = list(report.iter_parts())[1].as_string()
        assert "Action: delayed" in status and "Status: 4.3.0" in status
        assert report["Subject"].startswith("Delayed Mail")
        assert len([m for m in senders.messages if msgid.encode() in m[2]]) == 1
