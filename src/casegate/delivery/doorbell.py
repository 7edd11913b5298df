"""A nudge from the gateway to the delivery workers: mail was queued.

The workers still poll the queue; the nudge only saves the wait until the next poll, so a
message leaves right after its 250 instead of up to ``CASEGATE_WORKER_POLL`` later. A lost
nudge costs nothing but that wait, so ringing never blocks and never fails.

On SQLite (one host) the gateway rings a Unix datagram socket in ``$CASEGATE_HOME``; on
PostgreSQL every transaction that queues mail sends ``NOTIFY casegate_queue``, which
reaches the workers of every host when it commits.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("casegate.delivery")
CHANNEL = "casegate_queue"

DOORBELL = "worker.bell"  # in $CASEGATE_HOME


class Doorbell:
    """The worker's side: a Unix datagram socket; each ring sets every listener's event."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events: list[threading.Event] = []
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
                self._socket.recv(64)
            except OSError:  # closed
                return
            for event in self.events:
                event.set()

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._socket.close()


class Ringer:
    """The gateway's side."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def ring(self) -> None:
        with contextlib.suppress(OSError):  # no worker listening, or its queue is full
            self._socket.sendto(b"!", self.path)


class QueueListener:
    """The worker's side on PostgreSQL: LISTEN on its own connection; each notification
    sets every listener's event."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self.events: list[threading.Event] = []
        self._connect = connect
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="queue-listener",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _listen(self) -> None:
        while not self._stopped.is_set():
            try:
                with self._connect() as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    while not self._stopped.is_set():
                        for _ in connection.notifies(timeout=1.0):
                            for event in self.events:
                                event.set()
            except Exception as exc:  # the database went away: poll until it is back
                log.warning("not listening for queued mail (%s); retrying", exc)
                self._stopped.wait(5.0)

    def close(self) -> None:
        self._stopped.set()


def commit_nudge(home: Path) -> Callable[[], None] | None:
    """What the gateway calls after each commit: on SQLite, ring the worker's doorbell; on
    PostgreSQL nothing, the transaction's NOTIFY has told every worker already."""
    from django.db import connection

    return Ringer(home / DOORBELL).ring if connection.vendor == "sqlite" else None


def worker_bell(home: Path) -> Doorbell | QueueListener:
    """What a worker listens on for queued mail (raises OSError when it cannot)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        from casegate.routing.snapshot import plain_connection

        return QueueListener(plain_connection)
    return Doorbell(home / DOORBELL)
