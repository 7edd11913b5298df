"""The delivery worker: drains pending deliveries to the desk, mailboxes and remote hosts.

Two loops run side by side so a slow remote host never delays cases: the local loop
(desk and Maildir) and the remote loop (SMTP/LMTP). Each claims a batch with a lease,
does the work outside any transaction, then records the outcome.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from casegate.config import Config
from casegate.delivery import maildir, remote
from casegate.delivery.models import Delivery, Transport
from casegate.delivery.queue import (
    Claimed,
    claim,
    finish,
    raw_messages,
    release_all_leases,
    retry_at,
)
from casegate.desk.models import Intake
from casegate.desk.parsing import parse_message
from casegate.desk.services import DeskArrival, open_conversations

log = logging.getLogger("casegate.delivery")

LOCAL_BATCH = 200
REMOTE_BATCH = 100


def _deferral(item: Claimed, reply: str, config: Config) -> tuple[Claimed, str, str, object]:
    age = (timezone.now() - item.received_at).total_seconds()
    if age > config.message_lifetime:
        return (item, Delivery.BOUNCED, f"5.4.7 delivery time expired; last error: {reply}", None)
    return (item, Delivery.DEFERRED, reply, retry_at(item, config.retry_min, config.retry_max))


def deliver_local(items: list[Claimed], config: Config) -> None:
    raws = raw_messages(i.queue_id for i in items)
    outcomes: list = []
    for item in (i for i in items if i.kind == "mailbox"):
        data = (f"Delivered-To: {item.recipient}\r\nX-Original-To: {item.original_recipient}\r\n"
                .encode() + raws[item.queue_id])
        try:
            path = maildir.deliver(maildir.mailbox_path(config.mailbox_root, item.recipient),
                                   f"{item.queue_id}.{item.id}", data, junk=item.junk)
            outcomes.append((item, Delivery.DELIVERED, f"stored in {path.parent.parent}", None))
        except OSError as exc:
            outcomes.append(_deferral(item, f"4.3.0 cannot write the mailbox: {exc}", config))
    finish(outcomes)

    desk_items = [i for i in items if i.kind == "desk"]
    if not desk_items:
        return
    kinds = dict(Intake.objects.filter(id__in={i.intake_id for i in desk_items})
                 .values_list("id", "kind"))
    parsed = {i.id: parse_message(raws[i.queue_id]) for i in desk_items if i.intake_id in kinds}
    with transaction.atomic():
        outcomes = [
            (i, Delivery.DELIVERED, "case desk", None) if i.id in parsed
            else (i, Delivery.BOUNCED, "5.1.1 the desk intake no longer exists", None)
            for i in desk_items
        ]
        written = set(finish(outcomes))
        open_conversations([
            DeskArrival(i.intake_id, kinds[i.intake_id], i.queue_id, i.original_recipient,
                        i.received_at, parsed[i.id])
            for i in desk_items if i.id in written and i.id in parsed
        ])


def deliver_remote(items: list[Claimed], config: Config, loop: asyncio.AbstractEventLoop) -> None:
    raws = raw_messages(i.queue_id for i in items)
    transports = {d: (h, p) for d, h, p in Transport.objects.values_list("domain", "host", "port")}
    results = loop.run_until_complete(remote.deliver(items, raws, transports))
    outcomes = []
    for result in results:
        if result.outcome is remote.Outcome.DELIVERED:
            outcomes.append((result.item, Delivery.DELIVERED, result.reply, None))
        elif result.outcome is remote.Outcome.BOUNCED:
            outcomes.append((result.item, Delivery.BOUNCED, result.reply, None))
        else:
            outcomes.append(_deferral(result.item, result.reply, config))
        log.info("delivery %s queue=%s to=<%s>: %s %s", result.item.id, result.item.queue_id,
                 result.item.recipient, result.outcome, result.reply)
    finish(outcomes)


class DeliveryWorker:
    """Runs the local and remote loops until :meth:`stop` (or the parent process dies)."""

    def __init__(self, config: Config, parent_pid: int | None = None) -> None:
        self.config = config
        self.parent_pid = parent_pid
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if connection.vendor == "sqlite":
            released = release_all_leases()
            if released:
                log.info("returned %d in-flight deliveries to the queue", released)
            connection.close()
        self._threads = [
            threading.Thread(target=self._loop, args=(("desk", "mailbox"), LOCAL_BATCH,
                                                      self._local), name="deliver-local"),
            threading.Thread(target=self._loop, args=(("remote",), REMOTE_BATCH, self._remote),
                             name="deliver-remote"),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(0.5):
                if self.parent_pid is not None and os.getppid() != self.parent_pid:
                    log.warning("the gateway process is gone; the worker stops")
                    self.stop()
        finally:
            self.join()

    def _local(self, items: list[Claimed]) -> None:
        deliver_local(items, self.config)

    def _remote(self, items: list[Claimed]) -> None:
        loop = getattr(self, "_remote_loop", None)
        if loop is None:
            loop = self._remote_loop = asyncio.new_event_loop()
        deliver_remote(items, self.config, loop)

    def _loop(self, kinds: tuple[str, ...], batch: int,
              work: Callable[[list[Claimed]], None]) -> None:
        idle = self.config.worker_poll
        while not self._stop.is_set():
            try:
                items = claim(kinds, batch, self.config.lease_seconds)
                if items:
                    work(items)
                    continue
            except Exception:
                log.exception("delivery loop %s failed; retrying", "/".join(kinds))
                close_old_connections()
                connection.close()
                self._stop.wait(1.0)
                continue
            self._stop.wait(idle)
        connection.close()
