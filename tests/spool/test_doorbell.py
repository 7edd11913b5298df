"""A ring wakes the worker's loops; ringing with nobody listening is harmless."""

from __future__ import annotations

import threading
from pathlib import Path

from casegate.spool.doorbell import Doorbell, Ringer


def test_a_ring_sets_every_listener(tmp_path: Path) -> None:
    bell = Doorbell(tmp_path / "worker.bell")
    local, remote = threading.Event(), threading.Event()
    bell.events += [local, remote]
    bell.start()
    try:
        Ringer(tmp_path / "worker.bell").ring()
        assert local.wait(5) and remote.wait(5)
    finally:
        bell.close()
    assert not (tmp_path / "worker.bell").exists()


def test_ringing_an_absent_worker_does_nothing(tmp_path: Path) -> None:
    Ringer(tmp_path / "nobody.bell").ring()


def test_on_postgresql_a_notification_wakes_the_listeners() -> None:
    import psycopg
    import pytest

    from casegate.spool.doorbell import CHANNEL, QueueListener
    from tests.support import PG_DSN, postgres_unavailable

    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    listener = QueueListener(lambda: psycopg.connect(PG_DSN, autocommit=True))
    woken = threading.Event()
    listener.events.append(woken)
    listener.start()
    try:
        with psycopg.connect(PG_DSN, autocommit=True) as other:
            for _ in range(50):  # until the listener's LISTEN is in place
                other.execute(f"NOTIFY {CHANNEL}")
                if woken.wait(0.1):
                    break
        assert woken.is_set()
    finally:
        listener.close()
