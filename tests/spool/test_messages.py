"""Whoever queues mail wakes the delivery workers once it is committed."""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from django.db import connection, transaction

from casegate.delivery.models import Delivery
from casegate.routing.engine import Target, TargetKind
from casegate.spool.doorbell import DOORBELL, Doorbell
from casegate.spool.messages import enqueue, generated_message
from casegate.spool.vocabulary import Lane

pytestmark = pytest.mark.django_db


def test_enqueue_rings_the_workers_when_its_transaction_commits(
        tmp_path: Path, setting: Callable[[str, str | None], None],
        django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[object]]) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the doorbell is SQLite's wake-up; on PostgreSQL the queuing transaction's"
                    " NOTIFY wakes the workers, which tests/e2e/test_delivery.py covers")
    setting("CASEGATE_HOME", str(tmp_path))
    bell = Doorbell(tmp_path / DOORBELL)
    woken, local = threading.Event(), threading.Event()
    bell.listen(Lane.REMOTE, woken)
    bell.listen(Lane.LOCAL, local)
    bell.start()
    report = generated_message({"ann@customer.example": [
        Target("ann@customer.example", TargetKind.REMOTE)]}, b"Subject: x\r\n\r\nbody\r\n",
        "mx.solarmora.com")
    try:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            enqueue([report])
            assert not woken.wait(0.2)  # not before the commit
        assert woken.wait(5)
        assert not local.is_set()  # only the loop that sends to remote servers
    finally:
        bell.close()


@pytest.mark.django_db(transaction=True)
def test_a_bell_that_cannot_ring_leaves_the_commit_a_success(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def out_of_descriptors(lanes: object) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr("casegate.spool.messages.ring_workers", out_of_descriptors)
    report = generated_message({"ann@customer.example": [
        Target("ann@customer.example", TargetKind.REMOTE)]}, b"Subject: x\r\n\r\nbody\r\n",
        "mx.solarmora.com")
    with transaction.atomic():
        enqueue([report])
    assert Delivery.objects.filter(recipient="ann@customer.example").exists()


def test_postgresql_commits_wait_for_the_disk_whatever_the_server_s_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's synchronous_commit; SQLite's synchronous=FULL is its pragma")
    monkeypatch.setenv("PGOPTIONS", "-c synchronous_commit=off")  # as a role's default would
    with connection.get_new_connection(connection.get_connection_params()) as fresh:
        assert fresh.execute("SHOW synchronous_commit").fetchone() == ("on",)
