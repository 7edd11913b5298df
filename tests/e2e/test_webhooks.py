"""Webhooks as a user runs them: mail over SMTP to ``casegate serve`` and changes from the
command line, posted by the serve's delivery worker to a real HTTP receiver, signed; a
paused webhook's events wait for it (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

from tests.mails import mail
from tests.support import instance
from tests.webhook_receiver import Receiver, receiving


def test_the_worker_posts_case_events_signed_and_keeps_them_while_paused(backend: str) -> None:
    with instance(backend, CASEGATE_WEBHOOK_PRIVATE_TARGETS="1") as inst, \
            receiving(Receiver()) as receiver:
        inst.run("demo")
        added = inst.run("webhook", "add", "crm", receiver.url, "--event", "case_created",
                         "--event", "field_changed").stdout
        secret = added.rsplit(": ", 1)[1].strip()
        inst.start()
        data, message_id = mail(subject="Printer on fire", sender="dana@customer.example",
                                to="help@solarmora.com")
        inst.send("dana@customer.example", ["help@solarmora.com"], data)
        case = inst.case_with(message_id)
        [created] = inst.wait_for(lambda: receiver.received, what="the case_created post")
        assert created.signed_with(secret)
        assert created.payload["event"] == "case_created"
        assert created.payload["case"]["id"] == case["id"]

        inst.run("webhook", "pause", "crm", "--reason", "receiver upgrade")
        inst.run("cases", "set", str(case["id"]), "--priority", "urgent")
        time.sleep(2)  # two turns of the worker's clock
        assert len(receiver.received) == 1
        [row] = inst.json("webhook", "list")
        assert (row["paused_reason"], row["waiting"]) == ("receiver upgrade", 1)

        inst.run("webhook", "resume", "crm")
        inst.wait_for(lambda: len(receiver.received) == 2, what="the waiting event")
        changed = receiver.received[1]
        assert changed.signed_with(secret)
        assert (changed.payload["event"], changed.payload["changed"]) == (
            "field_changed", ["priority"])
        log = inst.json("webhook", "log", "crm")
        assert [entry["outcome"] for entry in log] == ["delivered", "delivered"]
        assert secret not in inst.log_path.read_text()
