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

from casegate.desk.automation.scheduled import run_automations
from casegate.desk.sla.alarms import tell_alarms
from casegate.desk.suspension import remove_expired
from casegate.desk.webhooks.sending import send_webhooks


@dataclass(frozen=True)
class Job:
    name: str
    every: float  # seconds between the starts of two runs
    run: Callable[[], object]


JOBS: tuple[Job, ...] = (
    Job("suspended-expiry", 3600.0, remove_expired),
    Job("sla-alarms", 30.0, tell_alarms),
    Job("automations", 300.0, run_automations),
    # starts a round of sending in a thread of its own, so it returns at once
    Job("webhooks", 1.0, send_webhooks),
)
