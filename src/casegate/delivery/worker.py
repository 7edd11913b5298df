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
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import Count
from django.utils import timezone

from casegate import event_loop
from casegate.config import Config
from casegate.delivery import bounces, forwarding, maildir, remote
from casegate.delivery.edits import apply_edits
from casegate.delivery.models import SigningKey, Transport
from casegate.desk.clock import JOBS, Job
from casegate.desk.reception import DeskDelivery, receive
from casegate.directory.addresses import domain_of
from casegate.errors import CasegateError
from casegate.routing.engine import RoutingTable
from casegate.routing.snapshot import TableCache, plain_connection
from casegate.signing import srs
from casegate.spool.doorbell import Doorbell, QueueListener, worker_bell
from casegate.spool.messages import enqueue
from casegate.spool.models import Delivery, DeliveryAttempt
from casegate.spool.queue import (
    Claimed,
    Outcome,
    claim,
    final_failure_recorded,
    finish,
    raw_messages,
    release_all_leases,
    results_on_arrival,
    retry_at,
    seconds_until_due,
    still_held,
)
from casegate.spool.vocabulary import DeliveryKind, DeliveryState, Lane
from casegate.text import storable

log = logging.getLogger("casegate.delivery")

LOCAL_BATCH = 200
# Filing a batch at the desk costs about as much as filing ten of its messages (a few reads
# and one commit whatever its size): after a small batch the local loop lets mail gather a
# moment before it claims again, so that under load it files bigger batches for less CPU a
# message. The first message after a quiet spell is claimed at once all the same.
GATHER_BELOW = 32
GATHER_SECONDS = 0.02
# With no failure to report, the reports thread looks again after the worker's idle poll,
# but never sooner than this (a test's quick poll would have it look 50 times a second).
REPORT_LOOK_MIN = 1.0
LOCK_WAIT = 5.0
REMOTE_BATCH = 100
# Deliveries being sent at once; new claims go on below it while a slow destination is awaited.
MAX_REMOTE_IN_FLIGHT = 1000
# A batch still sending after this long is slow (a destination's DNS or server is): the next
# claim starts beside it. A quicker batch is waited for, so mail batches up as it arrives.
SLOW_BATCH = 0.2
# A remote claim's lease covers making the copies, sending and recording the outcomes.
# DKIM checks for the copies' ARC seals are skipped after the first quarter of it; sending
# is cut at four fifths of it, which leaves the rest for recording while the claim is held.
PREPARE_SHARE = 0.25
SEND_SHARE = 0.8
# Seconds between tries at recording what was sent, while the database fails.
RECORD_RETRY_FIRST = 0.5
RECORD_RETRY_MAX = 5.0
RECORD_WHILE_STOPPING = 20.0  # seconds; the service manager's stop timeout is 90
PREPARE_THREADS = 4
_T = TypeVar("_T")


def temporary_failure(item: Claimed, reply: str, config: Config, *, host: str = "",
                      started_at: datetime | None = None, duration: float = 0.0) -> Outcome:
    """Deferred for a later retry, or expired once the message lifetime is over."""
    age = (timezone.now() - item.queued_since).total_seconds()
    if age > config.message_lifetime:
        return Outcome(item, Delivery.EXPIRED, f"5.4.7 delivery time expired; last error: {reply}",
                       None, host, started_at, duration)
    return Outcome(item, Delivery.DEFERRED, reply,
                   retry_at(item, config.retry_min, config.retry_max), host, started_at, duration)


# PostgreSQL's SQLSTATE classes of failures that pass: connection, transaction rollback
# (deadlock, serialization), resources, operator intervention, system (I/O).
_PASSING_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_PASSING_SQLITE_WORDS = ("locked", "busy", "disk i/o", "disk is full", "unable to open")


def _environmental(exc: BaseException) -> bool:
    """Whether the disk or the database failed rather than the message: it may pass.

    Not every ``OperationalError`` is the database's: PostgreSQL also raises one for a value
    over a limit (SQLSTATE class 54), which the same message meets again on every attempt.
    """
    if isinstance(exc, OSError | InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate:
        return sqlstate[:2] in _PASSING_SQLSTATE_CLASSES
    if isinstance(exc.__cause__, sqlite3.Error):
        return any(word in str(exc).lower() for word in _PASSING_SQLITE_WORDS)
    return True  # a lost connection has no SQLSTATE


def _hop(item: Claimed) -> str:
    """The next hop an attempt is recorded under, when no attempt got as far as one."""
    local_hops: dict[str, str] = {DeliveryKind.DESK: "desk", DeliveryKind.MAILBOX: "maildir"}
    return local_hops.get(item.kind, item.relay)


def _failure_reply(doing: str) -> str:
    return f"4.3.0 {doing}: "


def failed_alone(item: Claimed, error: BaseException, config: Config, doing: str,
                 failures: int | None = None) -> Outcome:
    """The outcome of a delivery whose own work failed while ``doing`` it.

    A failing disk or database is retried like any temporary failure. Any other error is
    the message's (one the worker cannot handle): once it has failed so
    ``config.set_aside_after`` times (``failures``, this one included; every attempt when
    not given) the delivery is set aside as failed for an operator, instead of coming back
    until the message expires.
    """
    failures = item.attempts if failures is None else failures
    reason = storable(f"{type(error).__name__}: {error}")[:300]
    if not _environmental(error) and failures >= config.set_aside_after:
        return Outcome(item, Delivery.FAILED,
                       f"4.3.0 set aside after {failures} attempts: {doing}: {reason}",
                       host=_hop(item))
    return temporary_failure(item, _failure_reply(doing) + reason, config, host=_hop(item))


def earlier_failures(items: list[Claimed], doing: str) -> dict[int, int]:
    """How often each delivery failed on its own while ``doing`` it before (its other
    attempts, such as a server's 4xx replies, do not count)."""
    return dict(DeliveryAttempt.objects
                .filter(delivery_id__in=[i.id for i in items],
                        reply__startswith=_failure_reply(doing))
                .values("delivery_id").annotate(failures=Count("id"))
                .values_list("delivery_id", "failures"))


def work_through(items: list[Claimed], work: Callable[[list[Claimed]], None],
                 config: Config) -> None:
    """Do ``work`` on claimed deliveries; when it fails, find the ones that fail on their own.

    A failing disk or database returns the whole claim to the queue at once, with its
    backoff. Any other failure is bisected: each half is worked again (without the
    deliveries already recorded) until a single delivery fails on its own, so one message
    the worker cannot handle never holds back the others.
    """
    try:
        work(items)
        return
    except Exception as exc:
        error = exc
    log.warning("queue=%s deliveries=%d status=work-failed error=%r", items[0].queue_id,
                len(items), f"{type(error).__name__}: {error}", exc_info=error)
    close_old_connections()
    try:
        held_ids = still_held(items)
    except Exception:
        log.exception("cannot check the claim; its deliveries return when the lease ends")
        return
    held = [i for i in items if i.id in held_ids]
    if len(held) > 1 and not _environmental(error):
        middle = len(held) // 2
        work_through(held[:middle], work, config)
        work_through(held[middle:], work, config)
        return
    outcomes = [failed_alone(i, error, config, "the worker failed") for i in held]
    try:
        finish(outcomes)
    except Exception:
        log.exception("cannot return %d deliveries to the queue; they return when the lease"
                      " ends", len(held))
        return


def contents(items: list[Claimed]) -> dict[int, bytes]:
    """Each delivery's copy of its message: the stored bytes with its rules' edits."""
    raws = raw_messages(i.queue_id for i in items)
    return {i.id: apply_edits(raws[i.queue_id], i.edits) for i in items}


def deliver_local(items: list[Claimed], config: Config, table: RoutingTable) -> None:
    raws = contents(items)
    outcomes: list[Outcome] = []
    for item in (i for i in items if i.kind == DeliveryKind.MAILBOX):
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

    desk_items = [i for i in items if i.kind == DeliveryKind.DESK]
    if not desk_items:
        return
    received = receive([
        DeskDelivery(i.id, i.queue_id, i.intake_id, i.original_recipient, i.received_at,
                     raws[i.id], i.mail_from, i.peer, i.spam, i.quiet, i.null_sender)
        for i in desk_items])
    with transaction.atomic():
        held_ids = still_held(desk_items)
        receipt = received.file(held_ids, table, config.hostname)
        if receipt.outgoing:
            enqueue(receipt.outgoing)
        finish([
            failed_alone(i, receipt.failed[i.id], config, "the desk could not file it")
            if i.id in receipt.failed
            else Outcome(i, Delivery.DELIVERED, "case desk", host="desk")
            if i.id in receipt.filed
            else Outcome(i, Delivery.BOUNCED, "5.1.1 the desk intake no longer exists",
                         host="desk")
            for i in desk_items if i.id in held_ids
        ], held=held_ids)


def forwarding_domain_of(item: Claimed, company_domains: frozenset[str]) -> str:
    """The company domain a copy is forwarded for: its recipient's, or for mail to the bare
    ``postmaster`` (which names no domain) the first of the company's domains."""
    if "@" in item.original_recipient:
        return domain_of(item.original_recipient)
    return min(company_domains, default="")


@dataclass(frozen=True)
class OutboundSources:
    """What making remote copies needs from the database."""

    raws: dict[str, bytes]
    keys: dict[str, SigningKey]
    company_domains: frozenset[str]
    results_on_arrival: dict[str, str]


def outbound_sources(items: list[Claimed], table: RoutingTable) -> OutboundSources:
    keys = {key.domain: key for key in SigningKey.objects.order_by("created_at")}
    queue_ids = {i.queue_id for i in items}
    return OutboundSources(raw_messages(queue_ids), keys, table.domains,
                           results_on_arrival(queue_ids) if keys else {})


def prepare_outbound(items: list[Claimed], sources: OutboundSources, hostname: str,
                     authserv_id: str, checks_until: remote.Deadline
                     ) -> tuple[dict[int, tuple[str, bytes]], dict[int, Exception]]:
    """Envelope sender (SRS for forwarded mail) and bytes (ARC-sealed when a key exists),
    and the deliveries whose copy could not be made, with the error.

    No database work, so it runs beside the claims. The seal records the results the
    gateway added on arrival; a message without them (from a trusted network) has its DKIM
    checked here, until ``checks_until``: later copies are sealed with ``dkim=temperror``.
    """
    outbound: dict[int, tuple[str, bytes]] = {}
    failed: dict[int, Exception] = {}
    for item in items:
        try:
            raw = apply_edits(sources.raws[item.queue_id], item.edits)
        except Exception as exc:
            log.exception("queue=%s delivery=%s cannot be prepared", item.queue_id, item.id)
            failed[item.id] = exc
            continue
        forwarding_domain = forwarding_domain_of(item, sources.company_domains)
        data = remote.outgoing(item, raw, hostname)
        key = sources.keys.get(forwarding_domain)
        if key is not None and item.mail_from:
            try:
                # Of the mail as it arrived: an edit (a subject prefix) breaks its signature.
                results = forwarding.authentication_results(
                    sources.raws[item.queue_id], authserv_id,
                    sources.results_on_arrival.get(item.queue_id, ""),
                    min(forwarding.DKIM_DNS_TIMEOUT, checks_until.left()))
                data = forwarding.arc_seal(data, results, key, authserv_id)
            except Exception as exc:  # a message dkimpy cannot seal still goes out
                log.warning("queue=%s sent without an ARC seal: %s", item.queue_id, exc)
        outbound[item.id] = (
            srs.envelope_sender(item.mail_from, forwarding_domain,
                                       sources.company_domains), data)
    return outbound, failed


def transport_map() -> dict[str, remote.TransportEntry]:
    return {
        domain: remote.TransportEntry(host, port, require_tls)
        for domain, host, port, require_tls in Transport.objects.values_list(
            "domain", "host", "port", "require_tls")
    }


def remote_outcomes(results: list[remote.Result], config: Config) -> list[Outcome]:
    outcomes = []
    for result in results:
        where = (result.host, result.started_at, result.duration)
        if result.status is remote.Status.SENT:
            outcomes.append(Outcome(result.item, Delivery.DELIVERED, result.reply, None, *where))
        elif result.status is remote.Status.NOT_TRIED:  # due again at once, no backoff
            outcomes.append(Outcome(result.item, DeliveryState.PENDING, result.reply,
                                    timezone.now(), *where))
        elif result.status is remote.Status.REFUSED:
            outcomes.append(Outcome(result.item, Delivery.BOUNCED, result.reply, None, *where))
        else:
            outcomes.append(temporary_failure(result.item, result.reply, config,
                                              host=result.host, started_at=result.started_at,
                                              duration=result.duration))
    return outcomes


class RemoteDrain:
    """The remote loop: claims batches and sends them on one event loop, several at a time.

    A batch waiting on a slow destination (a DNS lookup that times out, a server that
    answers slowly) does not stop the next claim, so mail queued meanwhile leaves at once.
    Database work runs on one thread of its own: Django's connections belong to a thread;
    making the copies (DKIM lookups, ARC seals) runs on other threads, so it never holds up
    claims and outcomes. Everything a batch does ends within its claim's lease.
    """

    def __init__(self, config: Config, stop: threading.Event, bell: threading.Event) -> None:
        self.config = config
        self._stop = stop
        self._bell = bell
        self._tables = TableCache()
        self._database = ThreadPoolExecutor(1, thread_name_prefix="deliver-remote-db")
        self._preparing = ThreadPoolExecutor(PREPARE_THREADS,
                                             thread_name_prefix="deliver-remote-prepare")
        self._slots = remote.ConnectionSlots(config.connections_per_destination)
        # This drain's deliveries being worked on, by id, each with its newest claim: one
        # claimed again (its lease ran out meanwhile) is neither sent nor recorded twice.
        self._in_flight: dict[int, Claimed] = {}
        self._deadlines: set[remote.Deadline] = set()

    def run(self) -> None:
        try:
            event_loop.run(self._drain())
        finally:
            self._preparing.shutdown()
            self._database.submit(self._close).result()
            self._database.shutdown()

    def _close(self) -> None:
        self._tables.close()
        connection.close()

    async def _in_database(self, work: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._database, work, *args)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        sending: dict[asyncio.Task[None], float] = {}  # each batch's start
        while not self._stop.is_set():
            young = [task for task, started in sending.items()
                     if time.monotonic() - started < SLOW_BATCH]
            if young:
                # A batch that is still quick will be done soon: wait for it, so mail that
                # arrives meanwhile goes out together in the next batch.
                wait = SLOW_BATCH - (time.monotonic() - max(sending[t] for t in young))
                await asyncio.wait(young, timeout=max(wait, 0.0))
                continue
            if len(self._in_flight) < MAX_REMOTE_IN_FLIGHT:
                claimed_at = time.monotonic()
                try:
                    items, fresh = await self._in_database(self._claim)
                except Exception:
                    log.exception("delivery loop remote failed; retrying")
                    await self._reconnect()
                    await asyncio.sleep(1.0)
                    continue
                if items:
                    if fresh:
                        task = loop.create_task(self._send(fresh, claimed_at))
                        sending[task] = claimed_at
                        task.add_done_callback(sending.pop)
                    continue
            try:
                sleep = await self._in_database(seconds_until_due, Lane.REMOTE.kinds,
                                                self.config.worker_poll)
            except Exception:
                log.exception("delivery loop remote cannot read the queue; retrying")
                await self._reconnect()
                sleep = 1.0
            await loop.run_in_executor(None, self._bell.wait, sleep)  # rung when mail is queued
            self._bell.clear()
        # Stopping: what was sent is recorded as delivered, the rest goes back to the queue.
        for deadline in self._deadlines:
            deadline.cut()
        if sending:
            await asyncio.wait(sending)

    async def _reconnect(self) -> None:
        try:
            await self._in_database(_fresh_connection)
        except Exception:
            log.exception("delivery loop remote cannot reset its database connection")

    def _claim(self) -> tuple[list[Claimed], list[Claimed]]:
        """Claim due deliveries (on the database thread), and which of them are not already
        being worked on here. The claims in flight are updated on the same thread as the
        outcomes are recorded under them, so an outcome never goes under a claim one
        claiming just before it took over (it would be discarded, and the delivery sent
        again when that lease ended)."""
        items = claim(Lane.REMOTE.kinds, REMOTE_BATCH, self.config.lease_seconds)
        return items, self._take(items)

    def _take(self, items: list[Claimed]) -> list[Claimed]:
        """The claimed deliveries not already being worked on here; for the others, their
        newest claim, under which their outcome is recorded."""
        fresh = [i for i in items if i.id not in self._in_flight]
        again = len(items) - len(fresh)
        if again:
            log.warning("deliveries=%d status=claimed-again: their lease ran out while they"
                        " were being sent; they are not sent twice", again)
        self._in_flight.update((i.id, i) for i in items)
        return fresh

    async def _send(self, items: list[Claimed], claimed_at: float) -> None:
        lease = self.config.lease_seconds
        checks_until = remote.Deadline(claimed_at + lease * PREPARE_SHARE)
        deadline = remote.Deadline(claimed_at + lease * SEND_SHARE)
        self._deadlines |= {checks_until, deadline}
        if self._stop.is_set():  # stopped before this batch began: it goes back at once
            checks_until.cut()
            deadline.cut()
        forgotten = False  # by the job that recorded their outcome (see _forget)
        try:
            results = await self._prepare_and_deliver(items, checks_until, deadline)
            if results is None:  # returned to the queue, and forgotten with it
                forgotten = True
                return
            forgotten = await self._record_sent(remote_outcomes(results, self.config), items,
                                                claimed_at + lease)
        finally:
            self._deadlines -= {checks_until, deadline}
            if not forgotten:
                await self._in_database(self._forget, items)

    async def _record_sent(self, outcomes: list[Outcome], items: list[Claimed],
                           lease_ends: float) -> bool:
        """Record what was sent; whether it was. A database that fails for a moment (a
        failover, a full disk) is tried again until the lease ends: the deliveries stay in
        flight here meanwhile, so that claiming them again does not send them again."""
        wait = RECORD_RETRY_FIRST
        while True:
            try:
                await self._in_database(self._record, outcomes, items)
                return True
            except Exception:
                if self._stop.is_set():  # a stopping worker waits for it a little only
                    lease_ends = min(lease_ends, time.monotonic() + RECORD_WHILE_STOPPING)
                # Sent, not recorded: past the lease, the lease decides, as after a crash.
                if time.monotonic() + wait >= lease_ends:
                    log.exception("cannot record %d remote deliveries; they return when the"
                                  " lease ends", len(outcomes))
                    return False
                log.exception("cannot record %d remote deliveries; trying again in %.1fs",
                              len(outcomes), wait)
            await asyncio.sleep(wait)
            await self._reconnect()
            wait = min(wait * 2, RECORD_RETRY_MAX)

    def _forget(self, items: list[Claimed]) -> None:
        """``items`` are no longer worked on here. Done on the database thread in the same
        job as their outcome is recorded: a claim made after it takes a delivery due again
        at once as new, and one made before it as claimed again (see :meth:`_claim`)."""
        for item in items:
            self._in_flight.pop(item.id, None)

    async def _prepare_and_deliver(self, items: list[Claimed], checks_until: remote.Deadline,
                                   deadline: remote.Deadline) -> list[remote.Result] | None:
        """The results of sending ``items``, or None when the batch could not be sent (and
        went back to the queue). A delivery whose copy cannot be made is recorded as
        failing; the others go on."""
        try:
            sources, transports = await self._in_database(self._sources, items)
            outbound, failed = await asyncio.get_running_loop().run_in_executor(
                self._preparing, prepare_outbound, items, sources, self.config.hostname,
                self.config.authserv_id, checks_until)
            if failed:
                await self._in_database(self._copies_failed,
                                        [i for i in items if i.id in failed], failed)
            return await remote.deliver([i for i in items if i.id in outbound],
                                        remote.Sender(outbound), transports,
                                        deadline=deadline, slots=self._slots)
        except Exception as exc:  # nothing was sent: the claim returns to the queue
            log.exception("sending a batch of %d remote deliveries failed", len(items))
            await self._in_database(self._return, items, exc)
            return None

    def _sources(self, items: list[Claimed]
                 ) -> tuple[OutboundSources, dict[str, remote.TransportEntry]]:
        return outbound_sources(items, self._tables.current()), transport_map()

    def _copies_failed(self, items: list[Claimed], errors: dict[int, Exception]) -> None:
        """Record deliveries whose copy cannot be made as failing: set aside once making
        their copy failed ``set_aside_after`` times."""
        doing = "preparing the copy"
        items = self._newest_items(items)
        earlier = earlier_failures(items, doing)
        finish([failed_alone(i, errors[i.id], self.config, doing, earlier.get(i.id, 0) + 1)
                for i in items])

    def _newest_items(self, items: list[Claimed]) -> list[Claimed]:
        """``items`` under each one's newest claim by this drain (on the database thread:
        see :meth:`_claim`)."""
        return [self._in_flight.get(i.id, i) for i in items]

    def _record(self, outcomes: list[Outcome], items: list[Claimed] | None = None
                ) -> list[int]:
        """Record ``outcomes`` under each delivery's newest claim (on the database thread),
        then forget ``items``; the ids of the deliveries recorded."""
        written = finish([replace(o, item=self._in_flight.get(o.item.id, o.item))
                          for o in outcomes])
        self._forget(items or [])
        return written

    def _return(self, items: list[Claimed], error: Exception) -> None:
        """Defer a batch that failed as a whole, with backoff: the failure is not any one
        delivery's, so none of them is set aside for it."""
        reason = _failure_reply("sending failed") + storable(
            f"{type(error).__name__}: {error}")[:300]
        try:
            finish([temporary_failure(i, reason, self.config, host=_hop(i))
                    for i in self._newest_items(items)])
        except Exception:
            log.exception("cannot return %d deliveries to the queue; they return when the"
                          " lease ends", len(items))
        finally:
            self._forget(items)


def _fresh_connection() -> None:
    close_old_connections()
    connection.close()


class DeliveryWorker:
    """Runs the local and remote loops until :meth:`stop` (or the parent process dies)."""

    def __init__(self, config: Config, parent_pid: int | None = None) -> None:
        self.config = config
        self.parent_pid = parent_pid
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Each loop thread keeps its own routing table (and the remote one its event loop).
        self._local_tables = TableCache()
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
            self._doorbell = worker_bell(self.config.home, plain_connection)
            self._doorbell.listen(Lane.LOCAL, local_bell)
            self._doorbell.listen(Lane.REMOTE, remote_bell)
            self._doorbell.start()
        except OSError as exc:  # polling alone still delivers everything
            log.warning("no doorbell (%s); the worker polls every %.3f s", exc,
                        self.config.worker_poll)
        self._threads = [
            threading.Thread(target=self._loop,
                             args=(Lane.LOCAL.kinds, LOCAL_BATCH,
                                   self._local, local_bell),
                             name="deliver-local"),
            threading.Thread(target=RemoteDrain(self.config, self._stop, remote_bell).run,
                             name="deliver-remote"),
            threading.Thread(target=self._reports, name="delivery-reports"),
            threading.Thread(target=self._desk_clock, name="desk-clock"),
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
        final_failure_recorded.set()

    def join(self) -> None:
        for thread in self._threads:
            thread.join()
        if self._doorbell is not None:
            self._doorbell.close()

    def run_forever(self) -> None:
        """Run until stopped. A loop thread that dies stops the worker with an error, so
        ``casegate serve`` (or the supervisor) starts a fresh one."""
        self.start()
        dead: list[str] = []
        try:
            while not self._stop.wait(0.5):
                if self.parent_pid is not None and os.getppid() != self.parent_pid:
                    log.warning("the gateway process is gone; the worker stops")
                    self.stop()
                dead = [thread.name for thread in self._threads if not thread.is_alive()]
                if dead and not self._stop.is_set():
                    log.error("worker=failed thread=%s worker=stopping", ",".join(dead))
                    self.stop()
        finally:  # whatever ends the wait (a signal's exception too) stops every loop
            self.stop()
            self.join()
        if dead:
            raise CasegateError(f"the delivery loop {', '.join(dead)} stopped unexpectedly"
                                " (its error is logged above)")

    def _reports(self) -> None:
        """Queue delivery status notifications: for final failures as soon as they are
        recorded, and at each idle look (the worker's poll) for what became due meanwhile
        (delay warnings, or failures another process recorded)."""
        tables = TableCache()
        while not self._stop.is_set():
            final_failure_recorded.wait(max(self.config.worker_poll, REPORT_LOOK_MIN))
            final_failure_recorded.clear()
            if self._stop.is_set():
                break
            try:
                while bounces.queue_reports(tables.current(), self.config.hostname,
                                            delay_warning=self.config.delay_warning):
                    pass
            except Exception:
                log.exception("queueing delivery status notifications failed; retrying")
                _fresh_connection()
                tables.close()
                tables = TableCache()
        tables.close()
        connection.close()

    def _desk_clock(self) -> None:
        """Run the desk's timed jobs (:data:`casegate.desk.clock.JOBS`): each at the start,
        then whenever its interval has passed. A job that fails is logged and runs again at
        its next turn."""
        due: dict[str, float] = {}
        while not self._stop.is_set():
            now = time.monotonic()
            for job in JOBS:
                if due.get(job.name, 0.0) <= now and not self._stop.is_set():
                    self._run_job(job)
                    due[job.name] = time.monotonic() + job.every
            self._stop.wait(max(0.0, min(due.values()) - time.monotonic()))
        connection.close()

    @staticmethod
    def _run_job(job: Job) -> None:
        try:
            job.run()
        except Exception:
            log.exception("job=%s status=failed retry=next-turn", job.name)
            _fresh_connection()

    def _local(self, items: list[Claimed]) -> None:
        deliver_local(items, self.config, self._local_tables.current())

    def _loop(self, kinds: tuple[str, ...], batch: int,
              work: Callable[[list[Claimed]], None], bell: threading.Event) -> None:
        while not self._stop.is_set():
            try:
                items = claim(kinds, batch, self.config.lease_seconds)
                sleep = 0.0 if items else seconds_until_due(kinds, self.config.worker_poll)
            except Exception:
                log.exception("delivery loop %s cannot claim work; retrying", "/".join(kinds))
                _fresh_connection()
                self._stop.wait(1.0)
                continue
            if items:
                work_through(items, work, self.config)
                if len(items) < GATHER_BELOW:
                    self._stop.wait(GATHER_SECONDS)
                continue
            bell.wait(sleep)  # rung when mail is queued
            bell.clear()
        connection.close()
