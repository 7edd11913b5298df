"""Crashes and several processes: nothing acknowledged is lost, nothing is sent twice by design."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

from tests.mails import mail
from tests.support import (
    free_port,
    instance,
    postgres_unavailable,
    send_until_acknowledged,
    smtp_sink,
    wait_for_smtp,
)

REMOTE_BATCH = 100  # the most deliveries one worker holds in flight (delivery.worker)


def messages(count: int, tag: str) -> list[tuple[str, bytes]]:
    built = []
    for n in range(count):
        data, msgid = mail(subject=f"{tag} {n}", to="crm@solarmora.com")
        built.append((msgid, data))
    return built


def received_ids(sink_messages: list[tuple[str, list[str], bytes]]) -> Counter[str]:
    found: Counter[str] = Counter()
    for _, _, raw in sink_messages:
        for line in raw.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                found[line.split(b":", 1)[1].strip().decode()] += 1
                break
    return found


def test_kill9_of_gateway_and_worker_twice_loses_no_acknowledged_message(backend: str) -> None:
    port = free_port()
    with instance(backend, CASEGATE_LEASE_SECONDS="3") as inst, smtp_sink(port) as (_, crm):
        inst.run("demo")
        inst.run("transport", "add", "my-crm.com", f"127.0.0.1:{port}")
        inst.run("rule", "add", "--match", "crm@solarmora.com", "--replace-recipient",
                 "support@my-crm.com")
        inst.start()
        batch = messages(1000, "chaos")
        acknowledged: list[str] = []
        sender = threading.Thread(target=lambda: acknowledged.extend(
            send_until_acknowledged([inst.smtp_port], batch, "crm@solarmora.com", threads=4)))
        sender.start()
        rng = random.Random(1234)
        for low, high in ((150, 400), (500, 800)):
            target = rng.randint(low, high)
            while len(acknowledged) < target and sender.is_alive():
                time.sleep(0.01)
            inst.kill9()
            time.sleep(rng.uniform(0.1, 0.5))
            inst.start()
        sender.join()
        assert sorted(acknowledged) == sorted(m for m, _ in batch)
        inst.wait_for(lambda: set(received_ids(crm.messages)) >= set(acknowledged),
                      timeout=120, what="every acknowledged message at the CRM")
        got = received_ids(crm.messages)
        assert set(got) <= set(acknowledged), "something arrived that was never acknowledged"
        duplicates = sum(n - 1 for n in got.values())
        assert duplicates <= 2 * REMOTE_BATCH, duplicates


@pytest.mark.skipif(bool(postgres_unavailable()), reason="no PostgreSQL server answers")
def test_two_gateways_and_two_workers_on_postgresql_deliver_each_message_once() -> None:
    port = free_port()
    with instance("postgresql") as inst, smtp_sink(port) as (_, crm):
        inst.run("demo")
        inst.run("transport", "add", "my-crm.com", f"127.0.0.1:{port}")
        inst.run("rule", "add", "--match", "crm@solarmora.com", "--replace-recipient",
                 "support@my-crm.com")
        gateway_ports = [free_port(), free_port()]
        processes = [
            inst.spawn("serve", "--no-worker", "--smtp", f"127.0.0.1:{p}", name=f"gateway{i}")
            for i, p in enumerate(gateway_ports)
        ] + [inst.spawn("worker", name=f"worker{i}") for i in range(2)]
        try:
            for p in gateway_ports:
                wait_for_smtp(p)
            batch = messages(5000, "shared")
            acknowledged = send_until_acknowledged(gateway_ports, batch, "crm@solarmora.com")
            assert len(acknowledged) == 5000
            inst.wait_for(lambda: len(crm.messages) >= 5000, timeout=180,
                          what="5,000 messages at the CRM")
            time.sleep(1)
            got = received_ids(crm.messages)
            assert len(crm.messages) == 5000
            assert set(got) == set(acknowledged) and set(got.values()) == {1}

            # A rule added through one gateway's database applies at the other's next message.
            inst.run("rule", "add", "--match", "billing@solarmora.com", "--replace-recipient",
                     "support@my-crm.com")
            data, msgid = mail(subject="via the other gateway", to="billing@solarmora.com")
            send_until_acknowledged([gateway_ports[1]], [(msgid, data)], "billing@solarmora.com")
            inst.wait_for(lambda: msgid in received_ids(crm.messages), what="the billing mail")
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=60)
