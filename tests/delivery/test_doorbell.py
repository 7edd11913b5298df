"""The gateway's ring wakes the worker's loops; ringing with nobody listening is harmless."""

from __future__ import annotations

import threading
from pathlib import Path

from casegate.delivery.doorbell import Doorbell, Ringer


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
