"""The delivery worker: drains pending deliveries to the desk, mailboxes and remote hosts.

Two loops run side by side so a slow remote host never delays cases: the local loop
(desk and Maildir) and the remote loop (SMTP/LMTP). Each claims a batch with a lease,
does the work outside any transaction, then records the outcome.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from casegate.config import Config
from casegate.delivery import bounces, forwarding, maildir, remote
from casegate.delivery.doorbell import Doorbell, QueueListener, worker_bell
from casegate.delivery.edits import apply_edits
from casegate.delivery.models import Delivery, SigningKey, Transport
from casegate.delivery.queue import (
    Claimed,
    Outcome,
    claim,
    finish,
    raw_messages,
    release_all_leases,
    retry_at,
    still_held,
)
from casegate.desk.followup import follow_up
from casegate.desk.models import Intake
from casegate.desk.parsing import parse_message
from casegate.desk.services import (
    DeskArrival,
    Prefetched,
    file_arrivals,
    prefetch,
    store_contents,
)
from casegate.directory.addresses import domain_of
from casegate.errors import CasegateError
from casegate.gateway.store import write_messages
from casegate.routing.engine import RoutingTable
from casegate.routing.snapshot import TableCache

log = logging.getLogger("casegate.delivery")

LOCAL_BATCH = 200
REPORT_INTERVAL = 1.0
LOCK_WAIT = 5.0
REMOTE_BATCH = 100


def temporary_failure(item: Claimed, reply: str, config: Config, **attempt: object) -> Outcome:
    """Deferred for a later retry, or expired once the message lifetime is over."""
    age = (timezone.now() - item.received_at).total_seconds()
    if age > config.message_lifetime:
        return Outcome(item, Delivery.EXPIRED,
                       f"5.4.7 delivery time expired; last error: {reply}", **attempt)
    return Outcome(item, Delivery.DEFERRED, reply,
                   retry_at(item, config.retry_min, config.retry_max), **attempt)


def contents(items: list[Claimed]) -> dict[int, bytes]:
    """Each delivery's copy of its message: the stored bytes with its rules' edits."""
    raws = raw_messages(i.queue_id for i in items)
    return {i.id: apply_edits(raws[i.queue_id], i.edits) for i in items}


def deliver_local(items: list[Claimed], config: Config, table: RoutingTable) -> None:
    raws = contents(items)
    outcomes: list[Outcome] = []
    for item in (i for i in items if i.kind == "mailbox"):
        data = (f"Delivered-To: {item.recipient}\r\nX-Original-To: {item.original_recipient}\r\n"
                .encode() + raws[item.id])
        started = timezone.now()
        try:
            path = maildir.deliver(maildir.mailbox_path(config.mailbox_root, item.recipient),
                                   f"{item.queue_id}.{item.id}", data, junk=item.junk)
            outcomes.append(Outcome(item, Delivery.DELIVERED, f"stored in {path.parent.parent}",
                                    host="maildir", started_at=started,
                                    duration=(timezone.now() - started).total_seconds()))
        except OSError as exc:
            outcomes.append(temporary_failure(item, f"4.3.0 cannot write the mailbox: {exc}",
                                              config, host="maildir", started_at=started))
    finish(outcomes)

    desk_items = [i for i in items if i.kind == "desk"]
    if not desk_items:
        return
    # Mail to an agent's reply address has no intake: it files on the conversation it answers.
    intakes = {None: None, **Intake.objects.in_bulk({i.intake_id for i in desk_items})}
    parsed = {i.id: parse_message(raws[i.id]) for i in desk_items if i.intake_id in intakes}
    arrivals = {
        i.id: DeskArrival(intakes[i.intake_id], i.queue_id, i.original_recipient,
                          i.received_at, parsed[i.id], raws[i.id], i.mail_from, i.peer)
        for i in desk_items if i.id in parsed
    }
    # Reads and file writes first: SQLite has one writer, and the gateway waits for it.
    known = prefetch(list(arrivals.values()))
    try:
        store_contents(list(arrivals.values()))
    except Exception:  # filing stores them again, one by one if need be, and reports why
        log.exception("storing message contents before filing failed")
    with transaction.atomic():
        held_ids = still_held(desk_items)
        held = [i for i in desk_items if i.id in held_ids]
        if len(held_ids) < len(desk_items):
            arrivals = {k: v for k, v in arrivals.items() if k in held_ids}
            known = None
        failed = file_at_desk(arrivals, table, config.hostname, known)
        finish([
            temporary_failure(i, f"4.3.0 the desk could not file it: {failed[i.id]}", config,
                              host="desk") if i.id in failed
            else Outcome(i, Delivery.DELIVERED, "case desk", host="desk") if i.id in parsed
            else Outcome(i, Delivery.BOUNCED, "5.1.1 the desk intake no longer exists",
                         host="desk")
            for i in held
        ], held=held_ids)


def file_at_desk(arrivals: dict[int, DeskArrival], table: RoutingTable, hostname: str,
                 known: Prefetched | None = None) -> dict[int, str]:
    """File arrivals (and queue the mail they set off) in one go, or one by one if that fails.

    Returns the deliveries that could not be filed, with the reason; they are retried later.
    """
    def file(batch: list[DeskArrival], prefetched: Prefetched | None = None) -> None:
        with transaction.atomic():
            replies = follow_up(file_arrivals(batch, prefetched), table, hostname)
            if replies:
                write_messages(replies)

    try:
        file(list(arrivals.values()), known)
        return {}
    except Exception:
        if len(arrivals) == 1:
            log.exception("queue=%s cannot be filed at the desk",
                          next(iter(arrivals.values())).queue_id)
            return {next(iter(arrivals)): "an internal error (see the worker log)"}
    failed: dict[int, str] = {}
    for delivery_id, arrival in arrivals.items():
        try:
            file([arrival])
        except Exception as exc:
            log.exception("queue=%s cannot be filed at the desk", arrival.queue_id)
            failed[delivery_id] = f"{type(exc).__name__}: {exc}"[:300]
    return failed


def prepare_outbound(items: list[Claimed], config: Config, table: RoutingTable
                     ) -> dict[int, tuple[str, bytes]]:
    """Envelope sender (SRS for forwarded mail) and bytes (ARC-sealed when a key exists)."""
    raws = contents(items)
    keys: dict[str, SigningKey] = {}
    for key in SigningKey.objects.order_by("created_at"):
        keys[key.domain] = key
    outbound = {}
    for item in items:
        raw = raws[item.id]
        forwarding_domain = domain_of(item.original_recipient)
        data = remote.outgoing(item, raw, config.hostname)
        key = keys.get(forwarding_domain)
        if key is not None and item.mail_from:
            try:
                data = forwarding.arc_seal(
                    forwarding.authentication_results(raw, config.hostname) + data, key,
                    config.hostname)
            except Exception as exc:  # a message dkimpy cannot seal still goes out
                log.warning("queue=%s sent without an ARC seal: %s", item.queue_id, exc)
        outbound[item.id] = (
            forwarding.envelope_sender(item.mail_from, forwarding_domain, table.domains), data)
    return outbound


def deliver_remote(items: list[Claimed], config: Config, loop: asyncio.AbstractEventLoop,
                   table: RoutingTable) -> None:
    transports = {
        domain: remote.TransportEntry(host, port, require_tls)
        for domain, host, port, require_tls in Transport.objects.values_list(
            "domain", "host", "port", "require_tls")
    }
    sender = remote.Sender(prepare_outbound(items, config, table))
    results = loop.run_until_complete(
        remote.deliver(items, sender, transports, config.connections_per_destination,
                       budget=config.lease_seconds / 2))
    outcomes = []
    for result in results:
        attempt = {"host": result.host, "started_at": result.started_at,
                   "duration": result.duration}
        if result.status is remote.Status.SENT:
            outcomes.append(Outcome(result.item, Delivery.DELIVERED, result.reply, **attempt))
        elif result.status is remote.Status.REFUSED:
            outcomes.append(Outcome(result.item, Delivery.BOUNCED, result.reply, **attempt))
        else:
            outcomes.append(temporary_failure(result.item, result.reply, config, **attempt))
        log.info("queue=%s delivery=%s to=<%s> relay=%s status=%s reply=%r",
                 result.item.queue_id, result.item.id, result.item.recipient, result.host,
                 result.status, result.reply)
    finish(outcomes)


class DeliveryWorker:
    """Runs the local and remote loops until :meth:`stop` (or the parent process dies)."""

    def __init__(self, config: Config, parent_pid: int | None = None) -> None:
        self.config = config
        self.parent_pid = parent_pid
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Each loop thread keeps its own routing table (and the remote one its event loop).
        self._local_tables = TableCache()
        self._remote_tables = TableCache()
        self._remote_loop = asyncio.new_event_loop()
        self._doorbell: Doorbell | QueueListener | None = None

    def start(self) -> None:
        if connection.vendor == "sqlite":
            self._hold_single_worker_lock()
            released = release_all_leases()
            if released:
                log.info("returned %d in-flight deliveries to the queue", released)
            connection.close()
        local_bell, remote_bell = threading.Event(), threading.Event()
        try:
            self._doorbell = worker_bell(self.config.home)
            self._doorbell.events += [local_bell, remote_bell]
            self._doorbell.start()
        except OSError as exc:  # polling alone still delivers everything
            log.warning("no doorbell (%s); the worker polls every %.3f s", exc,
                        self.config.worker_poll)
        self._threads = [
            threading.Thread(target=self._loop, args=(("desk", "mailbox"), LOCAL_BATCH,
                                                      self._local, local_bell),
                             name="deliver-local"),
            threading.Thread(target=self._loop, args=(("remote",), REMOTE_BATCH, self._remote,
                                                      remote_bell), name="deliver-remote"),
            threading.Thread(target=self._reports, name="delivery-reports"),
        ]
        for thread in self._threads:
            thread.start()

    def _hold_single_worker_lock(self) -> None:
        """SQLite has one writer: a second worker on the same database would only fight it."""
        path = self.config.home / "worker.lock"
        self._lock_file = open(path, "a")  # noqa: SIM115 - held for the worker's lifetime
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                # A worker whose gateway was killed exits within a second; wait for it.
                if time.monotonic() > deadline:
                    self._lock_file.close()
                    raise CasegateError(
                        f"another delivery worker already runs on {self.config.sqlite_path};"
                        " on SQLite run one (use PostgreSQL for several)") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()

    def join(self) -> None:
        for thread in self._threads:
            thread.join()
        if self._doorbell is not None:
            self._doorbell.close()

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(0.5):
                if self.parent_pid is not None and os.getppid() != self.parent_pid:
                    log.warning("the gateway process is gone; the worker stops")
                    self.stop()
        finally:
            self.join()

    def _reports(self) -> None:
        """Queue delivery status notifications for final failures, once a second."""
        tables = TableCache()
        while not self._stop.wait(REPORT_INTERVAL):
            try:
                while bounces.queue_reports(tables.current(), self.config.hostname,
                                            delay_warning=self.config.delay_warning):
                    pass
            except Exception:
                log.exception("queueing delivery status notifications failed; retrying")
                close_old_connections()
                connection.close()
                tables.close()
                tables = TableCache()
        tables.close()
        connection.close()

    def _local(self, items: list[Claimed]) -> None:
        deliver_local(items, self.config, self._local_tables.current())

    def _remote(self, items: list[Claimed]) -> None:
        deliver_remote(items, self.config, self._remote_loop, self._remote_tables.current())

    def _loop(self, kinds: tuple[str, ...], batch: int,
              work: Callable[[list[Claimed]], None], bell: threading.Event) -> None:
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
            bell.wait(idle)  # the gateway rings when it queued mail
            bell.clear()
        connection.close()
