"""One mailbox's fetching: a round stores every message not yet dealt with, then does what
``--after-fetch`` says with those stored, then records how far it got.

Never lost, never twice: the server-side action (flag, move, delete, DELE) happens only
after the message is durably stored, and what is recorded as dealt with (the highest UID,
or the UIDL) only after that. A crash in between fetches the message again; its origin
(mailbox, UIDVALIDITY and UID, or UIDL) is already stored, so the spool answers "already
stored" and the round goes on as if it had stored it now.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from django.db.models import F
from django.utils import timezone

from casegate.gateway.admission import Admitted
from casegate.gateway.handler import MAX_PATH
from casegate.gateway.local import ALREADY_STORED
from casegate.mail.headers import HeaderFields, dated
from casegate.mailboxes.models import Mailbox, SeenUidl, SetAside
from casegate.mailboxes.servers import ImapFolder, Listed, Pop3Drop, ServerError
from casegate.mailboxes.vocabulary import AfterFetch, AfterFetchAction, Protocol
from casegate.spool.models import Message
from casegate.spool.vocabulary import Source
from casegate.text import malformed

log = logging.getLogger("casegate.mailboxes")

# Messages fetched, stored together (one group commit) and acted on together: at most so
# many, and of at most so many bytes unless one message alone is larger.
BATCH = 256
BATCH_BYTES = 8 * 1024 * 1024
STORE_TIMEOUT = 300.0  # seconds one batch may take to be stored
MAILBOX_HEADER = "X-Casegate-Mailbox"
STORED_BEFORE = ALREADY_STORED.partition("{")[0]  # the spool's answer to a copy it has
UID_LIMIT = 2**32  # above every IMAP UID (a 32-bit number)


@dataclass(frozen=True)
class Offer:
    """A fetched message handed to the spool."""

    content: bytes
    recipient: str
    mail_from: str
    origin: str
    quiet: bool
    # Strictly increasing in the folder's order: the worker takes deliveries in this order,
    # so a reply fetched with its original threads onto the case the original opens.
    received_at: datetime


# Hands messages to the spool together (the fetcher's LocalDoor, on its event loop): each
# one's answer, or what storing it raised.
Admit = Callable[[list[Offer]], "Future[list[Admitted | BaseException]]"]


class TryLater(Exception):
    """The spool cannot store now (a 4xx answer): the round stops where it is."""


def origin_of(mailbox: Mailbox, key: str) -> str:
    if mailbox.protocol == Protocol.IMAP:
        return f"mailbox:{mailbox.pk}:{mailbox.uidvalidity}:{key}"
    return f"mailbox:{mailbox.pk}:uidl:{key}"


def not_a_message(content: bytes, fields: HeaderFields) -> str:
    """Why ``content`` (whose header is ``fields``) is not a mail message, or ``""``."""
    if not content.strip():
        return "empty"
    if not any(fields.get(name) for name in ("From", "Date", "Message-ID", "Subject")):
        return "not a message: no From, Date, Message-ID or Subject header field"
    return ""


def prepared(content: bytes, mailbox: Mailbox) -> bytes:
    """CRLF line ends, and a first header field naming the mailbox; the message's own
    header, Received chain included, is kept as it is."""
    content = content.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    name = mailbox.name.encode("utf-8", errors="replace")
    return f"{MAILBOX_HEADER}: ".encode() + name + b"\r\n" + content


def sender_of(fields: HeaderFields) -> str:
    """The envelope sender the server recorded (Return-Path), else none: none too where it
    could not have been one (too long, bytes that are not UTF-8), which the spool could
    never store."""
    sender = parseaddr(fields.get("Return-Path") or "")[1]
    return "" if len(sender) > MAX_PATH or malformed(sender) else sender




def _batch_end(listed: list[Listed], start: int, most: int) -> int:
    """Where the batch of ``listed`` beginning at ``start`` ends: after at most ``most``
    messages, and at most :data:`BATCH_BYTES` unless its first message alone is larger."""
    end, size = start + 1, listed[start].size
    while end < min(start + most, len(listed)) and size + listed[end].size <= BATCH_BYTES:
        size += listed[end].size
        end += 1
    return end


def _by_size(listed: list[Listed]) -> Iterator[list[Listed]]:
    """``listed`` in parts of at most :data:`BATCH_BYTES` (or one message)."""
    position = 0
    while position < len(listed):
        end = _batch_end(listed, position, len(listed))
        yield listed[position:end]
        position = end


@dataclass
class Round:
    """What one round did."""

    stored: list[Listed] = field(default_factory=list)
    set_aside: list[tuple[Listed, str]] = field(default_factory=list)
    skipped: list[Listed] = field(default_factory=list)  # older than --since
    new: int = 0  # of those stored, how many were stored now (not before a crash, say)
    reading: float = 0.0  # seconds spent reading from the server

    def add(self, other: Round) -> None:
        self.stored += other.stored
        self.set_aside += other.set_aside
        self.skipped += other.skipped
        self.new += other.new

    def settled(self) -> set[str]:
        return ({m.key for m in self.stored} | {m.key for m, _ in self.set_aside}
                | {m.key for m in self.skipped})


class MailboxFetch:
    """Rounds of one mailbox; ``admit`` stores a message, ``max_size`` is the limit above
    which a message is set aside unread, ``attempts`` how many failed attempts at one
    message set it aside; a round ends after the batch at hand once ``stopping`` is set."""

    def __init__(self, mailbox: Mailbox, admit: Admit, max_size: int, attempts: int,
                 stopping: threading.Event) -> None:
        self.mailbox = mailbox
        self.stopping = stopping
        self.admit = admit
        self.max_size = max_size
        self.attempts = attempts
        self.failed: dict[str, int] = {}  # a message's key: failed attempts to store it
        # Messages up to this UID (POP3: number) are fetched one at a time: a batch of them
        # failed to be fetched.
        self.one_at_a_time = 0
        self.last_received = datetime.now(UTC)

    def _received_at(self) -> datetime:
        self.last_received = max(datetime.now(UTC),
                                 self.last_received + timedelta(microseconds=1))
        return self.last_received

    # --- what both protocols share ----------------------------------------------------------

    def _store(self, listed: list[Listed], contents: dict[int, bytes], known: set[str],
               outcome: Round) -> None:
        """Store the fetched ``contents``; each one ends in ``outcome`` (stored, set aside
        or skipped) or, for a 4xx answer, raises TryLater after the others are counted.

        The messages are stored together (one group commit), except that a reply to a
        message of the same batch waits until that one is stored: the desk then files it
        onto the case its original opens."""
        mailbox = self.mailbox
        wave: list[tuple[Listed, Offer]] = []
        in_wave: set[str] = set()
        later = ""
        for item in listed:
            content = contents.get(item.number)
            if content is None:
                continue
            fields = HeaderFields(content)
            broken = not_a_message(content, fields)
            if broken:
                outcome.set_aside.append((item, broken))
                continue
            message_id = fields.get("Message-ID") or ""
            if known and message_id in known:
                outcome.stored.append(item)  # stored under the folder's former UIDVALIDITY
                continue
            received = item.received or dated(fields)
            if mailbox.since and received and received < mailbox.since:
                outcome.skipped.append(item)
                continue
            answers = set(" ".join([fields.get("In-Reply-To") or "",
                                    fields.get("References") or ""]).split())
            if answers & in_wave:
                later = self._settle_wave(wave, outcome) or later
                wave, in_wave = [], set()
            quiet = bool(received and received < mailbox.created_at)
            wave.append((item, Offer(
                prepared(content, mailbox), mailbox.deliver_to, sender_of(fields),
                origin_of(mailbox, item.key), quiet, self._received_at())))
            in_wave.add(message_id)
        later = self._settle_wave(wave, outcome) or later
        if later:
            raise TryLater(later)

    def _settle_wave(self, wave: list[tuple[Listed, Offer]], outcome: Round) -> str:
        """Store ``wave`` and count the answers; why to try again later, or ``""``."""
        if not wave:
            return ""
        answers: list[Admitted | BaseException]
        try:
            answers = self.admit([offer for _, offer in wave]).result(STORE_TIMEOUT)
        except Exception as exc:
            answers = [exc] * len(wave)
        later = ""
        for (item, _), admitted in zip(wave, answers, strict=True):
            if isinstance(admitted, BaseException):
                failure = f"{type(admitted).__name__}: {admitted}"
                if not self._attempt_failed(item, "stored", failure, outcome):
                    later = later or f"storing a message failed: {failure}"
            elif admitted.stored:
                outcome.stored.append(item)
                outcome.new += not admitted.reply.startswith(STORED_BEFORE)
            elif admitted.refuses_recipient:  # the account's fault, not this message's
                later = later or f"--deliver-to is refused: {admitted.reply}"
            elif admitted.reply.startswith("5"):
                outcome.set_aside.append((item, admitted.reply))
            else:
                later = later or f"the spool answered {admitted.reply}"
        return later

    def _record(self, outcome: Round, **fields: object) -> None:
        mailbox = self.mailbox
        if outcome.set_aside:
            SetAside.objects.bulk_create(
                [SetAside(mailbox=mailbox, key=self._aside_key(item), size=item.size,
                          reason=reason[:1000]) for item, reason in outcome.set_aside],
                ignore_conflicts=True)
            for item, reason in outcome.set_aside:
                log.warning("mailbox=%s key=%s size=%s set_aside reason=%r", mailbox.name,
                            self._aside_key(item), item.size, reason)
        Mailbox.objects.filter(pk=mailbox.pk).update(
            fetched=F("fetched") + outcome.new, **fields)
        mailbox.fetched += outcome.new
        for name, value in fields.items():
            setattr(mailbox, name, value)

    def _aside_key(self, item: Listed) -> str:
        if self.mailbox.protocol == Protocol.IMAP:
            return f"{self.mailbox.uidvalidity}:{item.key}"
        return item.key

    def _known_message_ids(self, contents: dict[int, bytes]) -> set[str]:
        """The Message-IDs among ``contents`` already stored from this mailbox."""
        ids = {HeaderFields(c).get("Message-ID") or "" for c in contents.values()} - {""}
        return set(Message.objects.filter(
            source=Source.MAILBOX, origin__startswith=f"mailbox:{self.mailbox.pk}:",
            message_id__in=ids).values_list("message_id", flat=True))

    def _unreadable(self, wanted: list[Listed], error: ServerError, outcome: Round) -> None:
        """A fetch failed: a server may drop the connection over a message it cannot read.
        The next rounds fetch these one at a time; one that keeps failing alone is set aside.
        Either way the round ends here (with ``error``)."""
        if len(wanted) > 1:
            self.one_at_a_time = max(self.one_at_a_time, wanted[-1].number)
            raise error
        self._attempt_failed(wanted[0], "fetched", str(error), outcome)
        raise error

    def _attempt_failed(self, item: Listed, doing: str, failure: str, outcome: Round) -> bool:
        """Count a failed attempt at ``item``; whether it is now set aside (after
        ``attempts`` of them)."""
        tries = self.failed[item.key] = self.failed.get(item.key, 0) + 1
        if tries < self.attempts:
            return False
        outcome.set_aside.append(
            (item, f"cannot be {doing} after {tries} attempts: {failure}"[:900]))
        return True

    def _batches(self, listed: list[Listed]) -> Iterator[list[Listed]]:
        """``listed`` in batches; one at a time where a batch failed to be fetched."""
        position = 0
        while position < len(listed) and not self.stopping.is_set():
            most = 1 if listed[position].number <= self.one_at_a_time else BATCH
            end = _batch_end(listed, position, most)
            yield listed[position:end]
            position = end

    def _over_the_limit(self, batch: list[Listed], outcome: Round) -> list[Listed]:
        """The messages of ``batch`` to fetch; those over the size limit are set aside."""
        wanted = []
        for item in batch:
            if item.size > self.max_size:
                outcome.set_aside.append((item, f"{item.size} bytes, over the limit of"
                                                f" {self.max_size}"))
            else:
                wanted.append(item)
        return wanted

    # --- IMAP -------------------------------------------------------------------------------

    def imap_round(self, folder: ImapFolder) -> Round:
        """Store what is new in the folder. After a change of UIDVALIDITY the folder is read
        again, and what was stored before (the same Message-ID, from this mailbox) is not
        stored again."""
        mailbox = self.mailbox
        state = folder.select()
        if mailbox.uidvalidity != state.uidvalidity:
            # A server that says no UIDNEXT (RFC 2060 did not ask for it): every message
            # may have been stored before.
            resync_below = (state.uidnext or UID_LIMIT) if mailbox.uidvalidity is not None \
                else 0
            if resync_below:
                log.warning("mailbox=%s uidvalidity=%s was=%s: the folder's UIDs changed;"
                            " reading it again, recognising what was stored by Message-ID",
                            mailbox.name, state.uidvalidity, mailbox.uidvalidity)
            self._record(Round(), uidvalidity=state.uidvalidity, last_uid=0,
                         resync_below=resync_below)
        total = Round()
        started = time.perf_counter()
        listed = folder.listing(mailbox.last_uid)
        total.reading += time.perf_counter() - started
        after = AfterFetchAction(AfterFetch(mailbox.after_fetch), mailbox.move_to)
        # Once a message is not dealt with, the recorded UID stays before it for the rest
        # of the round (later batches are stored all the same): the next round fetches it.
        unsettled = False
        for batch in self._batches(listed):
            outcome = Round()
            try:
                started = time.perf_counter()
                try:
                    sizes = folder.sizes([item.number for item in batch])
                except ServerError as error:
                    self._unreadable(batch, error, outcome)
                total.reading += time.perf_counter() - started
                batch = [replace(item, size=sizes.get(item.number, 0)) for item in batch]
                # Sizes first, then the messages a part at a time: a batch of large ones is
                # never held whole.
                for part in _by_size(self._over_the_limit(batch, outcome)):
                    started = time.perf_counter()
                    try:
                        fetched = folder.contents(item.number for item in part)
                    except ServerError as error:
                        self._unreadable(part, error, outcome)
                    total.reading += time.perf_counter() - started
                    for item in part:  # answered without its content: gone, or unreadable
                        if item.number not in fetched:
                            self._attempt_failed(item, "fetched",
                                                 "the server sent no content for it", outcome)
                    wanted = [replace(item, received=fetched[item.number][1])
                              for item in part if item.number in fetched]
                    contents = {uid: content for uid, (content, _) in fetched.items()}
                    known = self._known_message_ids(
                        {uid: c for uid, c in contents.items() if uid < mailbox.resync_below})
                    self._store(wanted, contents, known, outcome)
            finally:
                unsettled = self._settle(folder, batch, outcome, after, unsettled)
                total.add(outcome)
        return total

    def _settle(self, folder: ImapFolder, batch: list[Listed], outcome: Round,
                after: AfterFetchAction, unsettled: bool) -> bool:
        """Take the after-fetch action on the messages of ``batch`` stored, and record the
        batch's outcome with the UID up to which every message was dealt with (none past
        ``unsettled``); whether one was not. Where the server fails the action, those stored
        stay before that UID, to be fetched again (the spool knows them) and settled then;
        what was set aside is recorded all the same."""
        dealt_with = outcome.settled()
        try:
            folder.settle([item.number for item in outcome.stored], after)
        except Exception:
            dealt_with -= {item.key for item in outcome.stored}
            raise
        finally:
            last = self.mailbox.last_uid
            for item in batch:  # up to the first message not dealt with
                if unsettled or item.key not in dealt_with:
                    unsettled = True
                    break
                last = item.number
            self._record(outcome, last_uid=last)
        return unsettled

    # --- POP3 -------------------------------------------------------------------------------

    def pop3_round(self, drop: Pop3Drop) -> Round:
        """Store the messages whose UIDL is new; with ``--after-fetch delete`` they are
        deleted at QUIT, after they are stored (and those stored in a session that ended
        before its QUIT are deleted in the next)."""
        mailbox = self.mailbox
        total = Round()
        started = time.perf_counter()
        listed = drop.listing()
        total.reading += time.perf_counter() - started
        seen = set(SeenUidl.objects.filter(mailbox=mailbox).values_list("uidl", flat=True))
        on_server = {item.key for item in listed}
        listed = self._unique_uidls(listed, seen, total)
        gone = seen - on_server
        if gone:
            SeenUidl.objects.filter(mailbox=mailbox, uidl__in=gone).delete()
        delete = mailbox.after_fetch == AfterFetch.DELETE
        if delete:
            stored = set(SeenUidl.objects.filter(mailbox=mailbox, stored=True)
                         .values_list("uidl", flat=True))
            for item in listed:
                if item.key in stored:
                    drop.delete(item.number)
        for batch in self._batches([item for item in listed if item.key not in seen]):
            outcome = Round()
            try:
                wanted = self._over_the_limit(batch, outcome)
                contents: dict[int, bytes] = {}
                for item in wanted:
                    started = time.perf_counter()
                    try:
                        contents[item.number] = drop.content(item.number)
                    except ServerError as error:
                        self._store(wanted, contents, set(), outcome)
                        self._unreadable([item], error, outcome)
                    total.reading += time.perf_counter() - started
                self._store(wanted, contents, set(), outcome)
            finally:
                kept = {item.key for item in outcome.stored}
                SeenUidl.objects.bulk_create(
                    [SeenUidl(mailbox=mailbox, uidl=key, stored=key in kept)
                     for key in outcome.settled()], ignore_conflicts=True)
                self._record(outcome)
                total.add(outcome)
                if delete:
                    for item in outcome.stored:
                        drop.delete(item.number)
        return total


    def _unique_uidls(self, listed: list[Listed], seen: set[str], total: Round
                      ) -> list[Listed]:
        """``listed`` without the messages whose UIDL is not unique (RFC 1939 says it must
        be): which one was stored could not be told, so they are set aside, left on the
        server untouched (never deleted), and remembered."""
        counts = Counter(item.key for item in listed)
        repeated = {key: n for key, n in counts.items() if n > 1}
        if not repeated:
            return listed
        outcome = Round(set_aside=[
            (item, f"the server lists {repeated[item.key]} messages under this UIDL: left"
                   " on it untouched") for item in listed
            if item.key in repeated and item.key not in seen])
        SeenUidl.objects.bulk_create(
            [SeenUidl(mailbox=self.mailbox, uidl=key, stored=False) for key in repeated
             if key not in seen], ignore_conflicts=True)
        self._record(outcome)
        total.add(outcome)
        return [item for item in listed if item.key not in repeated]


def succeeded(mailbox: Mailbox) -> None:
    now = timezone.now()
    Mailbox.objects.filter(pk=mailbox.pk).update(last_success_at=now, failures=0,
                                                 next_attempt_at=None)
    mailbox.last_success_at, mailbox.failures, mailbox.next_attempt_at = now, 0, None


def failed(mailbox: Mailbox, error: str, retry_max: float) -> float:
    """Record a failed round; the seconds to wait before the next (1, 2, 4 … up to
    ``retry_max``)."""
    failures = mailbox.failures + 1
    wait = min(retry_max, 2.0 ** min(failures - 1, 62))  # past 2**1023 a float overflows
    now = timezone.now()
    fields = {"last_error": error[:1000], "last_error_at": now, "failures": failures,
              "next_attempt_at": now + timedelta(seconds=wait)}
    Mailbox.objects.filter(pk=mailbox.pk).update(errors=F("errors") + 1, **fields)
    mailbox.errors += 1
    for name, value in fields.items():
        setattr(mailbox, name, value)
    log.warning("mailbox=%s error=%r failures=%d retry_in=%.0fs", mailbox.name, error,
                failures, wait)
    return wait
