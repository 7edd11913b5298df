"""``casegate view``: saved case lists from the command line."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from casegate.desk.models import Case, Intake
from casegate.desk.services import add_agent, add_intake
from tests.cli.test_automation import run

pytestmark = pytest.mark.django_db


def test_add_list_and_remove_shared_and_personal_views(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    ann = add_agent("ann@agents.example", "Ann Agent", "ann").user
    now = timezone.now()
    for status in ("open", "pending", "solved"):
        Case.objects.create(intake=intake, subject=status, status=status, created_at=now,
                            received_at=now, assignee=ann if status == "pending" else None)
    out = run(capsys, "view", "add", "Open", "--queue", "open", "--sort=-priority")[1]
    assert out.startswith("added view #") and out.endswith(" 'Open' (shared)\n")
    assert run(capsys, "view", "add", "Mine", "--owner", "ann", "--queue", "mine")[0] == 0
    code, _, err = run(capsys, "view", "add", "Bad", "--query", "after:soon")
    assert code == 1 and "YYYY-MM-DD" in err
    views = json.loads(run(capsys, "view", "list", "--json")[1])
    assert [(v["name"], v["owner"], v["count"]) for v in views] == [
        ("Mine", "ann", 0), ("Open", None, 2)]  # no one is "mine" without --as
    as_ann = json.loads(run(capsys, "view", "list", "--as", "ann", "--json")[1])
    assert [(v["name"], v["count"]) for v in as_ann] == [("Mine", 1), ("Open", 2)]
    assert run(capsys, "view", "remove", "Mine", "--owner", "ann")[1] == \
        "removed the view 'Mine'\n"
    assert run(capsys, "view", "remove", "Mine")[0] == 1
