"""The delivery worker against the database: a failing claim, and a message that fails alone."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from aiosmtpd.controller import Controller
from django.db import OperationalError, transaction
from django.utils import timezone

from casegate.cli.queue import queue_list
from casegate.config import Config, get_config
from casegate.delivery import forwarding, remote, worker
from casegate.delivery.metrics import QueueCollector
from casegate.delivery.services import act_on_queue
from casegate.desk import blobs, reception
from casegate.desk.clock import Job
from casegate.desk.models import Case, DeskMessage, Intake, SuspendedMessage
from casegate.desk.services import add_intake
from casegate.desk.suspension import remove_expired
from casegate.desk.vocabulary import IntakeKind, SuspensionCause
from casegate.errors import CasegateError
from casegate.routing.snapshot import load_table
from casegate.signing.keys import dkim_sign, generate_key
from casegate.signing.models import SigningKey
from casegate.spool.copy_edits import CopyEdits
from casegate.spool.messages import AcceptedMessage, DeliveryRow, enqueue, new_queue_id
from casegate.spool.models import Delivery
from casegate.spool.queue import Claimed, claim
from casegate.spool.vocabulary import DeliveryState
from casegate.trace import TraceFilter, find_messages, message_hops
from tests.mails import mail
from tests.support import RecordingHandler, SlowFor, free_port, smtp_sink

# The worker runs outside any transaction (it checks its connection after a failure): so
# do these tests, instead of inside the usual per-test transaction.
pytestmark = pytest.mark.django_db(transaction=True)

KINDS = ("desk", "mailbox")


@pytest.fixture
def config(tmp_path: Path, setting: Callable[..., None]) -> Config:
    setting("CASEGATE_HOME", str(tmp_path))
    # Due again at once, so each round of the test is one more attempt.
    return dataclasses.replace(get_config(), retry_min=0.0, retry_max=0.0, set_aside_after=3)


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
        enqueue(batch)
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


def queue_remote(relay: str, subjects: list[str], signed_by: SigningKey | None = None
                 ) -> list[str]:
    """Accepted messages forwarded from crm@solarmora.com over ``relay``, one per subject
    (DKIM-signed by the sender's domain with ``signed_by``); their queue ids."""
    batch = []
    for subject in subjects:
        raw = mail(subject=subject, sender="ann@customer.example")[0]
        batch.append(AcceptedMessage(
            queue_id=new_queue_id(), mail_from="ann@customer.example",
            rcpt_tos=["crm@solarmora.com"], received_at=datetime.now(UTC), peer="127.0.0.1",
            helo="client.example", message_id="", spam=False, spam_reason="",
            raw=dkim_sign(raw, signed_by) if signed_by else raw,
            deliveries=[DeliveryRow("crm@solarmora.com", "support@my-crm.com", "remote", None,
                                    False, [], relay)]))
    with transaction.atomic():
        enqueue(batch)
    return [m.queue_id for m in batch]


def subjects(sink: RecordingHandler) -> list[bytes]:
    return sorted(m[2].split(b"Subject: ")[1].split(b"\r\n")[0] for m in sink.messages)


def states() -> dict[str, str]:
    return dict(Delivery.objects.values_list("message__queue_id", "state"))


def test_a_remote_copy_that_cannot_be_made_fails_alone_and_the_others_are_sent(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    queued = queue_remote(f"smtp:127.0.0.1:{port}", ["poison", "good one", "good two"])
    applying = worker.apply_edits

    def poisoned(raw: bytes, edits: CopyEdits) -> bytes:
        if b"Subject: poison" in raw:
            raise ValueError("this copy cannot be made")
        return applying(raw, edits)

    monkeypatch.setattr(worker, "apply_edits", poisoned)
    drain_remote = worker.RemoteDrain(config, threading.Event(), threading.Event())
    items = claim(("remote",), 100, config.lease_seconds)
    with smtp_sink(port) as (_, sink):
        asyncio.run(drain_remote._send(items, time.monotonic()))
    assert subjects(sink) == [b"good one", b"good two"]
    assert states()[queued[0]] == DeliveryState.DEFERRED
    assert {states()[q] for q in queued[1:]} == {DeliveryState.DELIVERED}


def test_what_was_sent_is_recorded_when_the_database_comes_back_not_sent_again(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    queued = queue_remote(f"smtp:127.0.0.1:{port}", ["once only"])
    finishing = worker.finish
    failures = [OperationalError("database or disk is full")]

    def failing_once(outcomes: list[worker.Outcome]) -> list[int]:
        if failures:
            raise failures.pop()
        return finishing(outcomes)

    monkeypatch.setattr(worker, "finish", failing_once)
    monkeypatch.setattr(worker, "RECORD_RETRY_FIRST", 0.01)
    drain_remote = worker.RemoteDrain(config, threading.Event(), threading.Event())
    with smtp_sink(port) as (_, sink):
        asyncio.run(drain_remote._send(claim(("remote",), 100, config.lease_seconds),
                                       time.monotonic()))
        assert states()[queued[0]] == DeliveryState.DELIVERED and not failures
        Delivery.objects.update(lease_until=timezone.now())  # as if the lease had ended
        assert claim(("remote",), 100, config.lease_seconds) == []
    assert subjects(sink) == [b"once only"]


def test_a_stopping_worker_waits_for_the_database_a_little_only(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    queue_remote(f"smtp:127.0.0.1:{free_port()}", ["sent, never recorded"])

    failures = [OperationalError("the server closed the connection")] * 2

    def down(outcomes: list[worker.Outcome]) -> list[int]:
        if failures:
            raise failures.pop()
        return []

    monkeypatch.setattr(worker, "finish", down)
    monkeypatch.setattr(worker, "RECORD_RETRY_FIRST", 0.01)
    monkeypatch.setattr(worker, "RECORD_WHILE_STOPPING", 0.2)
    stopping = threading.Event()
    stopping.set()
    drain_remote = worker.RemoteDrain(config, stopping, threading.Event())
    items = claim(("remote",), 100, config.lease_seconds)
    assert asyncio.run(drain_remote._record_sent([], items, time.monotonic() + 300))
    failures.extend([OperationalError("the server closed the connection")] * 1000)
    started = time.monotonic()
    recorded = asyncio.run(drain_remote._record_sent([], items, time.monotonic() + 300))
    assert not recorded and time.monotonic() - started < 2  # not the lease's five minutes


def test_only_failures_to_make_the_copy_count_towards_setting_it_aside(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    queue_remote(f"smtp:127.0.0.1:{free_port()}", ["poison"])
    Delivery.objects.update(attempts=10)  # ordinary 4xx deferrals, far past set_aside_after

    def poisoned(raw: bytes, edits: CopyEdits) -> bytes:
        raise ValueError("this copy cannot be made")

    monkeypatch.setattr(worker, "apply_edits", poisoned)
    drain_remote = worker.RemoteDrain(config, threading.Event(), threading.Event())
    seen = []
    for _ in range(config.set_aside_after):
        asyncio.run(drain_remote._send(claim(("remote",), 100, config.lease_seconds),
                                       time.monotonic()))
        seen.append(Delivery.objects.get().state)
    assert seen == [DeliveryState.DEFERRED] * (config.set_aside_after - 1) + [
        DeliveryState.FAILED]


def test_a_batch_that_fails_as_a_whole_is_deferred_and_never_set_aside(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    queue_remote(f"smtp:127.0.0.1:{free_port()}", ["often deferred"])
    Delivery.objects.update(attempts=10)  # ordinary 4xx deferrals, far past set_aside_after

    def no_transports() -> dict[str, remote.TransportEntry]:
        raise RuntimeError("the transport map cannot be read")

    monkeypatch.setattr(worker, "transport_map", no_transports)
    drain_remote = worker.RemoteDrain(config, threading.Event(), threading.Event())
    asyncio.run(drain_remote._send(claim(("remote",), 100, config.lease_seconds),
                                   time.monotonic()))
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.DEFERRED
    assert "transport map cannot be read" in delivery.last_reply


def test_dkim_checks_for_arc_seals_stop_early_in_the_lease(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """Key lookups that never answer cannot make the copies outlast the claim's lease."""
    port = free_port()
    author, _ = generate_key("customer.example")
    generate_key("solarmora.com")
    queue_remote(f"smtp:127.0.0.1:{port}", [f"signed {n}" for n in range(8)], signed_by=author)

    def unanswered(name: bytes, timeout: float = 5) -> bytes | None:
        time.sleep(timeout)
        return None

    monkeypatch.setattr(forwarding, "dns_txt", unanswered)
    config = dataclasses.replace(config, lease_seconds=8.0)
    drain_remote = worker.RemoteDrain(config, threading.Event(), threading.Event())
    clock = time.monotonic()
    with smtp_sink(port) as (_, sink):
        asyncio.run(drain_remote._send(claim(("remote",), 100, config.lease_seconds), clock))
    assert time.monotonic() - clock < config.lease_seconds * worker.SEND_SHARE
    assert set(states().values()) == {DeliveryState.DELIVERED}
    assert any(b"dkim=temperror" in m[2] for m in sink.messages)


def test_deliveries_claimed_again_while_in_flight_are_not_sent_twice(config: Config) -> None:
    queue_remote(f"smtp:127.0.0.1:{free_port()}", ["one", "two"])
    drain_remote = worker.RemoteDrain(config, threading.Event(), threading.Event())
    first, fresh = drain_remote._claim()
    assert fresh == first
    Delivery.objects.update(lease_until=timezone.now())  # the lease ran out meanwhile
    again, fresh = drain_remote._claim()
    assert [i.id for i in again] == [i.id for i in first] and fresh == []
    # the first claim's outcome is recorded under the newest one
    written = drain_remote._record(
        [worker.Outcome(i, Delivery.DELIVERED, "250 ok") for i in first])
    assert sorted(written) == sorted(i.id for i in first)
    assert set(states().values()) == {DeliveryState.DELIVERED}


def test_a_delivery_due_again_at_once_is_claimed_as_new_once_its_outcome_is_written(
        config: Config) -> None:
    queue_remote(f"smtp:127.0.0.1:{free_port()}", ["one"])
    drain_remote = worker.RemoteDrain(config, threading.Event(), threading.Event())
    first, _ = drain_remote._claim()
    # not tried (its batch ran out of time): due again at once, and no longer ours
    drain_remote._record([worker.Outcome(i, DeliveryState.PENDING, "not tried",
                                         timezone.now()) for i in first], first)
    again, fresh = drain_remote._claim()
    assert [i.id for i in fresh] == [i.id for i in first] == [i.id for i in again]


def run_drain(config: Config, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(
        target=worker.RemoteDrain(config, stop, threading.Event()).run, name="deliver-remote")
    thread.start()
    return thread


def test_stopping_cuts_sends_short_and_records_what_was_sent(config: Config) -> None:
    handler = SlowFor(b"Subject: slow", 30)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    # four lanes: the first carries "slow" and "fast 5", and stalls on "slow"
    queued = queue_remote(f"smtp:127.0.0.1:{controller.port}",
                          ["slow", *(f"fast {n}" for n in range(2, 9))])
    stop = threading.Event()
    try:
        thread = run_drain(dataclasses.replace(config, connections_per_destination=4), stop)
        wait_for(lambda: len(handler.messages) == 6)
        clock = time.monotonic()
        stop.set()
        thread.join(10)
        stopped_in = time.monotonic() - clock
    finally:
        controller.stop()
    assert not thread.is_alive() and stopped_in < 3
    assert states()[queued[0]] == states()[queued[4]] == DeliveryState.DEFERRED
    assert [states()[q] for q in queued if q not in (queued[0], queued[4])] == [
        DeliveryState.DELIVERED] * 6


def test_a_batch_claimed_as_the_worker_stops_goes_back_untried(config: Config) -> None:
    port = free_port()
    queue_remote(f"smtp:127.0.0.1:{port}", ["one", "two"])
    stop = threading.Event()
    drain_remote = worker.RemoteDrain(config, stop, threading.Event())
    items = claim(("remote",), 100, config.lease_seconds)
    stop.set()
    with smtp_sink(port) as (_, sink):
        asyncio.run(drain_remote._send(items, time.monotonic()))
    assert sink.messages == []
    assert set(states().values()) == {DeliveryState.PENDING}
    assert all(d.next_attempt_at <= timezone.now() for d in Delivery.objects.all())


def test_the_remote_loop_outlives_a_failing_reconnect(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    claims: list[int] = []
    claiming = worker.claim

    def failing_once(*args: object) -> list[Claimed]:
        claims.append(1)
        if len(claims) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return claiming(*args)  # type: ignore[arg-type]

    def no_connection() -> None:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(worker, "claim", failing_once)
    monkeypatch.setattr(worker, "_fresh_connection", no_connection)
    stop = threading.Event()
    thread = run_drain(config, stop)
    try:
        wait_for(lambda: len(claims) > 1)
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(10)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_loop_thread_stops_the_worker_with_an_error(
        config: Config, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    def dies(self: worker.RemoteDrain) -> None:
        raise RuntimeError("the remote loop broke")

    monkeypatch.setattr(worker.RemoteDrain, "run", dies)
    delivery_worker = worker.DeliveryWorker(config)
    give_up = threading.Timer(10, delivery_worker.stop)  # the worker as it was never ended
    give_up.start()
    try:
        with pytest.raises(CasegateError, match="deliver-remote"):
            delivery_worker.run_forever()
    finally:
        give_up.cancel()
    assert "worker=failed thread=deliver-remote" in caplog.text


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_worker_runs_the_desk_clock_jobs_at_its_start_and_then_every_interval(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "JOBS", (Job("suspended-expiry", 0.1, remove_expired),))
    intake = add_intake(IntakeKind.CASE, "help@desk.example")

    def suspended(days_old: int) -> SuspendedMessage:
        return SuspendedMessage.objects.create(
            intake=intake, queue_id=new_queue_id(), received_at=timezone.now(), raw=b"x",
            cause=SuspensionCause.SPAM, created_at=timezone.now() - timedelta(days=days_old))

    suspended(15)
    young = suspended(13)
    delivery_worker = worker.DeliveryWorker(config)
    delivery_worker.start()
    try:
        wait_for(lambda: SuspendedMessage.objects.count() == 1)
        suspended(20)
        wait_for(lambda: list(SuspendedMessage.objects.all()) == [young])
    finally:
        delivery_worker.stop()
        delivery_worker.join()
