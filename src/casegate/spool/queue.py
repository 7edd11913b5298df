"""The delivery queue in the database: claiming work with a lease, and recording outcomes.

A claim moves rows to ``inflight`` with a lease and bumps ``attempts``; the outcome is
written only if the row is still held by that claim (same ``attempts``), so a worker whose
lease ran out cannot overwrite the work of the one that took over. On PostgreSQL the
claim uses ``FOR UPDATE SKIP LOCKED`` so several workers share the queue.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from casegate.maillog import log_fields
from casegate.spool.copy_edits import NO_COPY_EDITS, CopyEdits
from casegate.spool.models import Delivery, Message
from casegate.spool.vocabulary import ENVELOPE_SOURCES, FINAL_FAILURES, DeliveryState, DsnState

# Named as the worker that writes the outcomes: its lines read casegate.delivery[PID].
log = logging.getLogger("casegate.delivery")

# Set when a final failure is committed: the worker's reports thread composes its delivery
# status notification at once rather than at its next look.
final_failure_recorded = threading.Event()


@dataclass(frozen=True)
class Claimed:
    id: int
    queue_id: str
    original_recipient: str
    recipient: str
    kind: str
    intake_id: int | None
    junk: bool
    relay: str
    attempts: int
    mail_from: str
    received_at: datetime
    edits: CopyEdits = NO_COPY_EDITS
    peer: str = ""
    spam: bool = False  # the gateway's verdict on the message
    quiet: bool = False  # filed without acknowledgement or notification
    null_sender: bool = False  # MAIL FROM:<> (see ENVELOPE_SOURCES)
    # What the sender asked of delivery status notifications (RFC 3461), passed on to a
    # next hop that offers DSN: NOTIFY and ORCPT of the recipient, RET and ENVID.
    notify: str = ""
    orcpt: str = ""
    dsn_ret: str = ""
    dsn_envid: str = ""
    # When the delivery was made: its message's arrival, or later for mail a person let
    # through from the quarantine; the message's lifetime runs from the later of the two.
    created_at: datetime | None = None

    @property
    def queued_since(self) -> datetime:
        return max(self.received_at, self.created_at or self.received_at)


# The shortest sleep between two looks at the queue: a delivery due "now" that a claim
# did not find is taken on the next look, without spinning.
MIN_SLEEP = 0.005


def _json(value: Any) -> dict[str, Any]:
    """A JSON column as returned by RETURNING: text on SQLite, decoded on PostgreSQL."""
    if isinstance(value, str):
        return json.loads(value) if value not in ("", "{}") else {}
    return value or {}


def _dt(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _moment(value: Any) -> datetime:
    """A timestamp as returned by RETURNING: naive (or text) in UTC on SQLite, aware on
    PostgreSQL."""
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    assert moment is not None, value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _claimed(row: tuple[Any, ...], envelope: Mapping[str, Any]) -> Claimed:
    """A claimed delivery: its row as the claim returned it, and its message's envelope."""
    mail_from = envelope["mail_from"]
    return Claimed(
        row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8],
        mail_from, envelope["received_at"], CopyEdits.from_json(_json(row[9])),
        envelope["peer"], envelope["spam"], envelope["quiet"],
        null_sender=not mail_from and envelope["source"] in ENVELOPE_SOURCES,
        notify=row[10], orcpt=row[11], dsn_ret=envelope["dsn_ret"],
        dsn_envid=envelope["dsn_envid"], created_at=_moment(row[12]))


def claim(kinds: Iterable[str], limit: int, lease_seconds: float) -> list[Claimed]:
    """Take up to ``limit`` due deliveries of these kinds, oldest first."""
    kinds = list(kinds)
    now = timezone.now()
    marks = ", ".join(["%s"] * len(kinds))
    if connection.vendor == "postgresql":
        # Leases run on the database's clock: a worker whose host runs ahead must not take
        # over a claim that another host is still sending.
        lock, lease, expired = " FOR UPDATE SKIP LOCKED", "now() + make_interval(secs => %s)", \
            "now()"
        lease_param: Any = lease_seconds
        expired_params: list[Any] = []
    else:
        lock, lease, expired = "", "%s", "%s"
        lease_param, expired_params = _dt(now + timedelta(seconds=lease_seconds)), [_dt(now)]
    sql = (
        f"UPDATE delivery_delivery SET state = 'inflight', lease_until = {lease},"
        " attempts = attempts + 1, updated_at = %s"
        " WHERE id IN (SELECT id FROM delivery_delivery"
        f" WHERE kind IN ({marks}) AND ("
        " (state IN ('pending', 'deferred') AND next_attempt_at <= %s)"
        f" OR (state = 'inflight' AND lease_until < {expired}))"
        f" ORDER BY next_attempt_at, id LIMIT %s{lock})"
        " RETURNING id, message_id, original_recipient, recipient, kind, intake_id, junk, relay,"
        " attempts, edits, notify, orcpt, created_at"
    )
    params: list[Any] = [lease_param, _dt(now), *kinds, _dt(now), *expired_params, limit]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return []
    envelopes = {
        m["queue_id"]: m
        for m in Message.objects.filter(queue_id__in={r[1] for r in rows}).values(
            "queue_id", "mail_from", "received_at", "peer", "spam", "quiet", "source",
            "dsn_ret", "dsn_envid"
        )
    }
    claimed = [_claimed(row, envelopes[row[1]]) for row in rows]
    claimed.sort(key=lambda c: c.id)
    return claimed


def raw_messages(queue_ids: Iterable[str]) -> dict[str, bytes]:
    return {
        qid: bytes(raw)
        for qid, raw in Message.objects.filter(queue_id__in=set(queue_ids)).values_list(
            "queue_id", "raw"
        )
    }


def results_on_arrival(queue_ids: Iterable[str]) -> dict[str, str]:
    """The Authentication-Results value the gateway gave each message it checked."""
    return dict(Message.objects.filter(queue_id__in=set(queue_ids)).exclude(auth_results="")
                .values_list("queue_id", "auth_results"))


def still_held(items: list[Claimed]) -> set[int]:
    """The ids of ``items`` whose claim is still this worker's (locks them on PostgreSQL)."""
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
    marks = ", ".join(["%s"] * len(items))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, attempts FROM delivery_delivery WHERE id IN ({marks})"
            f" AND state = 'inflight'{lock}",
            [item.id for item in items],
        )
        current = dict(cursor.fetchall())
    return {item.id for item in items if current.get(item.id) == item.attempts}


@dataclass(frozen=True)
class Outcome:
    """The result of one attempt at a claimed delivery."""

    item: Claimed
    state: str
    reply: str
    next_attempt_at: datetime | None = None
    host: str = ""
    started_at: datetime | None = None
    duration: float = 0.0


def finish(outcomes: list[Outcome], held: set[int] | None = None) -> list[int]:
    """Record outcomes (and the attempts behind them) for the claims still held.

    Returns the ids written. Call inside a transaction when other writes must commit
    together with the outcome (the desk opens its cases in the same transaction); pass
    ``held`` when that transaction has checked the claims already.
    A final failure (bounced, expired) marks the delivery for a delivery status notification.
    """
    if not outcomes:
        return []
    now = timezone.now()
    with transaction.atomic():
        if held is None:
            held = still_held([o.item for o in outcomes])
        written = [o for o in outcomes if o.item.id in held]
        rows = [
            (o.state, o.reply[:2000], _dt(now), _dt(o.next_attempt_at) if o.next_attempt_at
             else None, DsnState.PENDING if o.state in FINAL_FAILURES else None,
             o.item.id)
            for o in written
        ]
        if any(o.state in FINAL_FAILURES for o in written):
            transaction.on_commit(final_failure_recorded.set)
        attempts = [
            (o.item.id, _dt(o.started_at or now), o.duration, o.host[:300], o.state, o.reply)
            for o in written
        ]
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE delivery_delivery SET state = %s, last_reply = %s, updated_at = %s,"
                " lease_until = NULL, next_attempt_at = COALESCE(%s, next_attempt_at),"
                " dsn_state = COALESCE(%s, dsn_state) WHERE id = %s",
                rows,
            )
            cursor.executemany(
                "INSERT INTO delivery_deliveryattempt (delivery_id, started_at, duration, host,"
                " outcome, reply) VALUES (%s, %s, %s, %s, %s, %s)",
                attempts,
            )
        transaction.on_commit(lambda: log_attempts(written, now), robust=True)
    return [o.item.id for o in written]


def log_attempts(outcomes: list[Outcome], now: datetime) -> None:
    """One line for each delivery attempt, as Postfix logs one for each recipient tried:
    ``delay`` is the seconds since the message arrived, ``attempt`` this try's."""
    for o in outcomes:
        log_fields(log, {
            "queue": o.item.queue_id, "delivery": o.item.id, "to": f"<{o.item.recipient}>",
            "orig_to": f"<{o.item.original_recipient}>",
            "relay": o.host or o.item.relay or o.item.kind,
            "delay": round((now - o.item.received_at).total_seconds(), 2),
            "attempt": round(o.duration, 2), "status": o.state, "reply": o.reply,
        })


def retry_at(item: Claimed, retry_min: float, retry_max: float) -> datetime:
    """Exponential backoff: retry_min, twice that, … up to retry_max."""
    delay = min(retry_max, retry_min * (2 ** max(0, item.attempts - 1)))
    return timezone.now() + timedelta(seconds=delay)


def release_all_leases() -> int:
    """Return every in-flight delivery to the queue (one worker on SQLite, at its start)."""
    return Delivery.objects.filter(state=DeliveryState.INFLIGHT).update(
        state=DeliveryState.PENDING, lease_until=None
    )


def seconds_until_due(kinds: Iterable[str], longest: float) -> float:
    """How long a worker with nothing to do may sleep: until the earliest of these kinds'
    deliveries is due (a retry's time, or a lease that runs out), at most ``longest``.

    Mail queued meanwhile rings the worker awake (:mod:`casegate.spool.doorbell`).
    """
    kinds = list(kinds)
    # One minimum for each state and kind, read from the end of the index on (state, kind,
    # next_attempt_at): over a list of them, PostgreSQL reads every waiting delivery.
    earliest = [Delivery.objects.filter(state=state, kind=kind).aggregate(
        at=Min("next_attempt_at"))["at"]
        for state in (DeliveryState.PENDING, DeliveryState.DEFERRED) for kind in kinds]
    earliest.append(Delivery.objects.filter(
        kind__in=kinds, state=DeliveryState.INFLIGHT
    ).aggregate(at=Min("lease_until"))["at"])
    soonest = min((at for at in earliest if at is not None), default=None)
    if soonest is None:
        return longest
    return min(longest, max((soonest - timezone.now()).total_seconds(), MIN_SLEEP))
