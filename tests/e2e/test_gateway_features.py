"""STARTTLS, IDN domains and mailbox next hops, over real sockets."""

from __future__ import annotations

import json
import shutil
import smtplib
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.certificates import TestCA
from tests.mails import mail
from tests.support import Instance, free_port, instance, smtp_sink


def self_signed(folder: Path) -> tuple[str, str]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: cannot make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=gw.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def gateway(backend: str, tmp_path_factory: pytest.TempPathFactory,
            test_ca: TestCA) -> Iterator[Instance]:
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    with instance(backend, CASEGATE_TLS_CERT=cert, CASEGATE_TLS_KEY=key,
                  CASEGATE_TLS_CA_FILE=str(test_ca.bundle)) as inst:
        inst.run("demo")
        inst.start(http=True)
        yield inst


def test_http_app_answers_beside_the_gateway(gateway: Instance) -> None:
    base = f"http://127.0.0.1:{gateway.http_port}"
    with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:
        assert json.load(response) == {"status": "ok"}
    with urllib.request.urlopen(f"{base}/api/openapi.json", timeout=10) as response:
        assert json.load(response)["info"]["title"] == "casegate"


def test_starttls_is_offered_and_used(gateway: Instance) -> None:
    data, msgid = mail(subject="over TLS", to="alex@solarmora.com")
    with gateway.smtp() as client:
        client.ehlo("client.example.net")
        assert client.has_extn("starttls")
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        client.starttls(context=context)
        client.ehlo("client.example.net")
        client.sendmail("tls@example.net", ["alex@solarmora.com"], data)
    stored = gateway.wait_for(
        lambda: [m for m in gateway.mailbox("alex@solarmora.com") if msgid.encode() in m],
        what="the TLS message in the mailbox")
    assert b"with ESMTPS id" in stored[0]


def test_idn_domain_accepts_both_spellings(gateway: Instance) -> None:
    gateway.run("domain", "add", "Bücher.Example")
    gateway.run("account", "add", "info@bücher.example")
    assert {a["address"] for a in gateway.json("account", "list")} >= {
        "info@xn--bcher-kva.example"}
    first, first_id = mail(subject="ascii form", to="info@xn--bcher-kva.example")
    gateway.send("a@example.net", ["info@xn--bcher-kva.example"], first)
    second, second_id = mail(subject="unicode form", to="info@xn--bcher-kva.example")
    with gateway.smtp() as client:
        client.ehlo("client.example.net")
        client.mail("a@example.net")
        client.sock.sendall("RCPT TO:<info@Bücher.example>\r\n".encode())  # smtplib won't
        code, reply = client.getreply()
        assert code == 553 and b"5.6.7" in reply and b"SMTPUTF8" in reply
        client.rset()
        client.mail("a@example.net", ["SMTPUTF8"])
        assert client.rcpt("info@Bücher.example")[0] == 250
        assert client.data(second)[0] == 250
    gateway.wait_for(
        lambda: len([m for m in gateway.mailbox("info@xn--bcher-kva.example")
                     if first_id.encode() in m or second_id.encode() in m]) == 2,
        what="both messages in the IDN account's mailbox")


@pytest.mark.parametrize("protocol", ["smtp", "lmtp"])
def test_domain_with_a_mailbox_next_hop_relays_accounts_there(gateway: Instance,
                                                              protocol: str) -> None:
    port = free_port()
    domain = f"{protocol}-store.example"
    gateway.run("domain", "add", domain, "--mailbox-transport", f"{protocol}:127.0.0.1:{port}")
    gateway.run("account", "add", f"bob@{domain}")
    with smtp_sink(port, lmtp=protocol == "lmtp") as (_, store):
        data, msgid = mail(subject="for the old store", to=f"bob@{domain}")
        gateway.send("a@example.net", [f"bob@{domain}"], data)
        gateway.wait_for(lambda: store.messages, what=f"the {protocol} store to get the mail")
        _, rcpts, content = store.messages[0]
    assert rcpts == [f"bob@{domain}"] and msgid.encode() in content
    assert not gateway.mailbox(f"bob@{domain}")


def test_rejected_message_from_the_crm_is_recorded_as_bounced(gateway: Instance) -> None:
    port = free_port()
    gateway.run("transport", "add", "strict-crm.example", f"127.0.0.1:{port}")
    gateway.run("rule", "add", "--match", "strict@solarmora.com", "--replace-recipient",
                "support@strict-crm.example")
    with smtp_sink(port) as (_, crm):
        crm.reply = "550 5.7.1 We do not take mail from you"
        data, _ = mail(subject="refused", to="strict@solarmora.com")
        queue_id = gateway.send("a@example.net", ["strict@solarmora.com"], data)
        bounced = gateway.wait_for(
            lambda: [d for d in gateway.json("queue", "list")
                     if d["queue_id"] == queue_id and d["state"] == "bounced"],
            what="the delivery to be marked bounced")
    assert "550" in bounced[0]["last_reply"] and "do not take mail" in bounced[0]["last_reply"]


def test_smtplib_error_reply_is_clear(gateway: Instance) -> None:
    with gateway.smtp() as client, pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        client.sendmail("a@example.net", ["nobody@solarmora.com"], b"Subject: x\r\n\r\nx\r\n")
    code, reply = caught.value.recipients["nobody@solarmora.com"]
    assert code == 550 and b"no such user" in reply


def test_metrics_report_queue_depth_and_attempts(gateway: Instance) -> None:
    data, msgid = mail(subject="counted", to="alex@solarmora.com")
    gateway.send("a@example.net", ["alex@solarmora.com"], data)
    gateway.wait_for(lambda: [m for m in gateway.mailbox("alex@solarmora.com")
                              if msgid.encode() in m], what="the delivery")
    url = f"http://127.0.0.1:{gateway.http_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    assert 'casegate_deliveries{state="delivered"}' in text
    assert 'casegate_delivery_attempts_total{destination="maildir",outcome="delivered"}' in text
    assert "casegate_delivery_attempt_seconds_count" in text


def test_outbound_mail_uses_starttls_and_require_tls_is_met(gateway: Instance,
                                                          test_ca: TestCA) -> None:
    """--require-tls verifies the certificate: the sink's comes from the CA the gateway's
    CASEGATE_TLS_CA_FILE names, for the hop's address."""
    context = test_ca.issue("127.0.0.1").server_context()
    port = free_port()
    gateway.run("transport", "add", "tls-crm.example", f"127.0.0.1:{port}", "--require-tls")
    gateway.run("rule", "add", "--match", "tls@solarmora.com", "--replace-recipient",
                "support@tls-crm.example")
    with smtp_sink(port, tls_context=context) as (_, crm):
        data, msgid = mail(subject="encrypted hop", to="tls@solarmora.com")
        gateway.send("a@example.net", ["tls@solarmora.com"], data)
        gateway.wait_for(lambda: [m for m in crm.messages if msgid.encode() in m[2]],
                         what="the message over TLS")
        assert crm.tls == [True]


def _tls_client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_auth_is_offered_neither_before_nor_after_starttls(gateway: Instance) -> None:
    with gateway.smtp() as client:
        client.ehlo("client.example.net")
        assert not client.has_extn("auth")
        client.starttls(context=_tls_client_context())
        client.ehlo("client.example.net")
        assert not client.has_extn("auth")
        code, reply = client.docmd("AUTH", "PLAIN AGFsZXgAc2VjcmV0")
    assert code == 502 and reply.startswith(b"5.5.1 AUTH is not offered")


def test_garbage_instead_of_a_tls_handshake_is_one_log_line(gateway: Instance) -> None:
    logged = gateway.log_path.stat().st_size
    with gateway.smtp() as client:
        client.ehlo("client.example.net")
        assert client.docmd("STARTTLS")[0] == 220
        client.sock.sendall(b"this is not a TLS handshake\r\n" * 10)
        assert client.sock.recv(100) == b""  # the server hangs up

    def new_log() -> str:
        return gateway.log_path.read_bytes()[logged:].decode()

    gateway.wait_for(lambda: "tls=failed" in new_log(), what="the failed handshake logged")
    assert "tls=failed client=127.0.0.1 reason=" in new_log()
    assert "Traceback" not in new_log()
