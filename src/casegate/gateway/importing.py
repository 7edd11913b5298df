"""``casegate import``: old mail filed at the desk as live mail is, quietly and in date order.

Messages are admitted by windows (:data:`WINDOW`) at the local door (:class:`~casegate.
gateway.local.LocalDoor`), oldest first: a window's messages are stored in their order, so
the delivery worker files a reply after the message it answers and it threads onto its case.
Each message's origin (:func:`~casegate.gateway.mail_files.origin_of`) is stored with it, so
an import run again, whole or after Ctrl-C, stores only what is not stored yet. The envelope
sender is empty, as a bounce's: nothing casegate does with old mail ever writes to its
senders (no bounce, no delay warning), and the desk files it quietly (no acknowledgement,
no notification).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from casegate.config import Config
from casegate.errors import CasegateError
from casegate.gateway.admission import Admitted, recipient_refusal, route
from casegate.gateway.local import LocalDoor, stored_origins
from casegate.gateway.mail_files import Broken, Found, origin_of, with_crlf
from casegate.spool.store import MAX_BATCH
from casegate.spool.vocabulary import Source

# Messages admitted together: as many as one group commit writes.
WINDOW = MAX_BATCH
# Windows in flight at once: the next ones are read while those before are written.
WINDOWS_IN_FLIGHT = 4


@dataclass
class ImportReport:
    """What an import did: counts, and each message refused or broken with the reason."""

    total: int
    imported: int = 0
    already_stored: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    broken: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def done(self) -> int:
        return self.imported + self.already_stored + len(self.refused) + len(self.broken)

    @property
    def rate(self) -> float:
        """Messages a second, counting every message gone through."""
        return self.done / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total, "imported": self.imported,
            "already_stored": self.already_stored,
            "refused": [{"message": w, "reply": r} for w, r in self.refused],
            "broken": [{"message": w, "reason": r} for w, r in self.broken],
            "interrupted": self.interrupted, "seconds": round(self.seconds, 3),
            "messages_per_second": round(self.rate, 1),
        }

    def line(self) -> str:
        stopped = f"stopped after {self.done} of {self.total} messages" if self.interrupted \
            else f"{self.total} messages"
        return (f"{stopped}: {self.imported} imported, {self.already_stored} already there,"
                f" {len(self.refused)} refused, {len(self.broken)} broken;"
                f" {self.seconds:.1f} s, {self.rate:.0f} messages/s")


def check_recipient(address: str, door: LocalDoor) -> None:
    """Refuse the whole import when its recipient takes no mail."""
    refused = recipient_refusal(route(address, door.tables.table))
    if refused:
        raise CasegateError(f"--to {address}: {refused}")


async def import_mail(found: list[Found], to: str, config: Config,
                      progress: Callable[[int], None], stop: asyncio.Event) -> ImportReport:
    """Admit ``found`` (in date order, see :func:`~casegate.gateway.mail_files.in_date_order`)
    for ``to``; ``progress`` is told how many messages each window took; ``stop`` set ends
    the import after the windows already handed over."""
    report = ImportReport(total=len(found))
    started = time.monotonic()
    async with LocalDoor(config, Source.IMPORT, checked=False) as door:
        check_recipient(to, door)
        seen: set[str] = set()
        in_flight: deque[tuple[int, list[tuple[Found, asyncio.Future[Admitted]]]]] = deque()
        for start in range(0, len(found), WINDOW):
            if stop.is_set():
                report.interrupted = True
                break
            window = found[start:start + WINDOW]
            readable = await _read(window, config, seen, report)
            await door.refresh()
            # Handed over here, one window after the other: stored in this order.
            in_flight.append((len(window), [
                (item, asyncio.ensure_future(door.admit_new(content, [to],
                                                            origin=origin, quiet=True)))
                for item, content, origin in readable]))
            if len(in_flight) >= WINDOWS_IN_FLIGHT:
                progress(await _count(*in_flight.popleft(), report))
        while in_flight:
            progress(await _count(*in_flight.popleft(), report))
    report.seconds = time.monotonic() - started
    return report


async def _read(window: list[Found], config: Config, seen: set[str],
                report: ImportReport) -> list[tuple[Found, bytes, str]]:
    """The window's messages not stored yet, with their origins; the others counted."""
    readable: list[tuple[Found, bytes, str]] = []
    for item in window:
        try:
            read = item.read()
        except Broken as exc:
            report.broken.append((item.where, str(exc)))
            continue
        content = with_crlf(read)  # as stored, and as SMTP would have counted it
        if len(content) > config.max_message_size:
            report.refused.append((item.where, "552 5.3.4 Message too big: the limit is"
                                               f" {config.max_message_size} bytes"))
            continue
        readable.append((item, content, origin_of(read)))
    known = await asyncio.to_thread(stored_origins, [origin for _, _, origin in readable])
    new = []
    for item, content, origin in readable:
        if origin in known or origin in seen:
            report.already_stored += 1
        else:
            seen.add(origin)
            new.append((item, content, origin))
    return new


async def _count(size: int, admitting: list[tuple[Found, asyncio.Future[Admitted]]],
                 report: ImportReport) -> int:
    """Wait for a window's answers and count them; its size."""
    for item, admitted in admitting:
        answer = await admitted
        if answer.stored:
            report.imported += 1
        else:
            report.refused.append((item.where, answer.reply))
    return size
