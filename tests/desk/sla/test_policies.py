"""The SLA calendars and policies as data: the README's example, an export that imports
again to nothing, and a rollback."""

from __future__ import annotations

from pathlib import Path

import pytest
from auditlog.models import LogEntry

from casegate.desk.models import SlaCalendar, SlaPolicy
from casegate.desk.sla.policies import (
    add_policy,
    export_sla,
    history,
    import_sla,
    move_policy,
    rollback,
)
from casegate.desk.sla.rules import SlaError

pytestmark = pytest.mark.django_db


def test_the_readmes_example_imports_and_exports_to_itself() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    example = readme.split("# casegate sla export > sla.yaml", 1)[1]
    example = example.split("\n", 1)[1].split("```")[0]
    result = import_sla(example, "README.md")
    assert result.version is not None and (result.calendars, result.policies) == (1, 2)
    urgent = SlaPolicy.objects.get(name="Urgent")
    assert urgent.conditions == {"priority": ["high", "urgent"], "company": ["acme.example"]}
    assert (urgent.first_response_minutes, urgent.next_response_minutes,
            urgent.resolution_minutes, urgent.warning) == (60, 120, 480, "15m")
    assert import_sla(export_sla(), "again.yaml").diff == ""


def test_rollback_and_moves_are_versions(db: None) -> None:
    add_policy({"name": "A", "first_response": "1h"})
    add_policy({"name": "B", "resolution": "2h", "warning": "50%"})
    assert move_policy("B", 1).position == 1
    assert LogEntry.objects.get_for_model(SlaPolicy).count() >= 2  # in the audit log
    assert list(SlaPolicy.objects.values_list("name", flat=True)) == ["B", "A"]
    rollback(0)
    assert not SlaPolicy.objects.exists() and not SlaCalendar.objects.exists()
    rollback(next(v.number for v in history() if v.summary == "add policy B"))
    assert list(SlaPolicy.objects.values_list("name", "warning")) == [("A", "80%"),
                                                                       ("B", "50%")]
    with pytest.raises(SlaError, match="there is an SLA policy named 'A' already"):
        add_policy({"name": "A", "first_response": "1h"})
    with pytest.raises(SlaError, match="needs a target"):
        add_policy({"name": "C"})
    with pytest.raises(SlaError, match="no calendar 'Nowhere'"):
        add_policy({"name": "C", "first_response": "1h", "calendar": "Nowhere"})
