"""rspamd as the gateway's spam classifier, over real SMTP, with Debian's rspamd running from
the repository's configuration (tests/rspamd): its actions at the end of DATA, the report
kept with each message, learning from a release, and a filter that does not answer."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.mails import mail
from tests.spam_filters import Rspamd
from tests.support import Instance, free_port, instance

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
# tests/rspamd/local.d/regexp.conf scores this header 10: rspamd's "add header" (6 to 15)
MARKED = {"X-Casegate-Test": "add-header"}
BODY = ("Our solar panels stopped charging after the storm last night; the inverter shows"
        " error E42 and the battery stays at twelve percent. Could someone call us back?")


@pytest.fixture(scope="module")
def gateway(backend: str, rspamd: Rspamd) -> Iterator[Instance]:
    with instance(backend, CASEGATE_RSPAMD_URL=rspamd.url,
                  CASEGATE_RSPAMD_CONTROLLER_URL=rspamd.controller_url,
                  CASEGATE_RSPAMD_PASSWORD=rspamd.password) as inst:
        inst.run("demo")
        inst.start()
        yield inst


def data_reply(inst: Instance, data: bytes, rcpt: str = "help@solarmora.com"
               ) -> tuple[int, str]:
    with inst.smtp() as client:
        client.ehlo("client.example.net")
        client.mail("dana@example.net")
        assert client.rcpt(rcpt)[0] == 250
        code, reply = client.data(data)
        return code, reply.decode()


def stored(inst: Instance, message_id: str) -> list[tuple[Any, ...]]:
    return inst.sql(f"SELECT queue_id FROM gateway_message WHERE message_id = '{message_id}'")


def classified(inst: Instance, queue_id: str) -> dict[str, Any]:
    [message] = inst.json("trace", queue_id)
    return next(hop for hop in message["hops"] if hop["hop"] == "classified")


def case_intake(inst: Instance) -> str:
    return next(i["address"] for i in inst.json("desk", "intake", "list") if i["kind"] == "case")


def test_gtube_is_rejected_by_rspamds_own_rule(gateway: Instance) -> None:
    data, msgid = mail(subject="Cheap watches", body=GTUBE)
    code, reply = data_reply(gateway, data)
    assert (code, reply) == (550, "5.7.1 Gtube pattern")
    assert stored(gateway, msgid) == []


def test_ham_opens_a_case_and_keeps_rspamds_report(gateway: Instance) -> None:
    data, msgid = mail(subject="Panel stopped charging", body=BODY)
    queue_id = gateway.send("dana@example.net", ["help@solarmora.com"], data)
    gateway.case_with(msgid)
    hop = classified(gateway, queue_id)
    report = hop["report"]
    assert (report["classifier"], report["action"], report["filter_action"]) == (
        "rspamd", "ham", "no action")
    assert report["scanned"] is True and report["required_score"] == 15.0
    assert report["symbols"]["MISSING_DATE"] == 1.0  # tests.mails writes no Date
    assert hop["detail"].startswith(f"rspamd: not spam [no action], score {report['score']:.2f}"
                                    " of 15.00; symbols ")


def test_add_header_is_quarantined_without_a_bypass_rule(gateway: Instance) -> None:
    data, msgid = mail(subject="Very special offer", body=BODY, headers=MARKED)
    queue_id = gateway.send("dana@example.net", ["help@solarmora.com"], data)
    entry = next(q for q in gateway.json("quarantine", "list") if q["queue_id"] == queue_id)
    assert entry["subject"] == "Very special offer"
    assert "spam" in entry["reason"]
    spam = entry["spam"]
    assert (spam["classifier"], spam["action"], spam["filter_action"]) == (
        "rspamd", "spam", "add header")
    assert 6 <= spam["score"] < 15 and spam["symbols"]["CASEGATE_TEST_SPAM"] == 10.0
    assert not [c for c in gateway.cases() if c["message_id"] == msgid]
    assert "CASEGATE_TEST_SPAM(10)" in classified(gateway, queue_id)["detail"]


def test_add_header_reaches_the_desk_through_a_bypass_rule_and_opens_a_case(
        gateway: Instance) -> None:
    gateway.run("rule", "add", "--match", "urgent@solarmora.com", "--replace-recipient",
                case_intake(gateway), "--bypass-spam")
    data, msgid = mail(subject="Marked but wanted", body=BODY, to="urgent@solarmora.com",
                       headers=MARKED)
    queue_id = gateway.send("dana@example.net", ["urgent@solarmora.com"], data)
    assert queue_id not in [q["queue_id"] for q in gateway.json("quarantine", "list")]
    assert classified(gateway, queue_id)["report"]["action"] == "spam"
    # The desk keeps spam a rule let through suspended, with rspamd's score, until a
    # person recovers it; then it is a case like any other.
    [entry] = gateway.wait_for(lambda: [s for s in gateway.json("suspended", "list")
                                        if s["queue_id"] == queue_id], what="the suspended spam")
    assert entry["cause"] == "spam" and entry["spam_score"] is not None
    gateway.run("suspended", "recover", str(entry["id"]))
    assert gateway.case_with(msgid)["original_recipient"] == "urgent@solarmora.com"


def test_releasing_as_not_spam_teaches_rspamd_ham(gateway: Instance, rspamd: Rspamd) -> None:
    data, msgid = mail(subject="Released and learnt", body=f"{BODY} Reference {free_port()}.",
                       headers=MARKED)
    queue_id = gateway.send("dana@example.net", ["help@solarmora.com"], data)
    entry = next(q for q in gateway.json("quarantine", "list") if q["queue_id"] == queue_id)
    learned = rspamd.stat()["learned"]
    released = gateway.run("quarantine", "release", str(entry["id"]))
    assert "learn=learnham status=200" in released.stderr
    assert rspamd.stat()["learned"] == learned + 1  # type: ignore[operator]
    assert gateway.case_with(msgid)["original_recipient"] == "help@solarmora.com"


def test_rspamd_down_with_tempfail_answers_451_and_keeps_nothing(backend: str) -> None:
    with instance(backend, CASEGATE_RSPAMD_URL=f"http://127.0.0.1:{free_port()}",
                  CASEGATE_RSPAMD_UNAVAILABLE="tempfail") as inst:
        inst.run("demo")
        inst.start()
        data, msgid = mail(subject="While rspamd is down", body=BODY)
        code, reply = data_reply(inst, data)
        assert code == 451 and reply.startswith("4.7.1 The spam filter is not answering")
        assert stored(inst, msgid) == []


def test_rspamd_down_with_accept_delivers_it_marked_not_scanned(backend: str) -> None:
    with instance(backend, CASEGATE_RSPAMD_URL=f"http://127.0.0.1:{free_port()}",
                  CASEGATE_RSPAMD_UNAVAILABLE="accept") as inst:
        inst.run("demo")
        inst.start(http=True)
        data, msgid = mail(subject="Accepted unscanned", body=BODY)
        queue_id = inst.send("dana@example.net", ["help@solarmora.com"], data)
        inst.case_with(msgid)
        report = classified(inst, queue_id)["report"]
        assert (report["classifier"], report["action"], report["scanned"]) == (
            "rspamd", "not_scanned", False)
        assert report["reason"].startswith("rspamd unavailable: ClientConnectorError")
        with urllib.request.urlopen(f"http://127.0.0.1:{inst.http_port}/metrics") as response:
            metrics = response.read().decode()
        assert ('casegate_spam_scans_total{action="not_scanned",classifier="rspamd"} 1.0'
                in metrics)


def test_the_gateway_refuses_to_start_when_rspamd_is_named_without_its_url(
        backend: str) -> None:
    with instance(backend, CASEGATE_CLASSIFIERS="rspamd,gtube") as inst:
        result = inst.run("serve", "--smtp", f"127.0.0.1:{free_port()}", check=False)
        assert result.returncode != 0
        assert "CASEGATE_RSPAMD_URL is empty" in result.stderr
