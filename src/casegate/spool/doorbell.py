"""A nudge to the delivery workers: mail was queued.

An idle worker sleeps until its next retry is due, or at most ``CASEGATE_WORKER_POLL``;
the nudge wakes it, so a message leaves right after its 250. A lost nudge costs nothing but
that wait, so ringing never blocks and never fails.

On SQLite (one host) every commit that queues mail rings a Unix datagram socket in
``$CASEGATE_HOME``; on PostgreSQL every transaction that queues mail sends
``NOTIFY casegate_queue``, which reaches the workers of every host when it commits. A ring
names the lanes (:class:`~casegate.spool.vocabulary.Lane`) of the mail queued, so a stream of
mail for remote servers does not wake the loop that files locally at every commit, nor the
other way round; a ring that names no lane wakes them all.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

from django.db import connection

from casegate.config import get_config
from casegate.spool.vocabulary import Lane

log = logging.getLogger("casegate.delivery")
CHANNEL = "casegate_queue"

DOORBELL = "worker.bell"  # in $CASEGATE_HOME


def announced(lanes: Iterable[str]) -> str:
    """What a ring for mail of ``lanes`` says."""
    return " ".join(sorted(set(lanes)))


class Listeners:
    """The events of the worker's loops, by lane; a ring sets those of the lanes it names."""

    def __init__(self) -> None:
        self._events: dict[str, list[threading.Event]] = {}

    def listen(self, lane: Lane, event: threading.Event) -> None:
        self._events.setdefault(lane.value, []).append(event)

    def rung(self, said: str) -> None:
        lanes = set(said.split()) & self._events.keys() or self._events.keys()
        for lane in lanes:
            for event in self._events[lane]:
                event.set()


class Doorbell(Listeners):
    """The worker's side: a Unix datagram socket."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._socket.bind(str(path))
        self._thread = threading.Thread(target=self._listen, name="doorbell", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _listen(self) -> None:
        while True:
            try:
                said = self._socket.recv(64)
            except OSError:  # closed
                return
            self.rung(said.decode("ascii", "replace"))

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._socket.close()


class Ringer:
    """The side of whoever queues mail."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def ring(self, lanes: Iterable[str]) -> None:
        with contextlib.suppress(OSError):  # no worker listening, or its queue is full
            self._socket.sendto(announced(lanes).encode("ascii") or b"!", self.path)


class QueueListener(Listeners):
    """The worker's side on PostgreSQL: LISTEN on its own connection; a notification's
    payload names the lanes."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        super().__init__()
        self._connect = connect
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="queue-listener",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _listen(self) -> None:
        while not self._stopped.is_set():
            try:
                with self._connect() as listening:
                    listening.execute(f"LISTEN {CHANNEL}")
                    while not self._stopped.is_set():
                        # The timeout bounds how long a closed listener keeps its session,
                        # which would hold up DROP DATABASE; each turn costs little CPU.
                        for notification in listening.notifies(timeout=1.0):
                            self.rung(notification.payload)
            except Exception as exc:  # the database went away: poll until it is back
                log.warning("not listening for queued mail (%s); retrying", exc)
                self._stopped.wait(5.0)

    def close(self) -> None:
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)


@cache
def _ringer(path: Path) -> Ringer:
    return Ringer(path)


def ring_workers(lanes: Iterable[str]) -> None:
    """Ring the doorbell of the workers on this host (SQLite) for mail of ``lanes``; on
    PostgreSQL the queueing transaction's NOTIFY tells every worker instead."""
    _ringer(get_config().home / DOORBELL).ring(lanes)


def worker_bell(home: Path, connect: Callable[[], Any]) -> Doorbell | QueueListener:
    """What a worker listens on for queued mail (raises OSError when it cannot).

    ``connect`` opens a plain DB-API connection to the database, for LISTEN on PostgreSQL.
    """
    if connection.vendor == "postgresql":
        return QueueListener(connect)
    return Doorbell(home / DOORBELL)
