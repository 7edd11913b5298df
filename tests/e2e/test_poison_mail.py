"""A message the desk cannot read in some header is filed anyway and holds back no other."""

from __future__ import annotations

import time

from tests.mails import mail
from tests.support import free_port, instance, wait_for_smtp

CRLF_WORD = "=?utf-8?b?eA0KWTogeg==?="  # "x\r\nY: z"
HEADERS = ["From", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID", "References",
           "In-Reply-To"]


def poisoned(header: str) -> bytes:
    """A message whose ``header`` hides a line break in an encoded word."""
    fields = {"From": "Pat <pat@customer.example>", "To": "help@solarmora.com",
              "Subject": f"poison in {header}", "Message-ID": f"<poison-{header}@customer.example>"}
    fields[header] = (f"{CRLF_WORD} <p@customer.example>"
                      if header in ("From", "Reply-To", "To", "Cc") else CRLF_WORD)
    lines = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"{lines}\r\nfile me anyway\r\n".encode()


def test_one_poison_message_per_header_is_filed_with_30_good_ones_in_one_batch(
        backend: str) -> None:
    port = free_port()
    with instance(backend) as inst:
        inst.run("demo")
        inst.smtp_port = port
        gateway = inst.spawn("serve", "--no-worker", "--smtp", f"127.0.0.1:{port}",
                             name="gateway")
        worker = None
        try:
            wait_for_smtp(port)
            good = [mail(subject=f"good {n}", sender=f"c{n}@customer.example")[0]
                    for n in range(30)]
            batch = good[:15] + [poisoned(h) for h in HEADERS] + good[15:]
            for data in batch:
                inst.send("pat@customer.example", ["help@solarmora.com"], data)
            started = time.monotonic()
            worker = inst.spawn("worker", name="worker")  # finds all 39 due: one claim
            inst.wait_for(lambda: len(inst.cases()) == len(batch), timeout=60,
                          what="every message filed")
            assert time.monotonic() - started < 60  # well within the 300 s lease

            problems = {subject: text for subject, text in inst.sql(
                "SELECT subject, parse_problems FROM desk_deskmessage WHERE direction = 'inbound'")}
            for header in HEADERS:
                subject = "x Y: z" if header == "Subject" else f"poison in {header}"
                assert f"{header}:" in problems[subject], (header, problems[subject])
            assert all(not problems[f"good {n}"] for n in range(30))
            states = inst.sql("SELECT DISTINCT state FROM delivery_delivery WHERE kind = 'desk'")
            assert states == [("delivered",)]
            requesters = {c["subject"]: c["requester"] for c in inst.cases()}
            assert requesters["poison in From"] == "p@customer.example"
        finally:
            for process in (gateway, worker):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=60)
