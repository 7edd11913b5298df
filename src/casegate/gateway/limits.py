"""Receiving limits: how many sessions are open at once (in all and per client address),
and how much mail one client address or one recipient takes per minute.

Counted in each gateway process, as Postfix's anvil counts per instance: with several
gateways the company-wide ceiling is the limit times the number of gateways. Beyond a
rate the gateway answers ``451 4.7.1`` with the reason, and the sender's server tries
again later; nothing is lost. A connection beyond a session limit gets ``421 4.7.0`` and
is closed.
"""

from __future__ import annotations

import time
from collections import Counter, deque
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
        if self.reached(key, limit):
            return False
        self.count(key)
        return True

    def reached(self, key: str, limit: int) -> bool:
        """Whether ``key`` had ``limit`` hits in the last minute (counting nothing)."""
        return len(self._recent(key)) >= limit

    def count(self, key: str) -> None:
        """One hit for ``key``, whatever its limit."""
        self._recent(key).append(self._clock())

    def _recent(self, key: str) -> deque[float]:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - WINDOW:
            hits.popleft()
        return hits

    def _sweep(self, now: float) -> None:
        """Forget keys with no hit in the last minute, so memory follows the traffic."""
        self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - WINDOW}
        self._next_sweep = now + WINDOW


class SessionLimits:
    """Open SMTP sessions against ``total`` and ``per_client`` (0: no limit); clients for
    which ``exempt`` says so are not held to ``per_client`` (Postfix exempts $mynetworks
    from its connection count limit in the same way)."""

    def __init__(self, total: int, per_client: int, exempt: Callable[[str], bool]) -> None:
        self.total = total
        self.per_client = per_client
        self._exempt = exempt
        self._open = 0
        self._by_client: Counter[str] = Counter()

    def exempt(self, client: str) -> bool:
        """Whether ``client`` is trusted: not held to the per-client and error limits."""
        return self._exempt(client)

    def admit(self, client: str) -> str:
        """Count a new session from ``client``, or say why it is refused (nothing counted)."""
        if self.total and self._open >= self.total:
            return (f"Too many connections: this server takes at most {self.total} at once;"
                    " try again later")
        if (self.per_client and self._by_client[client] >= self.per_client
                and not self.exempt(client)):
            return (f"Too many connections from {client}: at most {self.per_client} at once;"
                    " try again later")
        self._open += 1
        self._by_client[client] += 1
        return ""

    def release(self, client: str) -> None:
        """An admitted session from ``client`` ended."""
        self._open -= 1
        self._by_client[client] -= 1
        if not self._by_client[client]:
            del self._by_client[client]
