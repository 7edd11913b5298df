"""Sender authentication on arrival, over real SMTP: SPF, DKIM and DMARC results in the stored
Authentication-Results, DMARC policies, spoofing of our own domain, forged results from
outside, and DNS block lists.

The tests connect from loopback addresses: 127.0.0.1 is a stranger (only 127.0.0.3 is a
trusted network here), 127.0.0.2 is on the block list ``bl.test``. The name server is
``LocalDNS``, which never answers about ``slow.example``.
"""

from __future__ import annotations

from collections.abc import Iterator

import dkim
import pytest

from tests.e2e.test_forwarding import rsa_key
from tests.mails import mail
from tests.support import Instance, LocalDNS, instance

HELP = "help@solarmora.com"
STRANGER, LISTED, TRUSTED = "127.0.0.1", "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="module")
def gateway(backend: str) -> Iterator[tuple[Instance, bytes]]:
    """The demo company behind a gateway that checks senders; the DKIM key of
    ``signed.example``."""
    key, record = rsa_key()
    zone = {
        "s1._domainkey.signed.example.": {"TXT": [record]},
        "signed.example.": {"TXT": [f"v=spf1 ip4:{STRANGER} -all"]},
        "_dmarc.signed.example.": {"TXT": ["v=DMARC1; p=reject"]},
        "pass.example.": {"TXT": [f"v=spf1 ip4:{STRANGER} -all"]},
        "fail.example.": {"TXT": ["v=spf1 ip4:192.0.2.1 -all"]},
        "softfail.example.": {"TXT": ["v=spf1 ip4:192.0.2.1 ~all"]},
        "nospf.example.": {"A": ["192.0.2.1"]},
        "_dmarc.reject.example.": {"TXT": ["v=DMARC1; p=reject"]},
        "_dmarc.quarantine.example.": {"TXT": ["v=DMARC1; p=quarantine"]},
        "2.0.0.127.bl.test.": {"A": ["127.0.0.2"], "TXT": ["listed for the test"]},
    }
    with (LocalDNS(zone, silent={"slow.example."}) as dns_server,
          instance(backend, CASEGATE_TRUSTED_NETWORKS=f"{TRUSTED}/32",
                   CASEGATE_DNS_SERVERS=dns_server.address, CASEGATE_AUTH_DNS_TIMEOUT="1",
                   CASEGATE_DNSBL_ZONES="bl.test") as inst):
        inst.run("demo")
        inst.start()
        yield inst, key


def stored(inst: Instance, queue_id: str) -> tuple[str, bytes, bool]:
    """The message's stored Authentication-Results value, raw bytes and spam flag."""
    [(results, raw, spam)] = inst.sql(
        f"SELECT auth_results, raw, spam FROM gateway_message WHERE queue_id = '{queue_id}'")
    return results, bytes(raw), bool(spam)


def signed_mail(key: bytes, subject: str) -> tuple[bytes, str]:
    data, message_id = mail(subject=subject, sender="Dana <dana@signed.example>")
    return dkim.sign(data, b"s1", b"signed.example", key) + data, message_id


def held(inst: Instance, queue_id: str) -> bool:
    return any(q["queue_id"] == queue_id for q in inst.json("quarantine", "list"))


def test_a_signed_message_passes_dkim_and_dmarc_and_a_changed_byte_fails_dkim(
        gateway: tuple[Instance, bytes]) -> None:
    inst, key = gateway
    data, message_id = signed_mail(key, "Signed")
    queue_id = inst.send("dana@signed.example", [HELP], data)
    results, raw, spam = stored(inst, queue_id)
    assert results.startswith("gw.test; spf=pass smtp.mailfrom=dana@signed.example; ")
    assert "dkim=pass header.d=signed.example header.s=s1" in results
    assert "dmarc=pass (p=reject dis=none) header.from=signed.example" in results
    assert raw.startswith(b"Authentication-Results: gw.test;\r\n\tspf=pass")
    assert not spam
    inst.case_with(message_id)

    data, _ = signed_mail(key, "Changed on the way")
    changed = data.replace(b"Hello", b"Hellp")
    results, _, spam = stored(inst, inst.send("dana@signed.example", [HELP], changed))
    assert "dkim=fail (body hash mismatch) header.d=signed.example" in results
    assert "dmarc=pass" in results  # SPF still passes, aligned
    assert not spam


@pytest.mark.parametrize("domain, result", [
    ("pass.example", "pass"), ("fail.example", "fail"), ("softfail.example", "softfail"),
    ("nospf.example", "none"), ("slow.example", "temperror"),
])
def test_spf_results_are_recorded(gateway: tuple[Instance, bytes], domain: str,
                                  result: str) -> None:
    inst, _ = gateway
    data, _ = mail(subject=f"SPF {result}", sender=f"Dana <dana@{domain}>")
    results, _, spam = stored(inst, inst.send(f"dana@{domain}", [HELP], data))
    assert f"spf={result} smtp.mailfrom=dana@{domain};" in results
    assert not spam  # no DMARC policy asks for anything: SPF alone decides nothing


def test_forged_mail_from_a_reject_domain_is_refused_and_not_stored(
        gateway: tuple[Instance, bytes]) -> None:
    inst, _ = gateway
    data, message_id = mail(subject="Wire the money", sender="Boss <boss@reject.example>")
    with inst.smtp() as client:
        client.ehlo("client.example.net")
        client.mail("boss@elsewhere.example")
        assert client.rcpt(HELP)[0] == 250
        code, reply = client.data(data)
    assert (code, reply.decode()) == (550, "5.7.1 Message rejected by the DMARC policy of"
                                           " reject.example (p=reject): neither SPF nor DKIM"
                                           " authenticates it for reject.example")
    assert inst.sql("SELECT count(*) FROM gateway_message WHERE message_id ="
                    f" '{message_id}'") == [(0,)]
    assert "rejected reason=dmarc domain=reject.example" in inst.log_path.read_text()


def test_forged_mail_from_a_quarantine_domain_is_quarantined(
        gateway: tuple[Instance, bytes]) -> None:
    inst, _ = gateway
    data, message_id = mail(subject="Invoice", sender="Billing <billing@quarantine.example>")
    queue_id = inst.send("billing@elsewhere.example", [HELP], data)
    results, _, spam = stored(inst, queue_id)
    assert "dmarc=fail (p=quarantine dis=quarantine) header.from=quarantine.example" in results
    assert spam
    assert held(inst, queue_id)
    assert message_id not in [c["message_id"] for c in inst.cases()]


def test_our_own_domain_from_outside_without_authentication_is_quarantined(
        gateway: tuple[Instance, bytes]) -> None:
    inst, _ = gateway
    data, message_id = mail(subject="Urgent", sender="CEO <ceo@solarmora.com>")
    queue_id = inst.send("ceo@solarmora.com", [HELP], data, source=STRANGER)
    assert stored(inst, queue_id)[2]
    assert held(inst, queue_id)
    assert message_id not in [c["message_id"] for c in inst.cases()]

    data, message_id = mail(subject="Urgent, from inside", sender="CEO <ceo@solarmora.com>")
    queue_id = inst.send("ceo@solarmora.com", [HELP], data, source=TRUSTED)
    results, raw, spam = stored(inst, queue_id)
    assert (results, spam) == ("", False)  # a trusted network's mail is not checked
    assert not raw.startswith(b"Authentication-Results:")
    inst.case_with(message_id)


def test_results_claiming_to_be_ours_are_removed_from_mail_from_outside(
        gateway: tuple[Instance, bytes]) -> None:
    inst, _ = gateway
    data, _ = mail(subject="Trust me", sender="Dana <dana@pass.example>", headers={
        "Authentication-Results": "GW.test; dmarc=pass header.from=solarmora.com"})
    data = b"Authentication-Results: other.example; spf=pass\r\n" + data
    _, raw, _ = stored(inst, inst.send("dana@pass.example", [HELP], data))
    assert raw.count(b"Authentication-Results:") == 2  # ours, and other.example's
    assert b"dmarc=pass header.from=solarmora.com" not in raw
    assert b"Authentication-Results: other.example; spf=pass" in raw


def test_a_listed_client_is_refused_at_rcpt_naming_the_list(
        gateway: tuple[Instance, bytes]) -> None:
    inst, _ = gateway
    with inst.smtp(LISTED) as client:
        client.ehlo("client.example.net")
        client.mail("dana@pass.example")
        code, reply = client.rcpt(HELP)
        assert (code, reply.decode()) == (554, "5.7.1 Service unavailable; client [127.0.0.2]"
                                               " blocked using bl.test")
        client.rset()
        client.mail("dana@pass.example")
        assert client.rcpt(HELP)[0] == 554
    refusals = inst.log_path.read_text().count("client=127.0.0.2 rejected reason=dnsbl")
    assert refusals == 1  # the list is asked once a session
