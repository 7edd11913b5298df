"""``casegate fetch``: every mailbox fetched at once, each in its own thread, so one that
is slow, down or refusing the login never holds up the others. Messages go to the spool
through one :class:`~casegate.gateway.local.LocalDoor` on the event loop, where the
messages of all mailboxes share the group commit.

An IMAP folder whose server offers IDLE is told of new mail at once; otherwise, and for
POP3, each mailbox is looked at every ``CASEGATE_MAILBOX_POLL`` seconds. A failed round
waits 1, 2, 4 … seconds, up to ``CASEGATE_MAILBOX_RETRY_MAX``, before the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from concurrent.futures import Future

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from casegate import event_loop
from casegate.config import Config
from casegate.errors import CasegateError
from casegate.gateway.admission import Admitted
from casegate.gateway.local import LocalDoor, already_stored, stored_origins
from casegate.mailboxes.credentials import credentials
from casegate.mailboxes.fetching import (
    Admit,
    MailboxFetch,
    Offer,
    TryLater,
    failed,
    succeeded,
)
from casegate.mailboxes.models import Mailbox
from casegate.mailboxes.servers import ImapFolder, Pop3Drop, Where
from casegate.mailboxes.vocabulary import Protocol, Tls
from casegate.spool.vocabulary import Source

log = logging.getLogger("casegate.mailboxes")

LOOK_AGAIN = 2.0  # seconds between looks at the list of mailboxes (added, paused, removed)
IDLE_SLICE = 1.0  # seconds of IDLE between looks at whether to stop
IDLE_RENEW = 25 * 60.0  # IDLE is ended and begun again before servers drop it (RFC 2177)


def where(mailbox: Mailbox) -> Where:
    return Where(mailbox.host, mailbox.port, Tls(mailbox.tls))


def log_in(mailbox: Mailbox) -> ImapFolder | Pop3Drop:
    """A logged-in session with the mailbox's server."""
    secret = credentials(mailbox.user, mailbox.password_file, mailbox.token_command)
    if mailbox.protocol == Protocol.IMAP:
        return ImapFolder(where(mailbox), secret, mailbox.folder)
    return Pop3Drop(where(mailbox), secret)


def message_count(mailbox: Mailbox) -> int:
    """``casegate mailbox test``: log in and count the folder's messages."""
    session = log_in(mailbox)
    with session:
        if isinstance(session, ImapFolder):
            return session.select().messages
        return session.count()


def _reason(error: Exception) -> str:
    """What a failed round shows: our errors say it themselves, others are named."""
    if isinstance(error, CasegateError | TryLater):
        return str(error)
    return f"{type(error).__name__}: {error}"


class MailboxThread(threading.Thread):
    """Fetches one mailbox until told to stop (or after one round, ``once``)."""

    def __init__(self, mailbox: Mailbox, admit: Admit, config: Config,
                 once: bool = False) -> None:
        super().__init__(name=f"mailbox-{mailbox.name}", daemon=True)
        self.mailbox = mailbox
        self.config = config
        self.once = once
        self.stopping = threading.Event()
        self.fetch = MailboxFetch(mailbox, admit, config.max_message_size,
                                  config.set_aside_after, self.stopping)

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        try:
            self._run()
        except Exception:
            log.exception("mailbox=%s fetcher=failed", self.mailbox.name)
        finally:
            connection.close()

    def _run(self) -> None:
        mailbox = self.mailbox
        due = mailbox.next_attempt_at
        if due and not self.once:
            self.stopping.wait(max(0.0, (due - timezone.now()).total_seconds()))
        while not self.stopping.is_set():
            close_old_connections()
            try:
                self._session()
            except Exception as exc:  # recorded and retried with backoff, never a silent stop
                if not isinstance(exc, CasegateError | TryLater):
                    log.exception("mailbox=%s round=failed", mailbox.name)
                wait = failed(mailbox, _reason(exc), self.config.mailbox_retry_max)
                if self.once:
                    return
                self.stopping.wait(wait)
                continue
            if self.once:
                return
            if mailbox.protocol == Protocol.POP3:
                self.stopping.wait(self.config.mailbox_poll)

    def _session(self) -> None:
        """Log in and fetch; an IMAP session stays for the next rounds while it works."""
        session = log_in(self.mailbox)
        with session:
            while True:
                started = time.monotonic()
                if isinstance(session, Pop3Drop):
                    done = self.fetch.pop3_round(session)
                else:
                    done = self.fetch.imap_round(session)
                succeeded(self.mailbox)
                if done.stored or done.set_aside:
                    log.info("mailbox=%s stored=%d set_aside=%d skipped=%d seconds=%.3f"
                             " reading=%.3f", self.mailbox.name, len(done.stored),
                             len(done.set_aside), len(done.skipped),
                             time.monotonic() - started, done.reading)
                if self.once or isinstance(session, Pop3Drop):
                    return
                if not self._wait_for_mail(session):
                    return

    def _wait_for_mail(self, folder: ImapFolder) -> bool:
        """Until the folder changes (IDLE) or the poll interval ends; False when stopping."""
        if not folder.idles:
            return not self.stopping.wait(self.config.mailbox_poll)
        renew = time.monotonic() + IDLE_RENEW
        while not self.stopping.is_set():
            if folder.wait_for_mail(IDLE_SLICE) or time.monotonic() > renew:
                return True
        return False


class Fetcher:
    """Keeps one :class:`MailboxThread` for each mailbox that is not paused."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.threads: dict[int, MailboxThread] = {}

    async def run(self, stop: asyncio.Event, once: bool = False,
                  parent_pid: int | None = None) -> None:
        """Until ``stop`` is set, or the process ``parent_pid`` (serve) is gone. The way
        into the spool is opened with the first mailbox: with none, the fetcher only looks
        for one now and then."""
        loop = asyncio.get_running_loop()
        async with contextlib.AsyncExitStack() as opened:
            admit: Admit | None = None
            try:
                while True:
                    mailboxes = await asyncio.to_thread(self._active)
                    if mailboxes and admit is None:
                        door = await opened.enter_async_context(
                            LocalDoor(self.config, Source.MAILBOX))
                        admit = self._admitter(door, loop)
                    if admit is not None:
                        self._keep(mailboxes, admit, once)
                    if once:
                        await asyncio.to_thread(self._join)
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), LOOK_AGAIN)
                    if stop.is_set():
                        return
                    if parent_pid is not None and os.getppid() != parent_pid:
                        log.warning("the serving process is gone; the fetcher stops")
                        return
            finally:
                for thread in self.threads.values():
                    thread.stop()
                await asyncio.to_thread(self._join)

    @staticmethod
    def _admitter(door: LocalDoor, loop: asyncio.AbstractEventLoop) -> Admit:
        def admit(offers: list[Offer]) -> Future[list[Admitted | BaseException]]:
            return asyncio.run_coroutine_threadsafe(admit_together(door, offers), loop)

        return admit

    def _active(self) -> list[Mailbox]:
        # The connection is kept between looks (opening one each time was most of what an
        # idle fetcher spent); one that the database closed is opened again.
        try:
            return list(Mailbox.objects.filter(paused=False))
        except DatabaseError:
            connection.close()
            return list(Mailbox.objects.filter(paused=False))

    def _keep(self, mailboxes: list[Mailbox], admit: Admit, once: bool) -> None:
        wanted = {m.pk: m for m in mailboxes}
        for pk, thread in list(self.threads.items()):
            if pk not in wanted:  # paused or removed: it stops after the batch at hand
                thread.stop()
            if pk not in wanted or not thread.is_alive():
                del self.threads[pk]
        for pk, mailbox in wanted.items():
            if pk not in self.threads:
                thread = MailboxThread(mailbox, admit, self.config, once)
                self.threads[pk] = thread
                thread.start()

    def _join(self) -> None:
        for thread in self.threads.values():
            thread.join()


async def admit_together(door: LocalDoor, offers: list[Offer]
                         ) -> list[Admitted | BaseException]:
    """Store ``offers`` in one group commit, with one look at which are stored already and
    one at whether the routing table changed; each one's answer, or what it raised."""
    known = await asyncio.to_thread(stored_origins, [offer.origin for offer in offers])
    await door.refresh()

    async def one(offer: Offer) -> Admitted:
        if offer.origin in known:
            return already_stored(known[offer.origin])
        return await door.admit_new(offer.content, [offer.recipient], offer.mail_from,
                                    origin=offer.origin, quiet=offer.quiet,
                                    received_at=offer.received_at)

    return await asyncio.gather(*(one(offer) for offer in offers), return_exceptions=True)


def fetch(config: Config, once: bool = False, parent_pid: int | None = None) -> None:
    """Run the fetcher until SIGTERM or SIGINT (or one round of each mailbox, ``once``)."""
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await Fetcher(config).run(stop, once, parent_pid)

    event_loop.run(main())
