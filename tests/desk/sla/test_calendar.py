"""Business-time arithmetic: adding business time to an instant and counting it between two,
in a calendar's time zone, across changes of summer time and over holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casegate.desk.sla.calendar import Calendar, add_business_time, business_time_between
from casegate.desk.sla.rules import SlaError, check_calendar, compile_calendar

PARIS = ZoneInfo("Europe/Paris")
NINE_TO_FIVE = ((9 * 60, 17 * 60),)
OFFICE = Calendar("Europe/Paris", (*[NINE_TO_FIVE] * 5, (), ()),
                  frozenset({date(2026, 4, 6), date(2026, 12, 25)}))
LUNCH = Calendar("America/New_York", (*[((8 * 60, 12 * 60), (13 * 60, 17 * 60 + 30))] * 5,
                                      ((10 * 60, 14 * 60),), ()))
NIGHTS = Calendar("Europe/Paris", tuple(((0, 2 * 60), (22 * 60, 24 * 60)) for _ in range(7)))
SUNDAYS = Calendar("Europe/Paris", ((), (), (), (), (), (), ((0, 24 * 60),)))


def paris(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=PARIS)  # type: ignore[misc]


@pytest.mark.parametrize(("opened", "due"), [
    (paris(2026, 1, 9, 16, 30), paris(2026, 1, 12, 10, 30)),    # a Friday: due Monday
    (paris(2026, 3, 27, 16, 30), paris(2026, 3, 30, 10, 30)),   # summer time begins Sunday
    (paris(2026, 10, 23, 16, 30), paris(2026, 10, 26, 10, 30)),  # and ends on the Sunday
    (paris(2026, 4, 3, 16, 30), paris(2026, 4, 7, 10, 30)),     # Easter Monday is a holiday
    (paris(2026, 1, 10, 12, 0), paris(2026, 1, 12, 11, 0)),     # a Saturday: from Monday 9:00
    (paris(2026, 1, 12, 7, 0), paris(2026, 1, 12, 11, 0)),      # before hours
    (paris(2026, 1, 12, 15, 0), paris(2026, 1, 12, 17, 0)),     # the end of the day, not after
])
def test_two_business_hours_from_an_instant(opened: datetime, due: datetime) -> None:
    assert add_business_time(OFFICE, opened, timedelta(hours=2)) == due
    assert business_time_between(OFFICE, opened, due) == timedelta(hours=2)


def test_the_due_time_across_summer_time_is_the_same_local_time_a_different_utc_one() -> None:
    due = add_business_time(OFFICE, paris(2026, 3, 27, 16, 30), timedelta(hours=2))
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 8, 30, tzinfo=UTC)
    assert add_business_time(None, paris(2026, 3, 28, 12), timedelta(days=1)).astimezone(
        PARIS) == paris(2026, 3, 29, 13)  # around the clock: 24 real hours


def test_a_day_of_summer_time_change_has_23_or_25_business_hours() -> None:
    assert business_time_between(SUNDAYS, paris(2026, 3, 29), paris(2026, 3, 30)) \
        == timedelta(hours=23)
    assert business_time_between(SUNDAYS, paris(2026, 10, 25), paris(2026, 10, 26)) \
        == timedelta(hours=25)


def test_several_ranges_a_day_and_hours_that_reach_midnight() -> None:
    new_york = ZoneInfo("America/New_York")
    friday_11 = datetime(2026, 1, 9, 11, tzinfo=new_york)
    assert add_business_time(LUNCH, friday_11, timedelta(hours=2)) == datetime(
        2026, 1, 9, 14, tzinfo=new_york)  # lunch from 12 to 13 does not count
    assert add_business_time(LUNCH, friday_11, timedelta(hours=7)) == datetime(
        2026, 1, 10, 11, 30, tzinfo=new_york)  # 5.5 hours on Friday, Saturday from 10:00
    assert add_business_time(NIGHTS, paris(2026, 1, 9, 23), timedelta(hours=2)) == paris(
        2026, 1, 10, 1)  # 22:00-24:00 then 00:00-02:00 run on


def test_backward_for_a_warning_before_the_due_time() -> None:
    assert add_business_time(OFFICE, paris(2026, 1, 12, 9, 10), -timedelta(minutes=30)) == \
        paris(2026, 1, 9, 16, 40)


def test_nothing_counts_before_the_start_or_without_time() -> None:
    assert business_time_between(OFFICE, paris(2026, 1, 12, 12), paris(2026, 1, 12, 11)) \
        == timedelta(0)
    saturday = paris(2026, 1, 10, 12)
    assert add_business_time(OFFICE, saturday, timedelta(0)) == saturday


instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31),
                        timezones=st.just(UTC))
amounts = st.integers(min_value=1, max_value=60 * 24 * 20).map(lambda m: timedelta(minutes=m))
calendars = st.sampled_from([OFFICE, LUNCH, NIGHTS, SUNDAYS, None])


@settings(max_examples=300, deadline=None)
@given(calendars, instants, amounts, amounts)
def test_business_time_adds_up(calendar: Calendar | None, start: datetime, first: timedelta,
                               second: timedelta) -> None:
    due = add_business_time(calendar, start, first)
    assert due >= start
    assert business_time_between(calendar, start, due) == first
    assert add_business_time(calendar, due, second) == add_business_time(calendar, start,
                                                                          first + second)
    # the first such instant: a minute earlier is short of it
    assert business_time_between(calendar, start, due - timedelta(minutes=1)) < first
    back = add_business_time(calendar, due, -first)
    assert business_time_between(calendar, back, due) == first and back >= start


@settings(max_examples=200, deadline=None)
@given(calendars, instants, instants, instants)
def test_counting_splits_at_any_instant(calendar: Calendar | None, a: datetime, b: datetime,
                                        c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert business_time_between(calendar, a, c) == (
        business_time_between(calendar, a, b) + business_time_between(calendar, b, c))


def test_a_calendar_as_written_is_checked() -> None:
    spec = check_calendar({"name": "Paris", "timezone": "Europe/Paris",
                           "hours": {"mon": "09:00-17:00", "tue": ["13:00-17:00", "9:00-12:00"]},
                           "holidays": [date(2026, 12, 25), "2026-01-01"]})
    assert spec.hours == {"mon": ["09:00-17:00"], "tue": ["09:00-12:00", "13:00-17:00"]}
    assert spec.holidays == ["2026-01-01", "2026-12-25"]
    calendar = compile_calendar(spec.timezone, spec.hours, spec.holidays)
    assert calendar.hours[1] == ((540, 720), (780, 1020)) and not calendar.hours[2]
    for hours, problem in [({"mon": "17:00-09:00"}, "the end after the start"),
                           ({"mon": ["09:00-12:00", "11:00-13:00"]}, "overlap"),
                           ({"monday": "09:00-17:00"}, "weekdays"),
                           ({"sat": []}, "at least one weekday"),
                           ({"mon": "9-5"}, "ranges like")]:
        with pytest.raises(SlaError, match=problem):
            check_calendar({"name": "x", "timezone": "Europe/Paris", "hours": hours})
    with pytest.raises(SlaError, match="IANA"):
        check_calendar({"name": "x", "timezone": "Mars/Olympus", "hours": {"mon": "9:00-10:00"}})
