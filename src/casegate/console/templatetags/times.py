"""``{{ value|when }}``: a time as the reader reads it: "2 hours ago" in their language, the
exact time in their time zone on hover, and the machine-readable time for scripts."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.template.defaultfilters import date as format_date
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def when(value: datetime | str | None) -> SafeString | str:
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        return ""
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return format_html('<time datetime="{}" title="{}">{}</time>', moment.isoformat(),
                       format_date(local, "DATETIME_FORMAT") + local.strftime(" %Z"),
                       naturaltime(moment))


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds as days, hours and minutes: "2 d 3 h", "5 h 07 min", "12 min" ("—": none)."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
