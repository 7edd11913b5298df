"""Queueing mail: a message, one delivery per final recipient and its held copies, written
in the caller's transaction, and the delivery workers woken when it commits.

Every producer of mail goes through :func:`enqueue`: the gateway's group commit, the
desk's acknowledgements and replies, delivery status reports, the console's mail.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from django.db import connection, transaction

from casegate.mail.headers import HeaderFields, shown
from casegate.spool.copy_edits import NO_COPY_EDITS, CopyEdits
from casegate.spool.doorbell import CHANNEL as QUEUE_CHANNEL
from casegate.spool.doorbell import announced, ring_workers
from casegate.spool.models import Quarantine
from casegate.spool.vocabulary import DeliveryState, Lane, Source


def new_queue_id() -> str:
    """Time-ordered and unique across processes: milliseconds, then 40 random bits."""
    return f"{int(time.time() * 1000):011X}{secrets.token_hex(5).upper()}"


@dataclass
class DeliveryRow:
    original_recipient: str
    recipient: str
    kind: str
    intake_id: int | None
    junk: bool
    rules: list[int]
    relay: str = ""
    notify: str = ""
    orcpt: str = ""
    edits: CopyEdits = NO_COPY_EDITS


@dataclass
class QuarantineRow:
    recipient: str
    reason: str
    notify: str = ""
    orcpt: str = ""


@dataclass
class AcceptedMessage:
    queue_id: str
    mail_from: str
    rcpt_tos: list[str]
    received_at: datetime
    peer: str
    helo: str
    message_id: str
    spam: bool
    spam_reason: str
    raw: bytes
    dsn_ret: str = ""
    dsn_envid: str = ""
    auth_results: str = ""
    subject: str = ""
    from_header: str = ""
    spam_report: dict[str, object] = field(default_factory=dict)
    source: str = Source.SMTP
    origin: str = ""  # where a copy that can come again came from (see Message.origin)
    quiet: bool = False  # filed without acknowledgement or notification
    deliveries: list[DeliveryRow] = field(default_factory=list)
    quarantine: list[QuarantineRow] = field(default_factory=list)


class Destination(Protocol):
    """A final recipient and how it is reached (the routing engine's ``Target``)."""

    @property
    def address(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def intake_id(self) -> int | None: ...
    @property
    def relay(self) -> str: ...


def generated_message(targets: Mapping[str, Iterable[Destination]], raw: bytes, hostname: str,
                      message_id: str = "", mail_from: str = "") -> AcceptedMessage:
    """Mail casegate writes itself (reports, acknowledgements, agents' replies).

    ``targets``: where each recipient's copy goes. From the null sender unless ``mail_from``
    names where bounces should come back to.
    """
    headers = HeaderFields(raw)
    return AcceptedMessage(
        queue_id=new_queue_id(), mail_from=mail_from, rcpt_tos=list(targets),
        received_at=datetime.now(UTC), peer="", helo=hostname, message_id=message_id,
        spam=False, spam_reason="", raw=raw, subject=shown(headers, "Subject"),
        from_header=shown(headers, "From"),
        deliveries=[DeliveryRow(recipient, t.address, str(t.kind), t.intake_id, False, [],
                                t.relay) for recipient, ts in targets.items() for t in ts],
    )


def enqueue(batch: list[AcceptedMessage]) -> None:
    """Insert messages, their deliveries and quarantine entries in the current transaction;
    the workers are woken when it commits (at once outside a transaction)."""
    ops = connection.ops
    now = ops.adapt_datetimefield_value(max(m.received_at for m in batch))
    message_rows = []
    delivery_rows = []
    quarantine_rows = []
    for m in batch:
        received = ops.adapt_datetimefield_value(m.received_at)
        message_rows.append(
            (m.queue_id, m.mail_from, ops.adapt_json_value(m.rcpt_tos, None), received, m.peer,
             m.helo, len(m.raw), m.message_id, m.subject, m.from_header, m.spam, m.spam_reason,
             m.auth_results, ops.adapt_json_value(m.spam_report, None), m.dsn_ret, m.dsn_envid,
             str(m.source), m.origin, m.quiet, m.raw)
        )
        for d in m.deliveries:
            delivery_rows.append(
                (m.queue_id, d.original_recipient, d.recipient, d.kind, d.intake_id, d.junk,
                 d.relay, ops.adapt_json_value(d.rules, None),
                 ops.adapt_json_value(d.edits.to_json(), None),
                 DeliveryState.PENDING, 0, received, "", d.notify, d.orcpt, "", now, now)
            )
        for q in m.quarantine:
            quarantine_rows.append((m.queue_id, q.recipient, q.reason[:500], q.notify, q.orcpt,
                                    Quarantine.HELD, received))
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO gateway_message (queue_id, mail_from, rcpt_tos, received_at, peer, helo,"
            " size, message_id, subject, from_header, spam, spam_reason, auth_results,"
            " spam_report, dsn_ret, dsn_envid, source, origin, quiet, raw)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s)",
            message_rows,
        )
        if delivery_rows:
            cursor.executemany(
                "INSERT INTO delivery_delivery (message_id, original_recipient, recipient, kind,"
                " intake_id, junk, relay, rules, edits, state, attempts, next_attempt_at,"
                " last_reply, notify, orcpt, dsn_state, created_at, updated_at) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                delivery_rows,
            )
        if quarantine_rows:
            cursor.executemany(
                "INSERT INTO gateway_quarantine (message_id, recipient, reason, notify, orcpt,"
                " state, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                quarantine_rows,
            )
    if delivery_rows:
        wake_workers({row[3] for row in delivery_rows})  # the kinds


def wake_workers(kinds: Iterable[str]) -> None:
    """Wake the delivery workers' loops for deliveries of ``kinds`` when the current
    transaction commits (at once outside one): mail was queued, or made due again."""
    lanes = {Lane.of(kind) for kind in kinds}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # sent to the workers at commit
            cursor.execute(f"NOTIFY {QUEUE_CHANNEL}, '{announced(lanes)}'")
    else:
        # A bell that cannot ring (no file descriptor left) must not make a commit look failed.
        transaction.on_commit(lambda: ring_workers(lanes), robust=True)
