"""Arrivals and batches as filing starts them, for the tests of its steps."""

from __future__ import annotations

from django.utils import timezone

from casegate.desk.arrivals import DeskArrival
from casegate.desk.filing.batch import Batch
from casegate.desk.filing.prefetch import prefetch
from casegate.desk.models import Intake
from casegate.desk.parsing import parse_message
from casegate.routing.snapshot import load_table

HOSTNAME = "mx.desk.example"


def arrival(intake: Intake | None, raw: bytes, to: str = "help@desk.example",
            peer: str = "") -> DeskArrival:
    return DeskArrival(intake, "Q1", to, timezone.now(), parse_message(raw), raw,
                       "customer@example.net", peer)


def batch_of(*arrivals: DeskArrival) -> Batch:
    """A batch as filing starts it: read, with nothing decided yet."""
    return Batch.start(list(arrivals), prefetch(list(arrivals)), load_table(), HOSTNAME)
