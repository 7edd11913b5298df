"""The desk's work that time, not mail, sets off: each job is a function and how often the
worker runs it, in the order of :data:`JOBS`.

The delivery worker runs every job at its start and then whenever its interval has passed,
one after another in one thread (:class:`casegate.delivery.worker.DeliveryWorker`). A job
must be safe to run by several workers at once (PostgreSQL may have many): it claims what it
acts on in the database, or acting twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from casegate.desk.sla.alarms import tell_alarms
from casegate.desk.suspension import remove_expired


@dataclass(frozen=True)
class Job:
    name: str
    every: float  # seconds between the starts of two runs
    run: Callable[[], object]


JOBS: tuple[Job, ...] = (
    Job("suspended-expiry", 3600.0, remove_expired),
    Job("sla-alarms", 30.0, tell_alarms),
)
