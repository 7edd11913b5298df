"""A ring wakes the worker's loops of the lanes it names; ringing with nobody listening is
harmless."""

from __future__ import annotations

import threading
from pathlib import Path

from casegate.spool.doorbell import Doorbell, Ringer
from casegate.spool.vocabulary import Lane


def _listening(bell: Doorbell) -> tuple[threading.Event, threading.Event]:
    local, remote = threading.Event(), threading.Event()
    bell.listen(Lane.LOCAL, local)
    bell.listen(Lane.REMOTE, remote)
    bell.start()
    return local, remote


def test_a_ring_wakes_the_loops_of_the_lanes_it_names(tmp_path: Path) -> None:
    bell = Doorbell(tmp_path / "worker.bell")
    local, remote = _listening(bell)
    ringer = Ringer(tmp_path / "worker.bell")
    try:
        ringer.ring([Lane.REMOTE])
        assert remote.wait(5)
        assert not local.is_set()
        remote.clear()
        ringer.ring([Lane.LOCAL, Lane.REMOTE])
        assert local.wait(5) and remote.wait(5)
    finally:
        bell.close()
    assert not (tmp_path / "worker.bell").exists()


def test_a_ring_that_names_no_lane_wakes_every_loop(tmp_path: Path) -> None:
    bell = Doorbell(tmp_path / "worker.bell")
    local, remote = _listening(bell)
    try:
        Ringer(tmp_path / "worker.bell").ring([])
        assert local.wait(5) and remote.wait(5)
    finally:
        bell.close()


def test_ringing_an_absent_worker_does_nothing(tmp_path: Path) -> None:
    Ringer(tmp_path / "nobody.bell").ring([Lane.LOCAL])


def test_on_postgresql_a_notification_wakes_the_loops_of_its_lanes() -> None:
    import psycopg
    import pytest

    from casegate.spool.doorbell import CHANNEL, QueueListener
    from tests.support import PG_DSN, postgres_unavailable

    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    listener = QueueListener(lambda: psycopg.connect(PG_DSN, autocommit=True))
    local, remote = threading.Event(), threading.Event()
    listener.listen(Lane.LOCAL, local)
    listener.listen(Lane.REMOTE, remote)
    listener.start()
    try:
        with psycopg.connect(PG_DSN, autocommit=True) as other:
            for _ in range(50):  # until the listener's LISTEN is in place
                other.execute(f"NOTIFY {CHANNEL}, 'local'")
                if local.wait(0.1):
                    break
            assert local.is_set() and not remote.is_set()
            other.execute(f"NOTIFY {CHANNEL}")
            assert remote.wait(5)
    finally:
        listener.close()
