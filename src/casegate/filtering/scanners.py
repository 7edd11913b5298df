"""Spam filters in another process (rspamd, SpamAssassin's spamd), asked over the network.

Each scan has a time limit. A filter that does not answer within it, or answers with an
error, leaves the message unscanned: the operator chooses whether that refuses it for now
(``tempfail``: 451, the sender retries) or accepts it marked "not scanned" (``accept``),
never as if it had been scanned and found clean. Every scan is counted by classifier and
outcome in ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod

from prometheus_client import Counter, Histogram

from casegate.errors import CasegateError
from casegate.filtering.classifiers import InboundMessage, SpamVerdict
from casegate.filtering.reports import weighty
from casegate.filtering.vocabulary import SpamAction

log = logging.getLogger("casegate.filtering")

# Counted by the process that scans (the gateway), served by /metrics (casegate.urls). With
# several gateway processes each writes its counts to a file in SCAN_COUNTS (prometheus_client's
# multiprocess mode) and /metrics adds them up.
SCAN_COUNTS = "scan-counts"  # in $CASEGATE_HOME
SCANS = Counter("casegate_spam_scans", "Messages scanned by an external spam filter, by outcome",
                ["classifier", "action"], registry=None)
SCAN_SECONDS = Histogram("casegate_spam_scan_seconds", "Time an external spam filter took",
                         ["classifier"], registry=None,
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


REASON_SYMBOLS = 3  # the weightiest symbols a verdict's reason names


def scan_reason(classifier: str, word: str, score: float, required: float,
                symbols: dict[str, float | None]) -> str:
    """A verdict's reason: ``rspamd: add header, score 7.10 of 15.00 (BIG, SMALL)``."""
    named = ", ".join(weighty(symbols)[:REASON_SYMBOLS])
    named = f" ({named})" if named else ""
    return f"{classifier}: {word}, score {score:.2f} of {required:.2f}{named}"


class ScannerUnavailable(CasegateError):
    """The filter could not be asked, or did not give a usable answer."""


class ExternalScanner(ABC):
    """A classifier whose verdict comes from another process within ``timeout`` seconds."""

    name: str

    def __init__(self, timeout: float, unavailable: str) -> None:
        self.timeout = timeout
        self.tempfail_when_unavailable = unavailable == "tempfail"

    @abstractmethod
    async def scan(self, message: InboundMessage) -> SpamVerdict:
        """The filter's verdict; raises :class:`ScannerUnavailable` or ``TimeoutError``
        when there is none."""

    async def classify(self, message: InboundMessage) -> SpamVerdict:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                verdict = await self.scan(message)
        except TimeoutError:
            verdict = self._unscanned(message, f"no answer within {self.timeout:g} s")
        except ScannerUnavailable as exc:
            verdict = self._unscanned(message, str(exc))
        SCANS.labels(self.name, verdict.action).inc()
        SCAN_SECONDS.labels(self.name).observe(time.monotonic() - started)
        return verdict

    def _unscanned(self, message: InboundMessage, why: str) -> SpamVerdict:
        action = SpamAction.TEMPFAIL if self.tempfail_when_unavailable else SpamAction.NOT_SCANNED
        log.warning("queue=%s classifier=%s unavailable=%r outcome=%s", message.queue_id,
                    self.name, why, action)
        return SpamVerdict(action, f"{self.name} unavailable: {why}", self.name)
