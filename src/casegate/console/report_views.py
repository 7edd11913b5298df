"""The reports page (:mod:`casegate.desk.reports`): its tables, their charts as SVG drawn
on the server, and each table as CSV."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from casegate.console.dashboard import bars
from casegate.console.roles import require
from casegate.desk.reports import MAX_DAYS, Period, Report, report
from casegate.desk.reports import table as report_table

DEFAULT_DAYS = 30
HOUR = 3600


# Days a report can be asked for: the ends of the calendar are out of reach of the time
# zones' arithmetic (a day after 9999-12-31 does not exist).
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(9000, 12, 31)


def _day(text: str) -> date | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if EARLIEST_DAY <= day <= LATEST_DAY else None


def _period(request: HttpRequest) -> Period:
    """The days asked (``first``, ``last``: YYYY-MM-DD) in the reader's time zone; by
    default the last 30 days; a range too long is cut to its last MAX_DAYS days."""
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    last = _day(request.GET.get("last", "")) or today
    first = _day(request.GET.get("first", "")) or last - timedelta(days=DEFAULT_DAYS - 1)
    first, last = min(first, last), max(first, last)
    return Period(max(first, last - timedelta(days=MAX_DAYS - 1)), last, zone)


def _charts(found: Report) -> dict[str, Any]:
    """The bars of each chart: open cases per day, cases per intake and channel, the
    median first-response and resolution hours per team."""
    teams = found.teams.rows[1:]  # after the row of everyone
    return {
        "backlog": bars([(day[8:], open_) for day, _, _, open_ in found.backlog.rows]),
        "volume": bars([(f"{intake} · {channel}", n) for intake, channel, n
                        in found.volume.rows]),
        "first_response": bars([(row[0], round((row[3] or 0) / HOUR, 1)) for row in teams]),
        "resolution": bars([(row[0], round((row[6] or 0) / HOUR, 1)) for row in teams]),
    }


@require("reports")
def reports(request: HttpRequest) -> HttpResponse:
    period = _period(request)
    found = report(period)
    return render(request, "console/reports.html", {
        "report": found, "period": period, "charts": _charts(found),
        "chart_width": max(120, 22 * len(found.backlog.rows))})


# A spreadsheet runs a cell starting with one of these as a formula.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return "" if value is None else value


@require("reports")
def report_csv(request: HttpRequest, table: str) -> HttpResponse:
    """One of the report's tables as CSV, for the same days as the page."""
    period = _period(request)
    chosen = report_table(table, period)
    if chosen is None:
        raise Http404(f"the report has no table {table}")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (f'attachment; filename="casegate-{table}-'
                                       f'{period.first}-{period.last}.csv"')
    writer = csv.writer(response)
    writer.writerow(chosen.columns)
    writer.writerows([_cell(value) for value in row] for row in chosen.rows)
    return response
