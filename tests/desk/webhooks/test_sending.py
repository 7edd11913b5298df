"""Webhooks end to end against a real HTTP receiver on loopback: events written with the
case's change, sent signed by the worker's job, retried, and paused when the receiver keeps
failing."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from casegate.desk.automation.macros import add_macro
from casegate.desk.automation.rules import TriggerError, check_action
from casegate.desk.automation.simulator import simulate_case
from casegate.desk.automation.triggers import add_trigger
from casegate.desk.clock import JOBS
from casegate.desk.filing import file_batch
from casegate.desk.models import Case, CaseEvent, Intake, Webhook, WebhookAttempt, WebhookCall
from casegate.desk.services import update_case
from casegate.desk.vocabulary import WebhookCallState
from casegate.desk.webhooks.hooks import add_webhook, resume_webhook
from casegate.desk.webhooks.sending import (
    GIVE_UP_AFTER,
    PAUSE_AFTER,
    PAUSE_AFTER_FAILURES,
    _anything_due,
    claim_due,
    send_due,
    send_webhooks,
)
from casegate.routing.snapshot import load_table
from tests.desk.filing.batches import HOSTNAME, arrival
from tests.mails import mail
from tests.support import free_port
from tests.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.django_db


def file(intake: Intake, subject: str) -> Case:
    [item] = file_batch([arrival(intake, mail(subject=subject)[0])], load_table(),
                        HOSTNAME).filed
    assert isinstance(item.conversation, Case)
    return item.conversation


def retry_clock() -> None:
    """Every waiting event due now, as if its retry time had come."""
    WebhookCall.objects.filter(state=WebhookCallState.PENDING).update(due_at=timezone.now())


def send_all_due() -> None:
    while send_due():
        pass


def outcomes(webhook: Webhook) -> list[tuple[int | None, str]]:
    return [(a.status, a.outcome) for a in
            WebhookAttempt.objects.filter(webhook=webhook).order_by("at", "id")]


def test_an_event_is_written_with_the_change_and_sent_by_the_worker_not_the_desk(
        intake: Intake) -> None:
    with receiving(Receiver()) as receiver:
        created = add_webhook("crm", receiver.url, ["case_created", "field_changed"])
        case = file(intake, "Printer on fire")
        assert receiver.received == []
        [call] = WebhookCall.objects.all()
        assert (call.event, call.case_id, call.state) == ("case_created", case.pk, "pending")
        update_case(case.pk, "ann", status="open", priority="high")
        send_all_due()
    [created_event, changed] = [r.payload for r in receiver.received]
    assert all(r.signed_with(created.secret) for r in receiver.received)
    assert created_event["event"] == "case_created"
    assert created_event["case"]["id"] == case.pk
    assert created_event["case"]["subject"] == "Printer on fire"
    assert created_event["message"]["subject"] == "Printer on fire"
    assert changed["event"] == "field_changed" and changed["message"] is None
    assert changed["changed"] == ["priority", "status"]
    assert changed["case"]["status"] == "open"
    assert created_event["delivery"] != changed["delivery"]
    assert receiver.received[0].headers["X-Casegate-Delivery"] == created_event["delivery"]
    assert set(WebhookCall.objects.values_list("state", flat=True)) == {"delivered"}


def test_a_receiver_answering_500_twice_then_200_gets_the_event_three_times_signed(
        intake: Intake) -> None:
    case = file(intake, "Refund")
    with receiving(Receiver(answers=[500, 500])) as receiver:
        created = add_webhook("crm", receiver.url, ["field_changed"])
        update_case(case.pk, "ann", status="open")
        started = timezone.now()
        send_all_due()
        [call] = WebhookCall.objects.all()
        assert call.state == "pending" and call.attempts == 1
        assert timedelta(seconds=29) < call.due_at - started < timedelta(seconds=32)
        send_all_due()
        assert len(receiver.received) == 1  # not due yet
        retry_clock()
        send_all_due()
        call.refresh_from_db()
        assert timedelta(seconds=59) < call.due_at - started < timedelta(seconds=64)
        retry_clock()
        send_all_due()
    assert len(receiver.received) == 3
    assert all(r.signed_with(created.secret) for r in receiver.received)
    assert not receiver.received[0].signed_with(created.secret + "x")
    assert len({r.payload["delivery"] for r in receiver.received}) == 1
    assert outcomes(created.webhook) == [(500, "retry"), (500, "retry"), (200, "delivered")]
    call.refresh_from_db()
    assert (call.state, call.attempts) == ("delivered", 3)
    created.webhook.refresh_from_db()
    assert (created.webhook.failures, created.webhook.failing_since) == (0, None)


def test_a_receiver_that_is_down_gets_every_event_once_it_is_back(intake: Intake) -> None:
    receiver = Receiver(port=free_port())
    created = add_webhook("crm", receiver.url, ["case_created", "field_changed"])
    cases = [file(intake, f"Question {n}") for n in range(3)]
    update_case(cases[0].pk, "ann", priority="urgent")
    for _ in range(3):
        send_all_due()
        retry_clock()
    # each round tries the oldest event and leaves the others for when it answers
    attempts = list(WebhookAttempt.objects.all())
    assert len(attempts) == 3 and all(a.status is None and a.error for a in attempts)
    assert WebhookCall.objects.filter(state="pending").count() == 4
    with receiving(receiver):
        retry_clock()
        send_all_due()
    payloads = [r.payload for r in receiver.received]
    assert sorted((p["event"], p["case"]["id"]) for p in payloads) == sorted(
        [("case_created", c.pk) for c in cases] + [("field_changed", cases[0].pk)])
    assert all(r.signed_with(created.secret) for r in receiver.received)
    assert set(WebhookCall.objects.values_list("state", flat=True)) == {"delivered"}


def test_an_event_written_while_an_older_one_waits_for_its_retry_waits_behind_it(
        intake: Intake) -> None:
    with receiving(Receiver(answers=[500])) as receiver:
        add_webhook("crm", receiver.url, ["case_created"])
        first = file(intake, "First")
        send_all_due()  # refused once: retried in 30 s
        second = file(intake, "Second")  # due now
        assert not _anything_due()  # the clock's next look starts no round for it
        send_all_due()
        assert [r.payload["case"]["id"] for r in receiver.received] == [first.pk]
        retry_clock()
        send_all_due()
    assert [r.payload["case"]["id"] for r in receiver.received] == [first.pk, first.pk,
                                                                    second.pk]


def test_a_receiver_that_keeps_failing_is_paused_with_the_reason_and_gets_its_events_after_it_resumes(  # noqa: E501
        intake: Intake) -> None:
    with receiving(Receiver(then=503)) as receiver:
        created = add_webhook("crm", receiver.url, ["case_created"])
        webhook = created.webhook
        file(intake, "First")
        send_all_due()
        Webhook.objects.filter(pk=webhook.pk).update(
            failing_since=timezone.now() - PAUSE_AFTER - timedelta(minutes=1))
        for _ in range(PAUSE_AFTER_FAILURES - 1):
            retry_clock()
            send_all_due()
        webhook.refresh_from_db()
        assert webhook.paused_at is not None
        assert webhook.paused_reason.startswith(f"{PAUSE_AFTER_FAILURES} failed attempts in a "
                                                "row since ")
        assert webhook.paused_reason.endswith("last: HTTP 503 Service Unavailable")
        tried = len(receiver.received)
        assert tried == PAUSE_AFTER_FAILURES < GIVE_UP_AFTER
        file(intake, "Second")  # an event while paused waits too
        retry_clock()
        send_all_due()
        assert len(receiver.received) == tried
        assert WebhookCall.objects.filter(state="pending").count() == 2
        receiver.then = 200
        resume_webhook("crm")
        send_all_due()
    subjects = [r.payload["case"]["subject"] for r in receiver.received[tried:]]
    assert subjects == ["First", "Second"]
    webhook.refresh_from_db()
    assert (webhook.paused_at, webhook.paused_reason, webhook.failures) == (None, "", 0)


def test_an_event_is_given_up_after_the_last_retry(intake: Intake) -> None:
    with receiving(Receiver(then=400)) as receiver:
        created = add_webhook("crm", receiver.url, ["case_created"])
        file(intake, "Malformed")
        for _ in range(GIVE_UP_AFTER):
            Webhook.objects.update(failures=0, failing_since=None)  # others succeed
            send_all_due()
            retry_clock()
    assert len(receiver.received) == GIVE_UP_AFTER
    [call] = WebhookCall.objects.all()
    assert (call.state, call.attempts) == ("gave_up", GIVE_UP_AFTER)
    assert outcomes(created.webhook)[-1] == (400, "gave_up")


def test_a_triggers_webhook_action_calls_the_webhook_with_its_event(intake: Intake) -> None:
    with receiving(Receiver()) as receiver:
        created = add_webhook("crm", receiver.url, [])
        add_trigger({"name": "Refunds to the CRM", "events": ["case_created"],
                     "conditions": {"all": [{"field": "subject", "contains": "refund"}]},
                     "actions": [{"webhook": "crm"}]})
        file(intake, "No refund here?")
        file(intake, "Hello")
        send_all_due()
    [received] = receiver.received
    assert received.signed_with(created.secret)
    assert received.payload["event"] == "case_created"
    assert received.payload["by"] == "trigger:Refunds to the CRM"
    assert received.payload["case"]["subject"] == "No refund here?"
    assert CaseEvent.objects.filter(field="webhook", after="crm called").count() == 1


def test_a_target_inside_is_refused_before_connecting_unless_allowed(
        intake: Intake, setting: Callable[..., None]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as inside:
        add_webhook("crm", f"http://localhost:{inside.getsockname()[1]}/", ["case_created"])
        setting("CASEGATE_WEBHOOK_PRIVATE_TARGETS", "0")
        file(intake, "Hello")
        send_all_due()
        inside.settimeout(0.3)
        with pytest.raises(TimeoutError):  # not even a handshake: no port's state is told
            inside.accept()
    [attempt] = WebhookAttempt.objects.all()
    assert attempt.error == ("localhost resolves to an address inside;"
                             " CASEGATE_WEBHOOK_PRIVATE_TARGETS is off")
    assert attempt.status is None


def test_an_allowed_name_is_tried_at_each_of_its_addresses(
        intake: Intake, setting: Callable[..., None]) -> None:
    setting("CASEGATE_WEBHOOK_PRIVATE_TARGETS", "1")
    with receiving(Receiver()) as receiver:  # on 127.0.0.1; localhost may say ::1 first
        add_webhook("crm", receiver.url.replace("127.0.0.1", "localhost"), ["case_created"])
        file(intake, "Hello")
        send_all_due()
    assert len(receiver.received) == 1


def _delivered() -> bool:
    """Whether a call was delivered; the tests' in-memory SQLite shares one cache between
    threads, where a table the sending thread writes is locked to others (no waiting, as
    the file database of a real desk does): a look then is a no."""
    try:
        return WebhookCall.objects.filter(state="delivered").exists()
    except OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False


@pytest.mark.django_db(transaction=True)
def test_the_workers_job_returns_at_once_and_sends_in_the_background(
        intake: Intake) -> None:
    [job] = [job for job in JOBS if job.name == "webhooks"]
    assert job.every <= 1.0
    with receiving(Receiver(delay=1.0)) as receiver:
        add_webhook("crm", receiver.url, ["case_created"])
        file(intake, "Hello")
        started = time.monotonic()
        job.run()
        assert time.monotonic() - started < 0.5  # the receiver takes a second
        deadline = time.monotonic() + 10
        while not _delivered():
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert len(receiver.received) == 1
    assert send_webhooks is job.run


def test_a_port_nobody_listens_on_is_an_error_not_an_exception() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from casegate.desk.webhooks.sending import post

    answer = post(f"http://127.0.0.1:{port}/", "secret", "{}", "ping", "d")
    assert answer.status is None and not answer.ok and answer.error


@pytest.mark.parametrize("url", [
    "https://[2001:db8::200e]/hook",  # no port: http.client took "200e" for one
    "http://[2001:db8::2000]/hook",
    "http://hooks.example:99999/",
])
def test_a_url_the_connection_cannot_take_is_an_error_not_an_exception(
        url: str, setting: Callable[..., None]) -> None:
    from casegate.desk.webhooks.sending import post

    setting("CASEGATE_WEBHOOK_PRIVATE_TARGETS", "0")  # 2001:db8:: is refused, not tried

    answer = post(url, "secret", "{}", "ping", "d")
    assert answer.status is None and answer.error


def test_the_readmes_verification_snippet_accepts_a_real_request_and_refuses_a_forged_one(
        intake: Intake) -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    snippet = readme.split("```python\nimport hashlib, hmac, time\n", 1)[1].split("```")[0]
    namespace: dict[str, Any] = {}
    exec("import hashlib, hmac, time\n" + snippet, namespace)
    with receiving(Receiver()) as receiver:
        created = add_webhook("crm", receiver.url, ["case_created"])
        file(intake, "Hello")
        send_all_due()
    [received] = receiver.received
    verify = namespace["from_casegate"]
    assert verify(created.secret, received.headers, received.body)
    assert not verify(created.secret, received.headers, received.body + b" ")
    assert not verify("whsec_other", received.headers, received.body)


def test_a_webhook_action_is_a_triggers_not_a_macros() -> None:
    with pytest.raises(TriggerError, match="a macro cannot call a webhook"):
        add_macro("To the CRM", [{"webhook": "crm"}])
    assert check_action({"webhook": " crm "}) == {"webhook": "crm"}
    with pytest.raises(TriggerError, match="webhook takes a text"):
        check_action({"webhook": ["crm"]})


def test_the_simulator_says_a_trigger_would_call_a_webhook_and_writes_nothing(
        intake: Intake) -> None:
    case = file(intake, "Refund")
    add_webhook("crm", "https://crm.example/hooks", [])
    add_trigger({"name": "To the CRM", "events": ["customer_replied"],
                 "actions": [{"webhook": "crm"}, {"webhook": "gone"}]})
    [fired] = simulate_case(case.pk, "customer_replied").fired
    assert fired.done == ("call webhook crm", "webhook: not called: there is no webhook gone")
    assert not WebhookCall.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_claims_made_at_once_share_the_due_events_out_without_overlap(intake: Intake) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("on SQLite one worker claims (casegate worker refuses a second)")
    for name in ("crm", "erp", "chat"):
        add_webhook(name, f"https://{name}.example/hooks", ["case_created"])
    for n in range(4):
        file(intake, f"Question {n}")
    claimed: list[list[tuple[int, int]]] = []

    def claim() -> None:
        try:
            claimed.append([(item.webhook_id, item.id) for item in claim_due(limit=6)])
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [pk for taken in claimed for _, pk in taken]
    assert ids and len(ids) == len(set(ids))  # nothing claimed twice
    # A receiver's events are never shared out: they go in order, from one claim.
    receivers = [{webhook for webhook, _ in taken} for taken in claimed]
    assert all(not (a & b) for i, a in enumerate(receivers) for b in receivers[i + 1:])
    assert claim_due() == []  # what is left waits behind events held by their leases
