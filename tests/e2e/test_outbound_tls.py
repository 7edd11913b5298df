"""Outbound TLS that cannot be stripped: a recipient domain's MTA-STS policy, fetched over
HTTPS from a policy server on loopback with a test CA, decides whether its MX host's
certificate must verify; DANE TLSA records count only when the name server validated them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.certificates import Issued, PolicyServer, TestCA, mta_sts_server
from tests.e2e.test_delivery import deliveries, delivery_in
from tests.mails import mail
from tests.support import Instance, LocalDNS, free_port, instance, smtp_sink

MX = "localhost"  # an MX host name the system resolves to loopback, where the sink listens
POLICY = f"version: STSv1\nmode: enforce\nmx: {MX}\nmax_age: 86400\n"


@dataclass
class World:
    inst: Instance
    ca: TestCA
    dns: LocalDNS
    policy: PolicyServer
    mx_port: int


def zone(domain: str) -> dict[str, dict[str, list[str]]]:
    return {f"{domain}.": {"MX": [f"10 {MX}."]},
            f"_mta-sts.{domain}.": {"TXT": ["v=STSv1; id=1"]},
            f"mta-sts.{domain}.": {"A": ["127.0.0.1"]}}


@pytest.fixture(scope="module")
def world(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    ca = TestCA(tmp_path_factory.mktemp("ca"))
    mx_port = free_port()
    policy_cert = ca.issue(*(f"mta-sts.{d}" for d in ("enforced.example", "testing.example",
                                                      "dane.example")))
    with LocalDNS({}) as dns, mta_sts_server(policy_cert, POLICY) as policy, instance(
            backend, CASEGATE_DNS_SERVERS=dns.address, CASEGATE_TLS_CA_FILE=str(ca.bundle),
            CASEGATE_MTA_STS_PORT=str(policy.port),
            CASEGATE_REMOTE_SMTP_PORT=str(mx_port)) as inst:
        inst.run("demo")
        inst.start()
        yield World(inst, ca, dns, policy, mx_port)


def send_to(world: World, domain: str, subject: str) -> str:
    local = domain.partition(".")[0]
    world.inst.run("rule", "add", "--match", f"{local}@solarmora.com", "--replace-recipient",
                   f"support@{domain}")
    data, _ = mail(subject=subject, to=f"{local}@solarmora.com")
    return world.inst.send("dana@example.net", [f"{local}@solarmora.com"], data)


def test_enforce_defers_a_certificate_that_does_not_match_and_delivers_a_verified_one(
        world: World) -> None:
    world.dns.zone.update(zone("enforced.example"))
    wrong = world.ca.issue("other.example")
    with smtp_sink(world.mx_port, tls_context=wrong.server_context()) as (_, sink):
        queue_id = send_to(world, "enforced.example", "under MTA-STS")
        deferred = delivery_in(world.inst, queue_id, "deferred")
        assert "certificate of localhost does not verify (the MTA-STS policy of" \
               " enforced.example is enforced)" in deferred["last_reply"]
        assert "Hostname mismatch" in deferred["last_reply"]
        assert sink.messages == []
    right = world.ca.issue(MX)
    with smtp_sink(world.mx_port, tls_context=right.server_context()) as (_, sink):
        world.inst.run("queue", "retry", "--all")
        delivery_in(world.inst, queue_id, "delivered")
        assert sink.tls == [True]
    assert world.policy.fetched == 1  # kept for its max_age


def test_testing_mode_delivers_and_logs(world: World, tmp_path: Path) -> None:
    world.dns.zone.update(zone("testing.example"))
    world.policy.policy = POLICY.replace("enforce", "testing")
    # validated TLSA records none of which can be used (PKIX-EE): TLS is a must, no more
    unusable = f"_{world.mx_port}._tcp.{MX}."
    world.dns.zone[unusable] = {"TLSA": ["1 1 1 " + "ab" * 32]}
    world.dns.validated.add(unusable)
    wrong = world.ca.issue("other.example")
    try:
        with smtp_sink(world.mx_port, tls_context=wrong.server_context()) as (_, sink):
            queue_id = send_to(world, "testing.example", "policy in testing")
            delivery_in(world.inst, queue_id, "delivered")
            assert sink.tls == [True]
    finally:
        world.policy.policy = POLICY
        world.dns.validated.discard(unusable)
        del world.dns.zone[unusable]
    assert "mta-sts=testing domain=testing.example host=localhost failure=certificate:" \
        in world.inst.log_path.read_text()


def tlsa(issued: Issued) -> str:
    key = x509.load_pem_x509_certificate(issued.cert.read_bytes()).public_key()
    spki = key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"3 1 1 {hashlib.sha256(spki).hexdigest()}"


def test_dane_records_validated_by_the_resolver_are_checked_and_others_ignored(
        world: World) -> None:
    domain = "dane.example"
    world.dns.zone[f"{domain}."] = {"MX": [f"10 {MX}."]}  # no MTA-STS
    name = f"_{world.mx_port}._tcp.{MX}."
    served, other = world.ca.issue("anything.example"), world.ca.issue("anything.example")
    world.dns.zone[name] = {"TLSA": [tlsa(other)]}
    with smtp_sink(world.mx_port, tls_context=served.server_context()) as (_, sink):
        queue_id = send_to(world, domain, "unvalidated TLSA")  # without AD: ignored
        delivery_in(world.inst, queue_id, "delivered")
        world.dns.validated.add(name)
        data, _ = mail(subject="validated TLSA", to="dane@solarmora.com")
        queue_id = world.inst.send("dana@example.net", ["dane@solarmora.com"], data)
        deferred = delivery_in(world.inst, queue_id, "deferred")
        assert "matches none of its 1 DANE TLSA records" in deferred["last_reply"]
        world.dns.zone[name] = {"TLSA": [tlsa(served)]}
        world.dns.failing.add(name)  # as a validating resolver answers a bogus TLSA record
        world.dns.zone[f"{MX}."] = {"A": ["127.0.0.1"]}  # of a host in a signed zone
        world.dns.validated.add(f"{MX}.")
        world.inst.run("queue", "retry", "--all")
        world.inst.wait_for(lambda: [d for d in deliveries(world.inst, queue_id) if (
            d["state"] == "deferred"
            and f"4.4.3 the TLSA lookup for {MX} failed" in d["last_reply"])],
            what="the delivery to wait for a TLSA lookup that failed")
        world.dns.failing.discard(name)
        world.dns.validated.discard(f"{MX}.")
        del world.dns.zone[f"{MX}."]
        world.inst.run("queue", "retry", "--all")
        delivery_in(world.inst, queue_id, "delivered")
        assert sink.tls == [True, True]
