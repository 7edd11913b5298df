"""The duplicate check: a message stored before is stored once."""

from __future__ import annotations

import pytest

from casegate.desk.filing import file_batch
from casegate.desk.filing.repeats import skip_repeats
from casegate.desk.models import Intake
from casegate.routing.snapshot import load_table
from tests.desk.filing.batches import HOSTNAME, arrival, batch_of
from tests.mails import mail

pytestmark = pytest.mark.django_db


def test_a_message_stored_before_is_a_duplicate(intake: Intake) -> None:
    raw = mail(subject="Panel dark", message_id="<once@example.net>")[0]
    file_batch([arrival(intake, raw)], load_table(), HOSTNAME)
    batch = batch_of(arrival(intake, raw))
    skip_repeats(batch, batch.filed[0])
    assert batch.filed[0].duplicate


def test_the_second_copy_in_one_batch_is_a_duplicate(intake: Intake) -> None:
    raw = mail(message_id="<twice@example.net>")[0]
    batch = batch_of(arrival(intake, raw), arrival(intake, raw))
    for item in batch.filed:
        skip_repeats(batch, item)
    assert [item.duplicate for item in batch.filed] == [False, True]


def test_a_reused_message_id_on_other_mail_or_none_at_all_is_no_duplicate(
        intake: Intake) -> None:
    batch = batch_of(arrival(intake, mail(subject="One", message_id="<same@example.net>")[0]),
                     arrival(intake, mail(subject="Two", message_id="<same@example.net>")[0]),
                     arrival(intake, b"Subject: no id\r\n\r\nhi\r\n"),
                     arrival(intake, b"Subject: no id\r\n\r\nhi\r\n"))
    for item in batch.filed:
        skip_repeats(batch, item)
    assert not any(item.duplicate for item in batch.filed)
