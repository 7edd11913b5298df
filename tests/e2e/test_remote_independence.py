"""Destinations do not wait for each other: a domain whose DNS never answers holds up
nothing but its own mail."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.mails import mail
from tests.support import free_port, instance, smtp_sink


@contextmanager
def silent_dns() -> Iterator[str]:
    """A name server that receives every query and answers none (as a broken DNS does)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_a_domain_whose_dns_times_out_does_not_delay_a_transport_mapped_delivery(
        backend: str) -> None:
    crm_port = free_port()
    with silent_dns() as dns_server, instance(backend, CASEGATE_DNS_SERVERS=dns_server) as inst, \
            smtp_sink(crm_port) as (_, crm):
        inst.run("demo")
        inst.run("transport", "add", "my-crm.com", f"127.0.0.1:{crm_port}")
        inst.run("rule", "add", "--match", "crm@solarmora.com", "--replace-recipient",
                 "support@my-crm.com")
        for number in range(8):
            inst.run("rule", "add", "--match", f"slow{number}@solarmora.com",
                     "--replace-recipient", f"someone@slow{number}.example")
        inst.start()
        data, msgid = mail(subject="the worker is up", to="crm@solarmora.com")
        inst.send("dana@example.net", ["crm@solarmora.com"], data)
        inst.wait_for(lambda: crm.messages, timeout=30, what="the first copy")

        for number in range(8):
            data, _ = mail(subject=f"to a slow domain {number}", to=f"slow{number}@solarmora.com")
            inst.send("dana@example.net", [f"slow{number}@solarmora.com"], data)
        time.sleep(0.3)  # the slow lookups are under way
        data, msgid = mail(subject="to the CRM", to="crm@solarmora.com")
        sent = time.monotonic()
        inst.send("dana@example.net", ["crm@solarmora.com"], data)
        inst.wait_for(lambda: [m for m in crm.messages if msgid.encode() in m[2]],
                      timeout=30, what="the CRM's copy")
        assert crm.received_at[-1] - sent < 1.0
