"""Forwarded mail stays trustworthy: SRS sender, the author's DKIM intact, an ARC seal."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.mails import mail
from tests.support import (
    Instance,
    LocalDNS,
    RecordingHandler,
    free_port,
    instance,
    smtp_sink,
)


def rsa_key() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"


@pytest.fixture(scope="module")
def forwarder(backend: str) -> Iterator[tuple[Instance, RecordingHandler, RecordingHandler,
                                              LocalDNS, bytes]]:
    author_key, author_record = rsa_key()
    zone = {"s1._domainkey.example.net.": {"TXT": [author_record]}}
    crm_port, senders_port = free_port(), free_port()
    with LocalDNS(zone) as dns_server, instance(
            backend, CASEGATE_DNS_SERVERS=dns_server.address) as inst, \
            smtp_sink(crm_port) as (_, crm), smtp_sink(senders_port) as (_, senders):
        inst.run("demo")
        inst.run("transport", "add", "my-crm.com", f"127.0.0.1:{crm_port}")
        inst.run("transport", "add", "example.net", f"127.0.0.1:{senders_port}")
        inst.run("rule", "add", "--match", "crm@solarmora.com", "--replace-recipient",
                 "support@my-crm.com")
        record = inst.run("dkim", "keygen", "solarmora.com").stdout
        ours = re.search(r'"(v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]+)"', record)
        assert ours, record
        zone["casegate._domainkey.solarmora.com."] = {"TXT": [ours.group(1)]}
        inst.start()
        yield inst, crm, senders, dns_server, author_key


def signed_mail(author_key: bytes, subject: str) -> tuple[bytes, str]:
    data, msgid = mail(subject=subject, to="crm@solarmora.com", sender="Dana <dana@example.net>")
    signature = dkim.sign(data, b"s1", b"example.net", author_key,
                          include_headers=[b"from", b"to", b"subject", b"message-id"])
    return signature + data, msgid


def test_forwarded_mail_has_srs_sender_intact_dkim_and_a_valid_arc_seal(forwarder) -> None:
    inst, crm, _, dns_server, author_key = forwarder
    data, msgid = signed_mail(author_key, "signed by the author")
    assert dkim.verify(data, dnsfunc=dns_server.txt)
    inst.send("dana@example.net", ["crm@solarmora.com"], data)
    sender, rcpts, received = inst.wait_for(
        lambda: [m for m in crm.messages if msgid.encode() in m[2]], what="the forward")[0]
    assert rcpts == ["support@my-crm.com"]
    assert re.fullmatch(r"SRS0=[^=]+=[^=]+=example\.net=dana@solarmora\.com", sender), sender
    assert dkim.verify(received, dnsfunc=dns_server.txt), "the author's signature broke"
    result, _, reason = dkim.arc_verify(received, dnsfunc=dns_server.txt)
    assert result == dkim.CV_Pass, reason
    assert b"ARC-Authentication-Results: i=1; gw.test; dkim=pass header.d=example.net" in (
        received.replace(b"\r\n\t", b" ").replace(b"\r\n ", b" "))


def test_mail_that_came_with_an_arc_chain_leaves_with_our_set_added(forwarder) -> None:
    inst, crm, _, dns_server, author_key = forwarder
    list_key, list_record = rsa_key()
    dns_server.zone["l1._domainkey.list.example."] = {"TXT": [list_record]}
    signed, msgid = signed_mail(author_key, "through a mailing list first")
    upstream = b"Authentication-Results: list.example; dkim=pass header.d=example.net\r\n" \
        + signed
    data = b"".join(dkim.arc_sign(upstream, b"l1", b"list.example", list_key,
                                  b"list.example")) + upstream
    inst.send("dana@example.net", ["crm@solarmora.com"], data)
    received = inst.wait_for(
        lambda: [m for m in crm.messages if msgid.encode() in m[2]], what="the forward")[0][2]
    result, sets, reason = dkim.arc_verify(received, dnsfunc=dns_server.txt)
    assert result == dkim.CV_Pass, reason
    assert len(sets) == 2  # the list's, then ours
    assert b"; arc=pass" in received


def test_a_bounce_to_the_srs_address_goes_back_to_the_original_sender(forwarder) -> None:
    inst, crm, senders, _, author_key = forwarder
    data, msgid = signed_mail(author_key, "will bounce")
    inst.send("dana@example.net", ["crm@solarmora.com"], data)
    srs_sender = inst.wait_for(
        lambda: [m for m in crm.messages if msgid.encode() in m[2]], what="the forward")[0][0]
    bounce = (f"From: MAILER-DAEMON@my-crm.com\r\nTo: {srs_sender}\r\nSubject: failure\r\n"
              f"Message-ID: <bounce-{msgid[1:]}\r\n\r\nYour message {msgid} failed.\r\n").encode()
    inst.send("", [srs_sender], bounce)
    back = inst.wait_for(lambda: [m for m in senders.messages if b"bounce-" + msgid[1:].encode()
                                  in m[2]], what="the bounce at the original sender")[0]
    assert back[1] == ["dana@example.net"]


def test_a_forged_srs_address_is_refused(forwarder) -> None:
    inst = forwarder[0]
    with inst.smtp() as client:
        client.ehlo("client.example.net")
        client.mail("")
        code, reply = client.rcpt("SRS0=abcd=ZZ=example.net=dana@solarmora.com")
    assert code == 550 and reply.startswith(b"5.1.1")


def test_results_in_our_name_from_a_trusted_client_are_not_sealed(forwarder) -> None:
    # A server in front that passes on what the Internet wrote (stock Postfix does).
    inst, crm, _, dns_server, author_key = forwarder
    data, msgid = signed_mail(author_key, "forged results")
    forged = b"Authentication-Results: gw.test; dmarc=pass header.from=bank.example\r\n"
    inst.send("dana@example.net", ["crm@solarmora.com"], forged + data)
    received = inst.wait_for(lambda: [m for m in crm.messages if msgid.encode() in m[2]],
                             what="the forward")[0][2]
    unfolded = received.replace(b"\r\n\t", b" ").replace(b"\r\n ", b" ")
    assert b"dmarc=pass" not in unfolded
    assert unfolded.count(b"\nAuthentication-Results: gw.test;") == 1  # below the ARC set
    assert dkim.arc_verify(received, dnsfunc=dns_server.txt)[0] == dkim.CV_Pass
