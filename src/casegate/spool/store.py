"""Durable storage of accepted mail with group commit.

SMTP sessions hand their finished message to one writer thread and wait. The writer
takes every message that is waiting, writes them all in one transaction (one fsync),
and only then lets each session answer 250. A crash before the commit loses nothing
that was acknowledged; a crash after it loses nothing at all.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any

from django.db import close_old_connections, connection, transaction

from casegate.spool.messages import AcceptedMessage, enqueue

log = logging.getLogger("casegate.gateway")

MAX_BATCH = 256


class StoreClosed(Exception):
    """The store is shutting down and takes no more messages."""


_Item = tuple[AcceptedMessage, asyncio.Future[None], asyncio.AbstractEventLoop]


class DurableStore:
    """The group-commit writer: ``await store.save(message)`` returns once it is durable."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="casegate-store", daemon=True)
        self._closed = False
        self.batches = 0
        self.messages = 0

    def start(self) -> None:
        self._thread.start()

    async def save(self, message: AcceptedMessage) -> None:
        if self._closed:
            raise StoreClosed("the gateway is shutting down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((message, future, loop))
        await future

    def close(self) -> None:
        """Write what is queued, then stop the writer thread."""
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch: list[_Item] = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)
        close_old_connections()
        connection.close()

    def _commit(self, batch: list[_Item]) -> None:
        error: BaseException | None = None
        try:
            with transaction.atomic():
                enqueue([m for m, _, _ in batch])
            self.batches += 1
            self.messages += len(batch)
        except BaseException as exc:  # reported to the waiting session as a 451
            connection.close()
            if len(batch) > 1:  # one bad message must not cost the others their turn
                for item in batch:
                    self._commit([item])
                return
            log.exception("queue=%s storing the message failed", batch[0][0].queue_id)
            error = exc
        for _, future, loop in batch:
            loop.call_soon_threadsafe(_settle, future, error)


def _settle(future: asyncio.Future[Any], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
