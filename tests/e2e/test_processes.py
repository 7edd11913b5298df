"""``serve --processes``: several gateway processes accept on one port, as Postfix's smtpd
processes do, with the same rules and the same promise: nothing answered 250 is lost."""

from __future__ import annotations

import re
import signal
import smtplib
import ssl
import threading
import time
from pathlib import Path

import psutil

from tests.certificates import TestCA
from tests.e2e.test_resilience import messages, received_ids
from tests.mails import mail
from tests.support import Instance, free_port, instance, send_until_acknowledged, smtp_sink

ACCEPTED_BY = re.compile(r"casegate\.gateway\[(\d+)\] queue=\S+ accepted")


def gateway_pids(inst: Instance) -> set[int]:
    """The serving process's live gateway processes."""
    assert inst.process is not None
    found = set()
    for child in psutil.Process(inst.process.pid).children():
        try:
            if "gateway" in child.cmdline():
                found.add(child.pid)
        except psutil.Error:  # gone, or a zombie not yet reaped
            continue
    return found


def listening(pid: int) -> bool:
    try:
        return any(c.status == psutil.CONN_LISTEN for c in psutil.Process(pid).net_connections())
    except psutil.Error:
        return False


def accepting_pids(inst: Instance) -> list[int]:
    return [int(pid) for pid in ACCEPTED_BY.findall(inst.log_path.read_text())]


def send_concurrently(inst: Instance, rcpt: str, count: int) -> None:
    """``count`` messages over eight connections at once, each message from its own sender
    (the desk suspends a flood from one), so that both processes accept."""
    batch = []
    for n in range(count):
        sender = f"customer{n}-{rcpt.partition('@')[0]}@example.net"
        data, msgid = mail(subject=f"message {n}", to=rcpt, sender=sender)
        batch.append((msgid, data))
    acknowledged = send_until_acknowledged([inst.smtp_port], batch, rcpt, threads=8,
                                           deadline=60)
    assert len(acknowledged) == count


def test_two_gateway_processes_share_the_port_apply_new_rules_and_stop_cleanly(
        backend: str) -> None:
    with instance(backend) as inst:
        inst.run("demo")
        inst.start(processes=2)
        pids = gateway_pids(inst)
        assert len(pids) == 2
        # serve answers once one of them listens; the other joins the port a moment later.
        inst.wait_for(lambda: all(listening(pid) for pid in pids), what="both listening")
        send_concurrently(inst, "help@solarmora.com", 200)
        inst.wait_for(lambda: set(accepting_pids(inst)) == pids, what="both processes serving")

        with inst.smtp() as client:
            client.ehlo("client.example.net")
            client.mail("someone@example.net")
            assert client.rcpt("orders@solarmora.com")[0] == 550
        cases = next(i["address"] for i in inst.json("desk", "intake", "list")
                     if i["kind"] == "case")
        inst.run("rule", "add", "--match", "orders@solarmora.com", "--replace-recipient", cases)
        already = len(accepting_pids(inst))
        send_concurrently(inst, "orders@solarmora.com", 200)
        assert set(accepting_pids(inst)[already:]) == pids  # each applied the new rule

        # SIGTERM: a session open in one process finishes its message first.
        client = inst.smtp()
        client.ehlo("client.example.net")
        client.mail("someone@example.net")
        client.rcpt("help@solarmora.com")
        assert inst.process is not None
        inst.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        data, msgid = mail(subject="sent while stopping")
        assert client.data(data)[0] == 250
        client.quit()
        assert inst.process.wait(timeout=60) == 0
        inst.process = None
        assert not any(psutil.pid_exists(pid) for pid in pids)
        inst.start(processes=2)
        inst.case_with(msgid)


def test_kill9_of_one_gateway_process_under_load_loses_no_acknowledged_message(
        backend: str) -> None:
    port = free_port()
    with instance(backend) as inst, smtp_sink(port) as (_, crm):
        inst.run("demo")
        inst.run("transport", "add", "my-crm.com", f"127.0.0.1:{port}")
        inst.run("rule", "add", "--match", "crm@solarmora.com", "--replace-recipient",
                 "support@my-crm.com")
        inst.start(processes=2)
        batch = messages(400, "one down")
        acknowledged: list[str] = []
        sender = threading.Thread(target=lambda: acknowledged.extend(
            send_until_acknowledged([inst.smtp_port], batch, "crm@solarmora.com", threads=4)))
        sender.start()
        while len(acknowledged) < 150 and sender.is_alive():
            time.sleep(0.01)
        victim = min(gateway_pids(inst))
        psutil.Process(victim).kill()
        inst.wait_for(lambda: len(gateway_pids(inst) - {victim}) == 2, timeout=30,
                      what="a new gateway process in place of the killed one")
        sender.join()
        assert sorted(acknowledged) == sorted(m for m, _ in batch)
        inst.wait_for(lambda: set(received_ids(crm.messages)) >= set(acknowledged),
                      timeout=120, what="every acknowledged message at the CRM")
        assert "gateway" in inst.log_path.read_text()  # the restart is logged
        with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as client:
            assert client.noop()[0] == 250


def served_certificate(port: int) -> bytes:
    """The certificate a new session's STARTTLS presents (DER)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.starttls(context=context)
        return client.sock.getpeercert(binary_form=True)


def test_a_sighup_reloads_the_certificate_in_every_gateway_and_stops_nothing(
        backend: str, tmp_path: Path) -> None:
    ca = TestCA(tmp_path)
    first, renewed = ca.issue("gw.test"), ca.issue("gw.test")
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    cert.write_bytes(first.chain.read_bytes())
    key.write_bytes(first.key.read_bytes())
    with instance(backend, CASEGATE_TLS_CERT=str(cert), CASEGATE_TLS_KEY=str(key)) as inst:
        inst.run("demo")
        inst.start(processes=2)
        assert inst.process is not None
        family = [psutil.Process(inst.process.pid),
                  *psutil.Process(inst.process.pid).children(recursive=True)]
        gateways = gateway_pids(inst)
        inst.wait_for(lambda: all(listening(pid) for pid in gateways), what="both gateways")
        assert {served_certificate(inst.smtp_port) for _ in range(6)} == {first.der()}
        cert.write_bytes(renewed.chain.read_bytes())  # certbot's deploy hook, say
        key.write_bytes(renewed.key.read_bytes())
        inst.process.send_signal(signal.SIGHUP)
        inst.wait_for(lambda: inst.log_path.read_text().count("tls=reloaded") >= 2,
                      what="both gateways reloading")
        assert {served_certificate(inst.smtp_port) for _ in range(6)} == {renewed.der()}
        data, msgid = mail(subject="after a SIGHUP")
        inst.send("dana@example.net", ["help@solarmora.com"], data)
        inst.case_with(msgid)
        assert [p.pid for p in family if not p.is_running()] == []
        assert gateway_pids(inst) == gateways
        assert inst.stop() == 0
