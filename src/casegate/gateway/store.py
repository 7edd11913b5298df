"""Durable storage of accepted mail with group commit.

SMTP sessions hand their finished message to one writer thread and wait. The writer
takes every message that is waiting, writes them all in one transaction (one fsync),
and only then lets each session answer 250. A crash before the commit loses nothing
that was acknowledged; a crash after it loses nothing at all.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import close_old_connections, connection, transaction

from casegate.delivery.doorbell import CHANNEL as QUEUE_CHANNEL
from casegate.routing.copy_edits import NO_COPY_EDITS, CopyEdits
from casegate.routing.engine import Target

log = logging.getLogger("casegate.gateway")

MAX_BATCH = 256


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
    deliveries: list[DeliveryRow] = field(default_factory=list)
    quarantine: list[QuarantineRow] = field(default_factory=list)


def generated_message(targets: Mapping[str, Iterable[Target]], raw: bytes, hostname: str,
                      message_id: str = "", mail_from: str = "") -> AcceptedMessage:
    """Mail casegate writes itself (reports, acknowledgements, agents' replies).

    ``targets``: where each recipient's copy goes. From the null sender unless ``mail_from``
    names where bounces should come back to.
    """
    return AcceptedMessage(
        queue_id=new_queue_id(), mail_from=mail_from, rcpt_tos=list(targets),
        received_at=datetime.now(UTC), peer="", helo=hostname, message_id=message_id,
        spam=False, spam_reason="", raw=raw,
        deliveries=[DeliveryRow(recipient, t.address, t.kind.value, t.intake_id, False, [],
                                t.relay) for recipient, ts in targets.items() for t in ts],
    )


class StoreClosed(Exception):
    """The store is shutting down and takes no more messages."""


def write_messages(batch: list[AcceptedMessage]) -> None:
    """Insert messages, their deliveries and quarantine entries in the current transaction."""
    ops = connection.ops
    now = ops.adapt_datetimefield_value(max(m.received_at for m in batch))
    message_rows = []
    delivery_rows = []
    quarantine_rows = []
    for m in batch:
        received = ops.adapt_datetimefield_value(m.received_at)
        message_rows.append(
            (m.queue_id, m.mail_from, ops.adapt_json_value(m.rcpt_tos, None), received, m.peer,
             m.helo, len(m.raw), m.message_id, m.spam, m.spam_reason, m.dsn_ret, m.dsn_envid,
             m.raw)
        )
        for d in m.deliveries:
            delivery_rows.append(
                (m.queue_id, d.original_recipient, d.recipient, d.kind, d.intake_id, d.junk,
                 d.relay, ops.adapt_json_value(d.rules, None),
                 ops.adapt_json_value(d.edits.to_json(), None),
                 "pending", 0, received, "", d.notify, d.orcpt, "", now, now)
            )
        for q in m.quarantine:
            quarantine_rows.append((m.queue_id, q.recipient, q.reason[:500], q.notify, q.orcpt,
                                    "held", received))
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO gateway_message (queue_id, mail_from, rcpt_tos, received_at, peer, helo,"
            " size, message_id, spam, spam_reason, dsn_ret, dsn_envid, raw) VALUES"
            " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
        if delivery_rows and connection.vendor == "postgresql":
            cursor.execute(f"NOTIFY {QUEUE_CHANNEL}")  # sent to the workers at commit


_Item = tuple[AcceptedMessage, asyncio.Future[None], asyncio.AbstractEventLoop]


class DurableStore:
    """The group-commit writer: ``await store.save(message)`` returns once it is durable."""

    def __init__(self, on_commit: Callable[[], None] | None = None) -> None:
        self._on_commit = on_commit  # told after each commit (the worker's doorbell)
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="casegate-store", daemon=True)
        self._closed = False
        self.batches = 0
        self.messages = 0

    def start(self) -> None:
        self._thread.start()

    async def save(self, message: AcceptedMessage) -> None:
        if self._closed:
            raise StoreClosed("the gateway is shutting down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((message, future, loop))
        await future

    def close(self) -> None:
        """Write what is queued, then stop the writer thread."""
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch: list[_Item] = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)
        close_old_connections()
        connection.close()

    def _commit(self, batch: list[_Item]) -> None:
        error: BaseException | None = None
        try:
            with transaction.atomic():
                write_messages([m for m, _, _ in batch])
            self.batches += 1
            self.messages += len(batch)
            if self._on_commit is not None:
                self._on_commit()
        except BaseException as exc:  # reported to the waiting session as a 451
            connection.close()
            if len(batch) > 1:  # one bad message must not cost the others their turn
                for item in batch:
                    self._commit([item])
                return
            log.exception("queue=%s storing the message failed", batch[0][0].queue_id)
            error = exc
        for _, future, loop in batch:
            loop.call_soon_threadsafe(_settle, future, error)


def _settle(future: asyncio.Future[Any], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
