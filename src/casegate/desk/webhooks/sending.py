"""Sending the webhooks' outbox: the delivery worker's clock claims the due rows, posts
each body signed, and records every attempt.

Signing: ``X-Casegate-Timestamp`` is the Unix time of the attempt and
``X-Casegate-Signature`` is ``sha256=`` and the hex HMAC-SHA256, keyed with the webhook's
secret, of the timestamp, a dot and the body's bytes; a receiver computes the same and
refuses old timestamps, so a body seen once cannot be replayed later.

An answer 2xx means the receiver has the event. Any other answer, or none (refused,
timed out, a TLS failure), is retried after 30 s, then 1, 2, 4 … minutes, at most an hour
apart; after :data:`GIVE_UP_AFTER` attempts (about eight hours) the event is given up. A
webhook whose last :data:`PAUSE_AFTER_FAILURES` attempts failed over at least
:data:`PAUSE_AFTER` is paused with the reason; its events wait, and are due at once when
it is resumed.

Each name is resolved at each attempt and checked before any connection: unless
``CASEGATE_WEBHOOK_PRIVATE_TARGETS`` allows it, a name with an address inside (loopback,
private, link-local…) is refused without connecting, and the connection goes to the address
checked. Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import socket
import ssl
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from casegate.config import get_config
from casegate.desk.models import Webhook, WebhookAttempt, WebhookCall
from casegate.desk.vocabulary import WebhookAttemptOutcome, WebhookCallState
from casegate.desk.webhooks.hooks import is_private_address, pause
from casegate.desk.webhooks.outbox import webhook_call
from casegate.maillog import log_fields

log = logging.getLogger("casegate.webhooks")

SIGNATURE_HEADER = "X-Casegate-Signature"
TIMESTAMP_HEADER = "X-Casegate-Timestamp"
RETRY_FIRST = 30.0  # seconds after the first failure; doubled after each one
RETRY_MAX = 3600.0
GIVE_UP_AFTER = 15  # attempts
PAUSE_AFTER_FAILURES = 8  # failed attempts in a row ...
PAUSE_AFTER = timedelta(hours=1)  # ... since at least this long
BATCH = 20  # rows claimed at once
PARALLEL = 4  # webhooks posted to at the same time
ROUND_SECONDS = 5.0  # a round claims no more after this; the clock starts the next
_ANSWER_READ = 65536  # bytes of an answer read; the rest is not wanted


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


@dataclass(frozen=True)
class Answer:
    """A receiver's answer to one POST (``status`` None: none came, ``error`` says why)."""

    status: int | None
    error: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class RefusedTarget(Exception):
    """The name resolves to an address inside, which the settings do not allow."""


def _checked_addresses(host: str, port: int) -> list[str]:
    """The addresses to connect to for ``host``, in the resolver's order: refused before
    any connection when one is inside (so that no inside port is ever touched, nor its state
    told by the error), unless the settings allow such targets."""
    addresses = [str(info[4][0]) for info in socket.getaddrinfo(host, port,
                                                               type=socket.SOCK_STREAM)]
    if not get_config().webhook_private_targets and any(map(is_private_address, addresses)):
        raise RefusedTarget(f"{host} resolves to an address inside;"
                            " CASEGATE_WEBHOOK_PRIVATE_TARGETS is off")
    return addresses


def _connect_to(addresses: list[str], port: int, timeout: float | None,
                source: tuple[str, int] | None = None) -> socket.socket:
    """A connection to the first of ``addresses`` that answers, as
    ``socket.create_connection`` tries a name's addresses."""
    error: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout, source)
        except OSError as exc:
            error = exc
    raise error


def post(url: str, secret: str, body: str, event: str, delivery: str) -> Answer:
    """POST ``body`` to ``url``, signed; never raises."""
    config = get_config()
    data = body.encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "casegate-webhooks",
               "X-Casegate-Event": event, "X-Casegate-Delivery": delivery,
               TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, data)}
    started = time.monotonic()
    conn: http.client.HTTPConnection | None = None
    try:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # Always named: without one, http.client takes an IPv6 address's last group
        # (https://[2001:db8::200e]/) for the port.
        port = parts.port or (443 if parts.scheme == "https" else 80)
        conn = (
            http.client.HTTPSConnection(parts.hostname or "", port,
                                        timeout=config.webhook_timeout,
                                        context=ssl.create_default_context())
            if parts.scheme == "https" else
            http.client.HTTPConnection(parts.hostname or "", port,
                                       timeout=config.webhook_timeout))
        # The address checked is the one connected to (a name resolved twice could answer
        # otherwise the second time); TLS still names and verifies the host.
        addresses = _checked_addresses(parts.hostname or "", port)
        conn._create_connection = (  # type: ignore[attr-defined]
            lambda _where, timeout, source: _connect_to(addresses, port, timeout, source))
        conn.request("POST", path, data, headers)
        response = conn.getresponse()
        response.read(_ANSWER_READ)
        error = "" if 200 <= response.status < 300 else \
            f"HTTP {response.status} {response.reason}"[:500]
        return Answer(response.status, error, time.monotonic() - started)
    except (OSError, ValueError, http.client.HTTPException, RefusedTarget) as exc:
        reason = str(exc) or type(exc).__name__
        return Answer(None, reason[:500], time.monotonic() - started)
    finally:
        if conn is not None:
            conn.close()


@dataclass(frozen=True)
class Claimed:
    id: int
    claim: str
    webhook_id: int
    webhook: str
    url: str
    secret: str
    delivery_id: str
    event: str
    body: str
    attempts: int


def claim_due(limit: int = BATCH) -> list[Claimed]:
    """Take up to ``limit`` due events of webhooks that are not paused, oldest first, with
    a lease long enough to post them all (another worker takes them after it ran out).

    Each receiver's events go in the order they were written: an event waits while an
    older one of its webhook waits for its retry or is claimed by another worker, and a
    claim locks the webhooks it takes events of, so two claims made at once never share a
    receiver's events out."""
    now = timezone.now()
    token = uuid.uuid4().hex
    lease = now + timedelta(seconds=get_config().webhook_timeout * 2 * limit + 30)
    free = (Q(lease_until__isnull=True) | Q(lease_until__lt=now)) & Q(
        state=WebhookCallState.PENDING, due_at__lte=now)
    with transaction.atomic():
        receivers = {webhook_id for _, webhook_id in _claimable(now, limit)}
        # no_key: a transaction writing an event of a webhook (a key share lock on it) does
        # not hold its deliveries back.
        ours = set(Webhook.objects.select_for_update(skip_locked=True, no_key=True)
                   .filter(pk__in=receivers).values_list("pk", flat=True))
        # Read again once the webhooks are locked: a claim that ended meanwhile holds events
        # the first look did not see held. Only the locked webhooks' events are taken (one
        # resumed or written since the first look is another claim's to lock).
        due = WebhookCall.objects.filter(
            free, pk__in=[pk for pk, webhook_id in _claimable(now, limit) if webhook_id in ours])
        ids = list(due.select_for_update(skip_locked=True, of=("self",)).order_by("id")
                   .values_list("pk", flat=True))
        if not ids:
            return []
        # still free: what another claim took meanwhile is not taken again
        WebhookCall.objects.filter(free, pk__in=ids).update(claim=token, lease_until=lease)
    rows = (WebhookCall.objects.filter(pk__in=ids, claim=token).select_related("webhook")
            .order_by("id"))
    return [Claimed(r.pk, token, r.webhook_id, r.webhook.name, r.webhook.url,
                    r.webhook.secret, r.delivery_id, r.event, r.body, r.attempts)
            for r in rows]


# SQLite takes at most 500 selects in one UNION.
_RECEIVERS_A_STATEMENT = 100


def _claimable(now: datetime, limit: int) -> list[tuple[int, int]]:
    """The oldest ``limit`` events due at ``now`` (id, webhook id) of webhooks not paused,
    free of any lease, and with no older event of their webhook waiting for its retry or
    held by a lease. Each webhook's first ``limit`` pending events are read from the index
    of pending events and no more: a long history of sent events, the backlog of a paused
    receiver or of one whose oldest event waits for its retry, is never read."""
    receivers = list(Webhook.objects.filter(paused_at__isnull=True).values_list("pk", flat=True))
    if not receivers:
        return []
    moment = connection.ops.adapt_datetimefield_value(now)
    each = (f"SELECT * FROM (SELECT id, webhook_id, due_at > %s OR lease_until >= %s"
            f" FROM {WebhookCall._meta.db_table} WHERE webhook_id = %s AND state = %s"
            " ORDER BY id LIMIT %s) AS head")
    rows = []
    with connection.cursor() as cursor:
        for at in range(0, len(receivers), _RECEIVERS_A_STATEMENT):
            some = receivers[at:at + _RECEIVERS_A_STATEMENT]
            cursor.execute(" UNION ALL ".join([each] * len(some)), [
                value for webhook_id in some
                for value in (moment, moment, webhook_id, WebhookCallState.PENDING, limit)])
            rows += cursor.fetchall()
    rows.sort(key=lambda row: (row[1], row[0]))
    due: list[tuple[int, int]] = []
    blocked: set[int] = set()
    for pk, webhook_id, waits in rows:
        if waits:
            blocked.add(webhook_id)
        elif webhook_id not in blocked:
            due.append((pk, webhook_id))
    return sorted(due)[:limit]


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones."""
    return min(RETRY_MAX, RETRY_FIRST * 2 ** max(0, attempts - 1))


def record(item: Claimed, answer: Answer) -> str:
    """Write an attempt's outcome, if the claim still holds the event ('' if not); its log
    line follows the commit."""
    now = timezone.now()
    attempts = item.attempts + 1
    if answer.ok:
        outcome, state, due = WebhookAttemptOutcome.DELIVERED, WebhookCallState.DELIVERED, now
    elif attempts >= GIVE_UP_AFTER:
        outcome, state, due = WebhookAttemptOutcome.GAVE_UP, WebhookCallState.GAVE_UP, now
    else:
        outcome, state = WebhookAttemptOutcome.RETRY, WebhookCallState.PENDING
        due = now + timedelta(seconds=retry_delay(attempts))
    paused = ""
    with transaction.atomic():
        if not WebhookCall.objects.filter(pk=item.id, claim=item.claim).update(
                state=state, attempts=attempts, due_at=due, claim="", lease_until=None,
                finished_at=None if state == WebhookCallState.PENDING else now):
            return ""
        WebhookAttempt.objects.create(
            webhook_id=item.webhook_id, call_id=item.id, delivery_id=item.delivery_id,
            event=item.event, at=now, status=answer.status, error=answer.error,
            seconds=answer.seconds, outcome=outcome)
        hook = Webhook.objects.filter(pk=item.webhook_id)
        if answer.ok:
            hook.update(failures=0, failing_since=None)
        else:
            hook.update(failures=F("failures") + 1, failing_since=Coalesce("failing_since",
                                                                           now))
            paused = _pause_if_failing(item.webhook_id, answer, now)
    fields: dict[str, object] = {
        "webhook": item.webhook, "delivery": item.delivery_id, "event": item.event,
        "attempt": attempts, "status": answer.status or "-", "seconds": round(answer.seconds, 3),
        "outcome": outcome}
    if answer.error:
        fields["error"] = answer.error
    if outcome == WebhookAttemptOutcome.RETRY:
        fields["next"] = due.isoformat(timespec="seconds")
    transaction.on_commit(lambda: _log_attempt(fields, answer.ok, item.webhook, paused))
    return outcome


def _log_attempt(fields: dict[str, object], ok: bool, webhook: str, paused: str) -> None:
    log_fields(log, fields, logging.INFO if ok else logging.WARNING)
    if paused:
        log_fields(log, {"webhook": webhook, "paused": paused}, logging.WARNING)


def _pause_if_failing(webhook_id: int, answer: Answer, now: datetime) -> str:
    failing = Webhook.objects.filter(pk=webhook_id, paused_at__isnull=True,
                                     failures__gte=PAUSE_AFTER_FAILURES,
                                     failing_since__lte=now - PAUSE_AFTER).first()
    if failing is None or failing.failing_since is None:
        return ""
    reason = (f"{failing.failures} failed attempts in a row since "
              f"{failing.failing_since.isoformat(timespec='seconds')}; last: {answer.error}")
    pause(webhook_id, reason)
    return reason


def _post_in_turn(items: list[Claimed]) -> list[tuple[Claimed, Answer]]:
    """Post one webhook's events in order, stopping at the first that fails: the others
    wait for the receiver's next turn instead of adding failures."""
    answers = []
    for item in items:
        answer = post(item.url, item.secret, item.body, item.event, item.delivery_id)
        answers.append((item, answer))
        if not answer.ok:
            break
    return answers


_posting = ThreadPoolExecutor(PARALLEL, thread_name_prefix="webhook-post")


def send_due(limit: int = BATCH) -> int:
    """Claim due events, post them (each webhook's in turn, webhooks side by side), and
    record the outcomes; the number of events claimed."""
    claimed = claim_due(limit)
    if not claimed:
        return 0
    by_webhook: dict[int, list[Claimed]] = {}
    for item in claimed:
        by_webhook.setdefault(item.webhook_id, []).append(item)
    posted = list(zip(by_webhook.values(), _posting.map(_post_in_turn, by_webhook.values()),
                      strict=True))
    with transaction.atomic():  # one commit for the batch's outcomes
        for group, answers in posted:
            for item, answer in answers:
                record(item, answer)
            last, answer = answers[-1]
            if not answer.ok:  # the rest wait until the failed one is tried again
                WebhookCall.objects.filter(pk__in=[i.id for i in group[len(answers):]],
                                           claim=last.claim).update(
                    claim="", lease_until=None,
                    due_at=timezone.now() + timedelta(seconds=retry_delay(last.attempts + 1)))
    return len(claimed)


def send_webhook_test(webhook: Webhook) -> WebhookAttempt:
    """Post a ``ping`` event to ``webhook`` now (paused or not), and record the attempt."""
    now = timezone.now()
    call = webhook_call(webhook.pk, {"event": "ping", "timestamp": now.isoformat(),
                                     "case": None, "message": None, "changed": [],
                                     "by": None})
    answer = post(webhook.url, webhook.secret, call.body, call.event, call.delivery_id)
    log_fields(log, {"webhook": webhook.name, "delivery": call.delivery_id, "event": "ping",
                     "status": answer.status or "-", "seconds": round(answer.seconds, 3),
                     "outcome": WebhookAttemptOutcome.TEST, **(
                         {"error": answer.error} if answer.error else {})})
    return WebhookAttempt.objects.create(
        webhook=webhook, delivery_id=call.delivery_id, event="ping", at=now,
        status=answer.status, error=answer.error, seconds=answer.seconds,
        outcome=WebhookAttemptOutcome.TEST)


def _anything_due() -> bool:
    return bool(_claimable(timezone.now(), 1))


def _send_round() -> None:
    """Send what is due, for a few seconds at most: the worker stopping waits for no more
    than that (and one receiver's timeout)."""
    ends = time.monotonic() + ROUND_SECONDS
    try:
        while send_due() and time.monotonic() < ends:
            pass
    except Exception:
        log.exception("webhooks=failed retry=next-turn")
    finally:
        connection.close()


class Sender:
    """The clock's job: starts sending in a thread of its own and returns at once; while a
    round is still sending, the next turn leaves it be."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="webhooks")
        self._running: Future[None] | None = None

    def __call__(self) -> None:
        # Asked on the clock's own connection: a round opens one of its own, which cost
        # an idle worker most of what it spent, once a second.
        if (self._running is None or self._running.done()) and _anything_due():
            self._running = self._thread.submit(_send_round)


send_webhooks = Sender()

