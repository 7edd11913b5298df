"""The delivery worker against the database: a failing claim, and a message that fails alone."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from django.db import OperationalError, transaction
from django.utils import timezone

from casegate.cli.queue import queue_list
from casegate.config import Config, get_config
from casegate.delivery import remote, worker
from casegate.delivery.metrics import QueueCollector
from casegate.delivery.models import Delivery
from casegate.delivery.queue import Claimed, claim
from casegate.delivery.services import act_on_queue
from casegate.delivery.vocabulary import DeliveryState
from casegate.desk import blobs, reception
from casegate.desk.models import Case, DeskMessage, Intake
from casegate.desk.services import add_intake
from casegate.desk.vocabulary import IntakeKind
from casegate.gateway.store import AcceptedMessage, DeliveryRow, new_queue_id, write_messages
from casegate.routing.copy_edits import CopyEdits
from casegate.routing.snapshot import load_table
from casegate.trace import TraceFilter, find_messages, message_hops
from tests.mails import mail
from tests.support import free_port, smtp_sink

# The worker runs outside any transaction (it checks its connection after a failure): so
# do these tests, instead of inside the usual per-test transaction.
pytestmark = pytest.mark.django_db(transaction=True)

KINDS = ("desk", "mailbox")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Config]:
    monkeypatch.setenv("CASEGATE_HOME", str(tmp_path))
    get_config.cache_clear()
    # Due again at once, so each round of the test is one more attempt.
    yield dataclasses.replace(get_config(), retry_min=0.0, retry_max=0.0, set_aside_after=3)
    get_config.cache_clear()


def queue_for_desk(intake: Intake, subjects: list[str]) -> list[str]:
    """Accepted messages for the intake, one per subject; their queue ids."""
    batch = [
        AcceptedMessage(
            queue_id=new_queue_id(), mail_from="ann@customer.example",
            rcpt_tos=[intake.address], received_at=datetime.now(UTC), peer="127.0.0.1",
            helo="client.example", message_id="", spam=False, spam_reason="",
            raw=mail(subject=subject, sender="ann@customer.example", to=intake.address)[0],
            deliveries=[DeliveryRow(intake.address, intake.address, "desk", intake.pk, False,
                                    [])])
        for subject in subjects
    ]
    with transaction.atomic():
        write_messages(batch)
    return [m.queue_id for m in batch]


def deliver_locally(config: Config) -> Callable[[list[Claimed]], None]:
    table = load_table()
    return lambda items: worker.deliver_local(items, config, table)


def drain(config: Config, rounds: int) -> None:
    """What the local loop does, ``rounds`` times: claim what is due and work through it."""
    for _ in range(rounds):
        items = claim(KINDS, 200, config.lease_seconds)
        if items:
            worker.work_through(items, deliver_locally(config), config)


def test_a_message_that_fails_alone_is_set_aside_and_the_others_are_filed(
        config: Config, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    filing = reception.file_batch

    def file_all_but_poison(arrivals, *rest):  # type: ignore[no-untyped-def]
        if any(a.mail.subject == "poison" for a in arrivals):
            raise ValueError("this message cannot be filed")
        return filing(arrivals, *rest)

    monkeypatch.setattr(reception, "file_batch", file_all_but_poison)
    intake = add_intake(Intake.CASE, "help@desk.example")
    subjects = [f"good {n}" for n in range(6)]
    subjects.insert(3, "poison")
    queue_ids = queue_for_desk(intake, subjects)
    poison_queue_id = queue_ids[3]

    drain(config, rounds=5)

    assert sorted(Case.objects.values_list("subject", flat=True)) == sorted(
        s for s in subjects if s != "poison")
    poison = Delivery.objects.get(message_id=poison_queue_id)
    assert poison.state == DeliveryState.FAILED and poison.attempts == config.set_aside_after
    assert "set aside after 3 attempts" in poison.last_reply
    assert "cannot be filed" in poison.last_reply
    assert set(Delivery.objects.exclude(pk=poison.pk).values_list("state", flat=True)) == {
        DeliveryState.DELIVERED}

    queue_list(argparse.Namespace(state=DeliveryState.FAILED, history=False, json=True))
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["state"]) == (poison.pk, "failed")
    hops = message_hops(poison_queue_id)["hops"]
    assert [h["hop"] for h in hops].count("delivery attempt (deferred)") == 2
    assert hops[-1]["hop"] == "delivery attempt (failed)"
    [found] = find_messages(TraceFilter(status=DeliveryState.FAILED))
    assert (found["queue_id"], found["status"]) == (poison_queue_id, "1 failed")
    [depth] = [m for m in QueueCollector().collect() if m.name == "casegate_deliveries"]
    by_state = {s.labels["state"]: s.value for s in depth.samples}
    assert by_state["failed"] == 1 and by_state["delivered"] == 6

    monkeypatch.setattr(reception, "file_batch", filing)
    assert act_on_queue("retry", [poison.pk], "fixed") == 1
    drain(config, rounds=1)
    assert Delivery.objects.get(pk=poison.pk).state == DeliveryState.DELIVERED
    assert DeskMessage.objects.filter(subject="poison").count() == 1


def no_room(*args: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def database_locked(*args: object) -> None:
    raise OperationalError("database is locked")


@pytest.mark.parametrize("module, where, failure, reason", [
    (reception, "prefetch", database_locked, "database is locked"),
    (worker, "contents", no_room, "No space left on device"),
])
def test_a_claim_whose_work_fails_returns_to_the_queue_at_once(
        config: Config, monkeypatch: pytest.MonkeyPatch, module: ModuleType, where: str,
        failure: Callable[..., None], reason: str) -> None:
    monkeypatch.setattr(module, where, failure)
    intake = add_intake(Intake.CASE, "help@desk.example")
    queue_for_desk(intake, ["one", "two", "three"])
    before = timezone.now()

    drain(config, rounds=config.set_aside_after + 2)

    for delivery in Delivery.objects.all():
        assert delivery.state == DeliveryState.DEFERRED and delivery.lease_until is None
        assert delivery.attempts == config.set_aside_after + 2
        assert delivery.next_attempt_at >= before
        assert reason in delivery.last_reply
        assert delivery.attempt_log.count() == config.set_aside_after + 2


def test_blobs_that_cannot_be_written_defer_the_message_without_setting_it_aside(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blobs, "put_many", no_room)
    intake = add_intake(IntakeKind.CASE, "help@desk.example")
    [queue_id] = queue_for_desk(intake, ["logs attached"])

    drain(config, rounds=config.set_aside_after + 1)

    delivery = Delivery.objects.get(message_id=queue_id)
    assert delivery.state == DeliveryState.DEFERRED and delivery.lease_until is None
    assert "No space left" in delivery.last_reply
    assert not Case.objects.exists()


def test_a_remote_copy_that_cannot_be_made_fails_alone_and_the_others_are_sent(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    batch = [
        AcceptedMessage(
            queue_id=new_queue_id(), mail_from="ann@customer.example",
            rcpt_tos=["crm@solarmora.com"], received_at=datetime.now(UTC), peer="127.0.0.1",
            helo="client.example", message_id="", spam=False, spam_reason="",
            raw=mail(subject=subject, sender="ann@customer.example")[0],
            deliveries=[DeliveryRow("crm@solarmora.com", "support@my-crm.com", "remote", None,
                                    False, [], f"smtp:127.0.0.1:{port}")])
        for subject in ("poison", "good one", "good two")
    ]
    with transaction.atomic():
        write_messages(batch)
    applying = worker.apply_edits

    def poisoned(raw: bytes, edits: CopyEdits) -> bytes:
        if b"Subject: poison" in raw:
            raise ValueError("this copy cannot be made")
        return applying(raw, edits)

    monkeypatch.setattr(worker, "apply_edits", poisoned)
    drain_remote = worker.RemoteDrain(config, threading.Event(), threading.Event())
    items = claim(("remote",), 100, config.lease_seconds)
    outbound, transports = drain_remote._prepare(items)
    ready = [i for i in items if i.id in outbound]
    with smtp_sink(port) as (_, sink):
        results = asyncio.run(remote.deliver(ready, remote.Sender(outbound), transports))
    worker.finish(worker.remote_outcomes(results, config))
    assert sorted(m[2].split(b"Subject: ")[1].split(b"\r\n")[0] for m in sink.messages) == [
        b"good one", b"good two"]
    states = dict(Delivery.objects.values_list("message__queue_id", "state"))
    assert states[batch[0].queue_id] == DeliveryState.DEFERRED
    assert {states[m.queue_id] for m in batch[1:]} == {DeliveryState.DELIVERED}
