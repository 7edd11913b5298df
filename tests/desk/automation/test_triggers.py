"""The triggers as data: checks, order, versions and rollback, the YAML file."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casegate.desk.automation.rules import TriggerError, check_trigger
from casegate.desk.automation.triggers import (
    TriggerSetError,
    add_trigger,
    export_triggers,
    history,
    import_triggers,
    move_trigger,
    remove_trigger,
    rollback,
    set_enabled,
)
from casegate.desk.models import Trigger

pytestmark = pytest.mark.django_db


def simple(name: str, team: str = "Billing") -> dict[str, object]:
    return {"name": name, "events": ["case_created"], "actions": [{"team": team}]}


@pytest.mark.parametrize(("trigger", "problem"), [
    ({"name": "x", "events": ["ticket_created"], "actions": [{"team": "a"}]}, "an event is one"),
    ({"name": "x", "events": ["case_created"], "actions": []}, "at least one action"),
    ({"name": "x", "events": ["case_created"], "actions": [{"status": "gone"}]},
     "a status is one of"),
    ({"name": "x", "events": ["case_created"], "actions": [{"reply": "Hi {{user.name}}"}]},
     "unknown placeholder {{user.name}}"),
    ({"name": "x", "events": ["case_created"], "actions": [{"team": "a", "status": "open"}]},
     "an action has one of"),
    ({"name": "x", "events": ["case_created"], "actions": [{"reply": ["a", "b"]}]},
     "reply takes a text"),
    ({"name": "x", "events": ["case_created"], "actions": [{"team": "a"}],
      "conditions": {"all": [{"field": "subject", "contains": ["a", "b"]}]}},
     "subject contains takes a text"),
    ({"name": "x", "events": ["case_created"], "actions": [{"team": "a"}],
      "conditions": {"all": [{"field": "subject", "matches": "(a)\\1"}]}}, "RE2"),
    ({"name": "x", "events": ["case_created"], "actions": [{"team": "a"}],
      "conditions": {"all": [{"field": "tags", "contains": "a"}]}},
     "takes one of includes, excludes"),
    ({"name": "x", "events": ["case_created"], "actions": [{"team": "a"}],
      "conditions": {"none": []}}, "all and any"),
])
def test_a_trigger_that_cannot_work_is_refused_with_the_reason(trigger: dict[str, object],
                                                                problem: str) -> None:
    with pytest.raises(TriggerError, match=problem.replace("{", r"\{").replace("(", r"\(")):
        check_trigger(trigger)


def test_triggers_keep_their_order_and_every_change_is_a_version() -> None:
    add_trigger(simple("one"))
    add_trigger(simple("two"))
    add_trigger(simple("zero"), position=1)
    move_trigger("two", 1)
    set_enabled("one", False)
    assert list(Trigger.objects.values_list("name", "position", "enabled")) == [
        ("two", 1, True), ("zero", 2, True), ("one", 3, False)]
    remove_trigger("zero")
    assert [v.summary for v in history()] == ["remove zero", "disable one", "move two to 1",
                                             "add zero", "add two", "add one"]
    with pytest.raises(TriggerError, match="already"):
        add_trigger(simple("one"))


def test_rollback_restores_the_set_of_a_version_as_a_new_version() -> None:
    add_trigger(simple("one"))
    first = history()[0].number
    add_trigger(simple("two"))
    set_enabled("one", False)
    version = rollback(first)
    assert version is not None and version.summary == f"rollback to version {first}"
    assert list(Trigger.objects.values_list("name", "enabled")) == [("one", True)]
    rollback(0)
    assert not Trigger.objects.exists()


BAD = """\
triggers:
  - name: Refunds
    events: [case_created]
    actions:
      - team: Billing
  - name: Broken
    events: [case_created]
    conditions:
      all:
        - field: subject
          contains: refund
        - field: colour
          is: blue
    actions:
      - team: Billing
"""


def test_an_import_with_one_bad_trigger_changes_nothing_and_names_its_line() -> None:
    add_trigger(simple("kept"))
    before = export_triggers()
    with pytest.raises(TriggerSetError) as refused:
        import_triggers(BAD, "t.yaml")
    assert "t.yaml:12: a condition's field is one of" in str(refused.value)
    assert "nothing was changed" in str(refused.value)
    assert export_triggers() == before


def test_an_import_makes_the_set_the_files_and_the_export_reads_back_the_same() -> None:
    add_trigger(simple("kept", "Old"))
    add_trigger(simple("gone"))
    good = BAD.replace("colour", "team").replace("blue", "Billing")
    dry = import_triggers(good, "t.yaml", dry_run=True)
    assert "-- name: gone" in dry.diff and "+- name: Broken" in dry.diff
    assert dry.version is None and Trigger.objects.count() == 2
    done = import_triggers(good, "t.yaml")
    assert done.version is not None
    assert list(Trigger.objects.values_list("name", flat=True)) == ["Refunds", "Broken"]
    exported = export_triggers()
    assert import_triggers(exported, "again.yaml").diff == ""
    rollback(done.version - 1)
    assert list(Trigger.objects.values_list("name", flat=True)) == ["kept", "gone"]


def test_the_readmes_example_imports() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    example = readme.split("# casegate trigger export > triggers.yaml", 1)[1]
    example = example.split("\n", 1)[1].split("```")[0]
    result = import_triggers(example, "README.md")
    assert result.version is not None and result.rules == 3


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8)
                     | st.sampled_from(["case_created", "subject", "is", "contains", "team",
                                        "add_tags", "notify", "field", "all", "any"]),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(
                         ["name", "events", "conditions", "actions", "all", "any", "field",
                          "is", "contains", "matches", "team", "add_tags", "reply", "notify",
                          "text", "status"]), inner, max_size=4), max_leaves=12)


@given(_JSON | st.fixed_dictionaries({
    "name": st.just("x"), "events": st.just(["case_created"]),
    "conditions": st.dictionaries(st.sampled_from(["all", "any"]), st.lists(_JSON, max_size=2)),
    "actions": st.lists(_JSON, min_size=1, max_size=2)}))
@settings(max_examples=400, deadline=None)
def test_whatever_is_written_is_checked_or_refused_with_a_reason(data: object) -> None:
    with contextlib.suppress(TriggerError):
        check_trigger(data)
