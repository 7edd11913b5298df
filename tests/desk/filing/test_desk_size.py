"""Filing a batch costs the same on a desk that has filed many cases as on a new one: each of
its reads narrows by the batch's own senders and Message-IDs, never by a whole intake."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.utils import timezone

from casegate.desk.automation.triggers import add_trigger
from casegate.desk.filing import file_batch
from casegate.desk.models import Case, DeskMessage, Intake, Lead
from casegate.desk.services import add_intake
from casegate.desk.sla.policies import add_policy, intake_policy
from casegate.routing.snapshot import load_table
from tests.desk.filing.batches import HOSTNAME, arrival
from tests.mails import mail
from tests.support import gather_statistics

pytestmark = pytest.mark.django_db


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
        kind: str, database_work: Callable[[], int]) -> None:
    intake = add_intake(kind, "help@desk.example", acknowledge=True)
    add_policy(intake_policy(intake.address, 4))
    add_trigger({"name": "Panels", "events": ["case_created"], "actions": [{"team": "field"}],
                 "conditions": {"all": [{"field": "subject", "contains": "Panel"}]}})
    earlier_conversations(intake, 50, 0)
    gather_statistics()
    work_to_file_a_batch(intake, database_work, "warm")  # the first batch reads the settings
    small = work_to_file_a_batch(intake, database_work, "small")
    earlier_conversations(intake, 5000, 50)
    gather_statistics()
    large = work_to_file_a_batch(intake, database_work, "large")
    assert large < small * 1.5, (small, large)
