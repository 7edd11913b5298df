"""The reports' figures against a small dataset made by hand, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model

from casegate.desk.models import Case, CaseEvent, Intake, Survey
from casegate.desk.reports import EVERYONE, NO_TEAM, NOBODY, Period, report
from casegate.desk.services import add_intake
from casegate.desk.vocabulary import CaseChannel, CaseStatus

pytestmark = pytest.mark.django_db
DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MARCH = Period(date(2026, 3, 1), date(2026, 3, 5), UTC)


def make_case(intake: Intake, created: datetime, *, team: str = "", assignee: object = None,
              answered_after: timedelta | None = None, solved_after: timedelta | None = None,
              channel: str = CaseChannel.MAIL, status: str = "") -> Case:
    done = solved_after is not None
    case = Case.objects.create(
        intake=intake, subject="s", created_at=created, received_at=created, team=team,
        assignee=assignee, channel=channel,
        status=status or (CaseStatus.SOLVED if done else CaseStatus.OPEN),
        status_changed_at=created + solved_after if solved_after is not None else None,
        first_responded_at=created + answered_after if answered_after is not None else None)
    if done:
        assert solved_after is not None
        CaseEvent.objects.create(case=case, field="status", before="open", after="solved",
                                 at=created + solved_after)
    return case


@pytest.fixture
def dataset() -> dict[str, object]:
    """Ten cases of team red answered after 1 to 10 hours, solved after 2 to 20 hours
    (median 5.5 h and 11 h, 90th percentile 9.1 h and 18.2 h), assigned to ann; two of
    team blue, one answered after 30 minutes and solved, reopened and solved again; one
    new case without team from the API, one merged away, one before the range."""
    help_desk = add_intake(Intake.CASE, "help@desk.example", name="Help")
    sales = add_intake(Intake.CASE, "orders@desk.example", name="Orders")
    ann = get_user_model().objects.create(username="ann")
    for hours in range(1, 11):
        make_case(help_desk, DAY + timedelta(minutes=hours), team="red", assignee=ann,
                  answered_after=timedelta(hours=hours),
                  solved_after=timedelta(hours=2 * hours))
    blue = make_case(sales, DAY, team="blue", answered_after=timedelta(minutes=30),
                     solved_after=timedelta(hours=1))
    CaseEvent.objects.create(case=blue, field="status", before="solved", after="open",
                             at=DAY + timedelta(hours=2))
    CaseEvent.objects.create(case=blue, field="status", before="open", after="closed",
                             at=DAY + timedelta(days=1))
    blue.status, blue.status_changed_at = CaseStatus.CLOSED, DAY + timedelta(days=1)
    blue.save()
    make_case(sales, DAY + timedelta(days=2), team="blue")
    make_case(help_desk, DAY + timedelta(days=1), channel=CaseChannel.API,
              status=CaseStatus.NEW)
    survivor = Case.objects.filter(team="blue").first()
    merged = make_case(help_desk, DAY, team="red", solved_after=timedelta(hours=1))
    merged.merged_into = survivor
    merged.save()
    make_case(help_desk, DAY - timedelta(days=10), team="red")  # open before the range
    return {"ann": ann}


def test_volume_by_intake_and_channel(dataset: dict[str, object]) -> None:
    assert report(MARCH).volume.rows == [["Help", "API", 1], ["Help", "mail", 10],
                                         ["Orders", "mail", 2]]


def test_first_response_and_resolution_median_and_90th_percentile_per_team(
        dataset: dict[str, object]) -> None:
    teams = {row[0]: row[1:] for row in report(MARCH).teams.rows}
    hour = 3600.0
    assert teams["red"] == pytest.approx([10, 10, 5.5 * hour, 9.1 * hour, 10, 11 * hour,
                                          18.2 * hour])
    # blue: one answered (30 min), its resolution from creation to the last close (1 day)
    assert teams["blue"] == [2, 1, 1800.0, 1800.0, 1, 86400.0, 86400.0]
    assert teams[NO_TEAM] == [1, 0, None, None, 0, None, None]
    assert teams[EVERYONE][:3] == [13, 11, 5 * hour]  # 0.5 h and 1 to 10 h


def test_per_agent(dataset: dict[str, object]) -> None:
    agents = {row[0]: row[1:] for row in report(MARCH).agents.rows}
    assert agents["ann"][:4] == pytest.approx([10, 10, 5.5 * 3600, 9.1 * 3600])
    assert agents[NOBODY][:2] == [3, 1]


def test_satisfaction_per_team_agent_and_intake_counts_answers_first_given_in_the_range(
        dataset: dict[str, object]) -> None:
    assert report(MARCH).satisfaction is None  # no answers: no section
    red = Case.objects.filter(team="red", merged_into__isnull=True).order_by("pk")
    cases = [*red[:4], Case.objects.get(status=CaseStatus.CLOSED)]
    ratings = [("good", "red", "ann"), ("good", "red", "ann"), ("bad", "red", "ann"),
               ("good", "", ""), ("bad", "blue", "")]
    for n, (case, (rating, team, agent)) in enumerate(zip(cases, ratings, strict=True)):
        Survey.objects.create(case=case, token_sha256=f"{n:064d}", sent_at=DAY, rating=rating,
                              answered_at=DAY + timedelta(hours=n), team=team, agent=agent)
    Survey.objects.create(case=make_case(Intake.objects.get(name="Help"), DAY, team="red"),
                          token_sha256="f" * 64, sent_at=DAY, rating="bad",
                          answered_at=DAY + timedelta(days=30), team="red")  # after the range
    table = report(MARCH).satisfaction
    assert table is not None and table.columns == ["by", "name", "rated", "good", "bad",
                                                   "good_share"]
    assert table.rows == [
        ["team", NO_TEAM, 1, 1, 0, 1.0], ["team", "blue", 1, 0, 1, 0.0],
        ["team", "red", 3, 2, 1, 0.667],
        ["agent", NOBODY, 2, 1, 1, 0.5], ["agent", "ann", 3, 2, 1, 0.667],
        ["intake", "help@desk.example", 4, 3, 1, 0.75],
        ["intake", "orders@desk.example", 1, 0, 1, 0.0]]


def test_backlog_counts_the_open_cases_at_each_days_end(dataset: dict[str, object]) -> None:
    rows = report(MARCH).backlog.rows
    assert [row[0] for row in rows] == [f"2026-03-0{d}" for d in range(1, 6)]
    # day 2: 11 created, red 1 to 7 solved by midnight; day 3: red 8 to 10 and blue (its
    # last close) solved
    opened = {row[0]: row[1:] for row in rows}
    assert opened["2026-03-01"] == [0, 0, 1]
    assert opened["2026-03-02"] == [11, 7, 1 + 11 - 7]
    assert opened["2026-03-03"] == [1, 4, 5 + 1 - 4]
    assert opened["2026-03-04"] == [1, 0, 3]
    assert opened["2026-03-05"] == [0, 0, 3]


def test_a_day_in_another_time_zone_moves_the_cases_across_midnight(
        dataset: dict[str, object]) -> None:
    from zoneinfo import ZoneInfo

    tokyo = Period(date(2026, 3, 2), date(2026, 3, 2), ZoneInfo("Asia/Tokyo"))
    # 09:00 UTC is 18:00 in Tokyo: the red cases are created that day, two solved by midnight
    assert report(tokyo).backlog.rows[0][1:3] == [11, 2]


def test_a_range_is_one_to_366_days() -> None:
    with pytest.raises(ValueError, match="1 to 366 days"):
        report(Period(date(2026, 3, 5), date(2026, 3, 1), UTC))


def test_days_follow_the_zones_daylight_saving_change() -> None:
    from zoneinfo import ZoneInfo

    intake = add_intake(Intake.CASE, "help@desk.example")
    # Paris moves from UTC+1 to UTC+2 at 01:00 UTC on 29 March 2026
    for utc in (datetime(2026, 3, 28, 23, 30), datetime(2026, 3, 29, 21, 30),
                datetime(2026, 3, 29, 22, 30)):
        make_case(intake, utc.replace(tzinfo=UTC))
    paris = Period(date(2026, 3, 28), date(2026, 3, 31), ZoneInfo("Europe/Paris"))
    assert [row[1] for row in report(paris).backlog.rows] == [0, 2, 1, 0]


def test_a_case_solved_at_the_desk_counts_as_solved_from_that_moment() -> None:
    from casegate.desk.services import update_case

    intake = add_intake(Intake.CASE, "help@desk.example")
    created = datetime.now(UTC) - timedelta(hours=3)
    case = make_case(intake, created, team="red")
    update_case(case.pk, "ann", status=CaseStatus.SOLVED)
    today = created.date()
    period = Period(today, datetime.now(UTC).date(), UTC)
    red = next(row for row in report(period).teams.rows if row[0] == "red")
    assert red[5] == 1 and red[6] == pytest.approx(3 * 3600, abs=60)
    assert sum(row[2] for row in report(period).backlog.rows) == 1
