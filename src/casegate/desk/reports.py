"""The desk's reports over a range of days: cases by intake and channel, first-response and
resolution times (median and 90th percentile) per team and per agent, the backlog, and the
satisfaction survey's answers.

As in Zendesk Explore's tickets dataset, the figures are about the cases *created* in the
range (merged-away cases left out); the backlog counts, at the end of each day, the cases
created by then and not solved or closed by then. A case's first response is the agent's
first reply; its resolution the last time it was solved or closed, for the cases solved or
closed now (Zendesk's "full resolution time"); a reopened case is open until solved again.
That time is the case's own ``status_changed_at`` (a case solved or closed now changed
status last to that), so no report reads the cases' history.

Everything is counted by the database (GROUP BY); the times in one pass over the cases of
the range: on PostgreSQL with ``percentile_cont`` and GROUPING SETS (per team, per agent,
for all), on SQLite, which has no percentiles, by reading the durations once, sorting each
group's list and cutting it where ``percentile_cont`` would (interpolating between the two
nearest). The backlog's days are counted by the database in the reader's time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from casegate.desk.models import Case, Intake
from casegate.desk.satisfaction import satisfaction_by
from casegate.desk.vocabulary import DONE_CASE_STATUSES, CaseChannel, ReportDimension

SHARES = (0.5, 0.9)  # median and 90th percentile
MAX_DAYS = 366
NO_TEAM, NOBODY, EVERYONE = "(no team)", "(unassigned)", "all"


@dataclass(frozen=True)
class Period:
    """Whole days, ``first`` to ``last`` included, in ``zone``."""

    first: date
    last: date
    zone: tzinfo

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time.min, self.zone)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time.min, self.zone)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


@dataclass
class Table:
    """One table of a report: its name (the CSV file's), columns and rows."""

    name: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)


@dataclass
class Report:
    period: Period
    volume: Table  # intake, channel, cases
    teams: Table  # team, cases, answered, first response p50/p90, solved, resolution p50/p90
    agents: Table  # the same per agent
    backlog: Table  # day, created, solved, open at the end of the day
    satisfaction: Table | None = None  # when the desk has survey ratings


TIME_COLUMNS = ["cases", "answered", "first_response_median_s", "first_response_p90_s",
                "solved", "resolution_median_s", "resolution_p90_s"]


def created_in(period: Period) -> QuerySet[Case]:
    return Case.objects.filter(merged_into__isnull=True, created_at__gte=period.since,
                               created_at__lt=period.until)


# --- durations and their percentiles ---------------------------------------------------------

def _seconds(end: str, start: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({end} - {start}))"
    return f"ROUND((julianday({end}) - julianday({start})) * 86400)"


Figures = dict[str, dict[Any, list[Any]]]  # dimension -> its key -> the row's figures
DIMENSIONS = {1: "team", 2: "agent", 3: "all"}  # PostgreSQL's GROUPING(team, agent)


def _durations(period: Period) -> tuple[str, list[Any]]:
    """SQL of each case created in ``period``: team, agent, and the seconds to its first
    response and to its resolution (NULL: not yet)."""
    done = ", ".join(["%s"] * len(DONE_CASE_STATUSES))
    since, until = (connection.ops.adapt_datetimefield_value(moment)
                    for moment in (period.since, period.until))
    return (f"SELECT c.team AS team, c.assignee_id AS agent,"
            f" {_seconds('c.first_responded_at', 'c.created_at')} AS answered,"
            f" CASE WHEN c.status IN ({done}) THEN"
            f" {_seconds('c.status_changed_at', 'c.created_at')} END AS solved"
            f" FROM {Case._meta.db_table} c"
            f" WHERE c.merged_into_id IS NULL AND c.created_at >= %s AND c.created_at < %s",
            [*DONE_CASE_STATUSES, since, until])


def _percentiles(ordered: list[float]) -> list[float | None]:
    """The SHARES percentiles of ``ordered`` values, interpolated as percentile_cont."""
    values: list[float | None] = []
    for share in SHARES:
        if not ordered:
            values.append(None)
            continue
        position = (len(ordered) - 1) * share
        low = int(position)
        high = ordered[min(low + 1, len(ordered) - 1)]
        values.append(ordered[low] + (high - ordered[low]) * (position - low))
    return values


def time_figures(period: Period) -> Figures:
    """Per team, per agent and for all: cases, answered, first response median and 90th
    percentile, solved, resolution median and 90th percentile (seconds)."""
    durations, params = _durations(period)
    found: Figures = {name: {} for name in DIMENSIONS.values()}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT GROUPING(team, agent), team, agent, COUNT(*), COUNT(answered),"
                " percentile_cont(%s) WITHIN GROUP (ORDER BY answered), COUNT(solved),"
                " percentile_cont(%s) WITHIN GROUP (ORDER BY solved)"
                f" FROM ({durations}) x GROUP BY GROUPING SETS ((team), (agent), ())",
                [list(SHARES), list(SHARES), *params])
            for grouping, team, agent, n, answered, first_times, solved, done_times in (
                    cursor.fetchall()):
                dimension = DIMENSIONS[grouping]
                key = {"team": team, "agent": agent, "all": ""}[dimension]
                found[dimension][key] = [n, answered, *(first_times or [None, None]), solved,
                                         *(done_times or [None, None])]
            return found
        # SQLite has no percentiles: the durations are read once and sorted here, each
        # case going to the list of its team and agent, which make up the groups' lists
        cursor.execute(durations, params)
        rows = cursor.fetchall()
    cells: dict[tuple[Any, Any], tuple[list[Any], list[Any]]] = {}
    for team, agent, answered, solved in rows:
        first_times, done_times = cells.setdefault((team, agent), ([], []))
        first_times.append(answered)
        done_times.append(solved)
    for dimension, column in (("team", 0), ("agent", 1), ("all", None)):
        groups: dict[Any, tuple[list[Any], list[float], list[float]]] = {}
        for cell, (first_times, done_times) in cells.items():
            key = "" if column is None else cell[column]
            count, first, done = groups.setdefault(key, ([], [], []))
            count.append(len(first_times))
            first += [t for t in first_times if t is not None]
            done += [t for t in done_times if t is not None]
        for key, (count, first, done) in groups.items():
            first.sort()
            done.sort()
            found[dimension][key] = [sum(count), len(first), *_percentiles(first),
                                     len(done), *_percentiles(done)]
    return found


def _time_table(name: str, figures: dict[Any, list[Any]], label: Callable[[Any], str],
                everyone: list[Any]) -> Table:
    table = Table(f"{name}s", [name, *TIME_COLUMNS], [[EVERYONE, *everyone]])
    for key in sorted(figures, key=lambda k: label(k).lower()):
        table.rows.append([label(key), *figures[key]])
    return table


# --- the tables ------------------------------------------------------------------------------

def volume(period: Period) -> Table:
    intakes = {i.pk: i.name or i.address for i in Intake.objects.all()}
    channels = dict(CaseChannel.choices)
    rows = (created_in(period).values_list("intake_id", "channel").annotate(n=Count("id"))
            .values_list("intake_id", "channel", "n"))
    table = Table("volume", ["intake", "channel", "cases"])
    table.rows = sorted([intakes.get(intake, str(intake)), str(channels.get(channel, channel)),
                         n] for intake, channel, n in rows)
    return table


def _offset_changes(zone: tzinfo, start: datetime, end: datetime) -> list[datetime]:
    """The instants between ``start`` and ``end`` at which ``zone``'s UTC offset changes
    (daylight saving time), to the second."""
    changes = []
    moment = start
    while moment < end:
        following = min(moment + timedelta(days=1), end)
        if moment.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            low, high = moment, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                same = middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset()
                low, high = (middle, high) if same else (low, middle)
            changes.append(high)
        moment = following
    return changes


def _local_day(column: str, period: Period, until: datetime) -> tuple[str, list[Any]]:
    """SQL of the day in the period's zone of ``column`` (a UTC time, from the period's
    first day to ``until``), with its parameters. SQLite has no time zones: the offset is
    added with its own date(), one offset for each stretch between daylight saving
    changes, rather than calling Python for each row."""
    if connection.vendor == "postgresql":
        return f"({column} AT TIME ZONE %s)::date", [str(period.zone)]
    start = period.since.astimezone(UTC)
    stretches: list[str] = []
    params: list[Any] = []
    for change in [*_offset_changes(period.zone, start, until), None]:
        offset = int((start.astimezone(period.zone).utcoffset() or timedelta()).total_seconds())
        day = f"date({column}, '{offset:+d} seconds')"
        if change is None:
            stretches.append(f"ELSE {day}")
        else:
            stretches.append(f"WHEN {column} < %s THEN {day}")
            params.append(connection.ops.adapt_datetimefield_value(change))
            start = change
    if not params:
        return stretches[0].removeprefix("ELSE "), params
    return f"(CASE {' '.join(stretches)} END)", params


def _count_per_day(sql: str, params: list[Any], period: Period, until: datetime
                   ) -> dict[date, int]:
    """Rows of ``sql`` (a column ``at``) per local day."""
    day, day_params = _local_day("x.at", period, until)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {day}, COUNT(*) FROM ({sql}) x GROUP BY 1",
                       [*day_params, *params])
        return {found if isinstance(found, date) else date.fromisoformat(found): n
                for found, n in cursor.fetchall()}


def backlog(period: Period) -> Table:
    """Per day: cases created, cases solved or closed (last time), open at the day's end.

    Counted back from now: the open cases now, plus those solved since the day's end,
    minus those created since, so only the days from the range's first to today are read.
    """
    cases = Case.objects.filter(merged_into__isnull=True)
    open_now = cases.exclude(status__in=DONE_CASE_STATUSES).count()
    since = connection.ops.adapt_datetimefield_value(period.since)
    until = max(timezone.now(), period.until) + timedelta(days=1)
    done = ", ".join(["%s"] * len(DONE_CASE_STATUSES))
    created = _count_per_day(
        f"SELECT created_at AS at FROM {Case._meta.db_table}"
        " WHERE merged_into_id IS NULL AND created_at >= %s", [since], period, until)
    solved = _count_per_day(
        f"SELECT status_changed_at AS at FROM {Case._meta.db_table}"
        f" WHERE merged_into_id IS NULL AND status IN ({done}) AND status_changed_at >= %s",
        [*DONE_CASE_STATUSES, since], period, until)
    later_created = sum(created.values())
    later_done = sum(solved.values())
    table = Table("backlog", ["day", "created", "solved", "open"])
    for day in period.days:
        later_created -= created.get(day, 0)
        later_done -= solved.get(day, 0)
        table.rows.append([day.isoformat(), created.get(day, 0), solved.get(day, 0),
                           open_now + later_done - later_created])
    return table


def teams(period: Period, figures: Figures | None = None) -> Table:
    figures = figures or time_figures(period)
    return _time_table("team", figures["team"], lambda team: team or NO_TEAM,
                       figures["all"].get("", [0, 0, None, None, 0, None, None]))


def agents(period: Period, figures: Figures | None = None) -> Table:
    figures = figures or time_figures(period)
    names = dict(get_user_model().objects.filter(pk__in=[k for k in figures["agent"] if k])
                 .values_list("pk", "username"))
    return _time_table("agent", figures["agent"],
                       lambda pk: names.get(pk, str(pk)) if pk else NOBODY,
                       figures["all"].get("", [0, 0, None, None, 0, None, None]))


def satisfaction(period: Period) -> Table | None:
    """The survey answers first given in the range, good and bad, per team, per agent and
    per intake (see :func:`~casegate.desk.satisfaction.satisfaction_by`); None without
    any."""
    table = Table("satisfaction", ["by", "name", "rated", "good", "bad", "good_share"])
    shown = {ReportDimension.TEAM: NO_TEAM, ReportDimension.AGENT: NOBODY,
             ReportDimension.INTAKE: ""}
    for dimension, nobody in shown.items():
        table.rows += [[dimension, row.key or nobody, row.rated, row.good, row.bad,
                        None if row.good_share is None else round(row.good_share, 3)]
                       for row in satisfaction_by(dimension, period.since, period.until)]
    return table if table.rows else None


# The report's tables by name (their CSV exports).
TABLES: dict[str, Callable[[Period], Table | None]] = {
    "volume": volume, "teams": teams, "agents": agents, "backlog": backlog,
    "satisfaction": satisfaction}


def _check(period: Period) -> None:
    if not 0 <= (period.last - period.first).days < MAX_DAYS:
        raise ValueError(f"a report covers 1 to {MAX_DAYS} days, the first before the last")


@contextmanager
def _without_jit() -> Iterator[None]:
    """PostgreSQL compiles a plan it deems costly before running it (JIT), which took
    longer than these queries themselves (0.8 s of 1.2 s): they run without it."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        yield


def table(name: str, period: Period) -> Table | None:
    """One table of the report by name (None: there is none, or no data for it)."""
    _check(period)
    with _without_jit():
        return TABLES[name](period) if name in TABLES else None


def report(period: Period) -> Report:
    _check(period)
    with _without_jit():
        figures = time_figures(period)
        return Report(period, volume(period), teams(period, figures), agents(period, figures),
                      backlog(period), satisfaction(period))
