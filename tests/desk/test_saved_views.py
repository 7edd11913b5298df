"""Saved views: the filter they keep, who may share them, and their counts (one COUNT
query each, kept briefly)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from casegate.access import AGENT, SUPER, add_user
from casegate.desk.case_list import CaseFilter, filtered_cases
from casegate.desk.changes import DeskError
from casegate.desk.models import Agent, Case, Intake
from casegate.desk.saved_views import (
    ViewConflict,
    ViewRefused,
    add_view,
    find_view,
    remove_view,
    view_count,
    views_for,
)
from casegate.desk.services import add_intake

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    cache.clear()


def cases(intake: Intake, *specs: dict[str, object]) -> list[Case]:
    now = timezone.now()
    return [Case.objects.create(intake=intake, subject=f"case {n}", created_at=now,
                                received_at=now, **spec) for n, spec in enumerate(specs)]


def test_a_filter_reads_back_what_it_saved_and_refuses_what_it_cannot_apply() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    wanted = CaseFilter(queue="open", intake=intake.pk, team="red", q="refund", sort="-priority")
    assert CaseFilter.from_dict(wanted.as_dict()) == wanted
    assert CaseFilter().as_dict() == {}
    for bad, reason in [({"queue": "nobody"}, "the queue"), ({"colour": "red"}, "no colour"),
                        ({"sort": "password"}, "the sort"), ({"intake": True}, "number"),
                        ({"status": 3}, "texts"), ({"q": "before:"}, "needs a value")]:
        with pytest.raises(DeskError, match=reason):
            CaseFilter.from_dict(bad)
    # the console's query string leaves out what it cannot read, but for the search
    assert CaseFilter.from_form({"sort": "password", "status": "gone", "q": "after:x"}) == \
        CaseFilter(q="after:x")


def test_a_view_applies_its_filters_and_sort_within_what_the_agent_may_see() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    ann = add_user("ann", AGENT, "ann password 1")
    Agent.objects.create(user=ann, teams=["red"])
    low, urgent, other_team, mine = cases(
        intake, {"team": "red", "priority": "low"}, {"team": "red", "priority": "urgent"},
        {"team": "blue"}, {"team": "blue", "assignee": ann, "status": "pending"})
    view = add_view("By urgency", CaseFilter(sort="-priority"), ann, by=ann)
    assert list(filtered_cases(CaseFilter.from_dict(view.filters), ann)) == [urgent, mine, low]
    assert view_count(view, ann) == 3 and view_count(view, None) == 4
    mine_view = add_view("Mine", CaseFilter(queue="mine"), ann, by=ann)
    assert view_count(mine_view, ann) == 1
    assert other_team not in filtered_cases(CaseFilter(), ann)


def test_sharing_needs_the_privilege_and_names_are_unique_per_owner() -> None:
    ann = add_user("ann", AGENT, "ann password 1")
    boss = add_user("boss", SUPER, "boss password 1")
    with pytest.raises(ViewRefused):
        add_view("Everyone", CaseFilter(queue="open"), None, by=ann)
    shared = add_view("Everyone", CaseFilter(queue="open"), None, by=boss)
    add_view("Everyone", CaseFilter(), ann, by=ann)  # her own may have the same name
    with pytest.raises(ViewConflict):
        add_view("Everyone", CaseFilter(), None)  # the operator, on the command line
    assert sorted(v.owner_id or 0 for v in views_for(ann)) == [0, ann.pk]
    assert [v.owner_id for v in views_for(boss)] == [None]
    with pytest.raises(ViewRefused):
        remove_view(shared.pk, by=ann)
    with pytest.raises(DeskError, match="no view"):
        remove_view(views_for(ann).get(owner=ann).pk, by=boss)  # not hers to see
    remove_view(shared.pk, by=boss)


def test_a_view_is_found_by_number_or_by_name_ones_own_before_the_shared_one() -> None:
    ann = add_user("ann", AGENT, "ann password 1")
    shared = add_view("Everyone", CaseFilter(queue="open"), None)
    hers = add_view("Everyone", CaseFilter(), ann, by=ann)
    assert find_view(" Everyone ", ann) == hers
    assert find_view("Everyone", None) == hers  # the operator sees all, the owned first
    assert find_view(str(shared.pk), ann) == find_view(shared.pk, ann) == shared
    with pytest.raises(DeskError, match="there is no view 'Nobody'"):
        find_view(" Nobody", ann)


def test_a_count_is_one_count_query_kept_briefly() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    cases(intake, {"status": "open"}, {"status": "open"}, {"status": "solved"})
    view = add_view("Open", CaseFilter(queue="open", q="-spam"), None)
    with CaptureQueriesContext(connection) as counted:
        assert view_count(view, None) == 2
    # one count, in a savepoint of its own (a view the database cannot read fails alone)
    read = [q["sql"] for q in counted if "SAVEPOINT" not in q["sql"].upper()]
    assert len(read) == 1 and "COUNT(" in read[0].upper()
    cases(intake, {"status": "open"})
    with CaptureQueriesContext(connection) as counted:
        assert view_count(view, None) == 2  # kept
    assert len(counted) == 0
    view.save()  # a changed view is counted again
    assert view_count(view, None) == 3


def test_a_view_the_database_cannot_count_shows_no_count_and_breaks_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import DatabaseError

    from casegate.desk import saved_views

    intake = add_intake(Intake.CASE, "help@desk.example")
    cases(intake, {"status": "open"})
    view = add_view("Open", CaseFilter(queue="open"), None)

    def unreadable(*args: object) -> object:
        raise DatabaseError("at most 64 tables in a join")

    monkeypatch.setattr(saved_views, "filtered_cases", unreadable)
    assert view_count(view, None) is None
    assert Intake.objects.count() == 1  # the transaction goes on


def test_a_view_whose_intake_is_gone_counts_nothing() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    view = add_view("Help", CaseFilter(intake=intake.pk), None)
    intake.delete()
    assert view_count(view, None) is None
