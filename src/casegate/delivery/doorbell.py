"""A nudge from the gateway to the delivery worker on the same host: mail was queued.

The worker still polls the queue (that is what lets several workers on several hosts share
it); the doorbell only saves the wait until the next poll, so a message leaves right after
its 250 instead of up to ``CASEGATE_WORKER_POLL`` later. A lost ring costs nothing but
that wait, so ringing never blocks and never fails.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

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
