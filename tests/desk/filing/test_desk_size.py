"""Filing a batch costs the same on a desk that has filed many cases as on a new one: each of
its reads narrows by the batch's own senders and Message-IDs, never by a whole intake."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.db import connection
from django.utils import timezone

from casegate.desk.automation.triggers import add_trigger
from casegate.desk.filing import file_batch
from casegate.desk.models import Case, DeskMessage, Intake, Lead
from casegate.desk.services import add_intake
from casegate.desk.sla.policies import add_policy, intake_policy
from casegate.routing.snapshot import load_table
from tests.desk.filing.batches import HOSTNAME, arrival
from tests.mails import mail

pytestmark = pytest.mark.django_db

# SQLite calls the progress handler once every this many steps of its virtual machine.
STEPS_PER_CALL = 100


@pytest.fixture
def work() -> Iterator[Callable[[], int]]:
    """The database's work so far: on SQLite the steps of its virtual machine, in
    hundreds; on PostgreSQL the rows its scans read in this transaction."""
    if connection.vendor == "postgresql":
        yield _rows_read
        return
    connection.ensure_connection()
    calls = [0]

    def count() -> int:
        calls[0] += 1
        return 0

    connection.connection.set_progress_handler(count, STEPS_PER_CALL)
    yield lambda: calls[0]
    connection.connection.set_progress_handler(None, STEPS_PER_CALL)


def _rows_read() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0)"
                       " FROM pg_stat_xact_user_tables")
        return int(cursor.fetchone()[0])


def statistics_gathered() -> None:
    """PostgreSQL plans from statistics (SQLite, without them, from its indexes alone)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def work_to_file_a_batch(intake: Intake, work: Callable[[], int], label: str) -> int:
    """Four new conversations and a reply to an earlier one's message."""
    arrivals = [arrival(intake, mail(subject=f"Panel {n}", sender=f"{label}{n}@acme.example")[0])
                for n in range(4)]
    arrivals.append(arrival(intake, mail(subject="Re: earlier", sender="earlier7@other.example",
                                         headers={"In-Reply-To": "<earlier7@other.example>"})[0]))
    before = work()
    file_batch(arrivals, load_table(), HOSTNAME)
    return work() - before


def earlier_conversations(intake: Intake, count: int, start: int) -> None:
    """``count`` cases or leads this intake opened in the last hour, from other senders,
    each with its message."""
    now = timezone.now()
    model = Case if intake.kind == Intake.CASE else Lead
    opened = model.objects.bulk_create([
        model(intake=intake, subject="earlier", requester=f"earlier{n}@other.example",
              created_at=now, received_at=now) for n in range(start, start + count)])
    DeskMessage.objects.bulk_create([
        DeskMessage(**{intake.kind: conversation}, message_id=f"<{conversation.requester}>",
                    sender=conversation.requester, subject="earlier", created_at=now)
        for conversation in opened])


@pytest.mark.parametrize("kind", [Intake.CASE, Intake.LEAD])
def test_filing_does_not_read_every_conversation_of_the_intake(
        kind: str, work: Callable[[], int]) -> None:
    intake = add_intake(kind, "help@desk.example", acknowledge=True)
    add_policy(intake_policy(intake.address, 4))
    add_trigger({"name": "Panels", "events": ["case_created"], "actions": [{"team": "field"}],
                 "conditions": {"all": [{"field": "subject", "contains": "Panel"}]}})
    earlier_conversations(intake, 50, 0)
    statistics_gathered()
    work_to_file_a_batch(intake, work, "warm")  # the first batch reads the settings
    small = work_to_file_a_batch(intake, work, "small")
    earlier_conversations(intake, 5000, 50)
    statistics_gathered()
    large = work_to_file_a_batch(intake, work, "large")
    assert large < small * 1.5, (small, large)
