"""Receiving limits: how much mail one client address or one recipient takes per minute.

Counted in each gateway process, as Postfix's anvil counts per instance: with several
gateways the company-wide ceiling is the limit times the number of gateways. Beyond a
limit the gateway answers ``451 4.7.1`` with the reason, and the sender's server tries
again later; nothing is lost.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW = 60.0


class RateLimiter:
    """Sliding one-minute windows, one per key."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._next_sweep = 0.0

    def allow(self, key: str, limit: int) -> bool:
        """Count one hit for ``key`` unless it already had ``limit`` in the last minute."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - WINDOW:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True

    def _sweep(self, now: float) -> None:
        """Forget keys with no hit in the last minute, so memory follows the traffic."""
        self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - WINDOW}
        self._next_sweep = now + WINDOW
