"""The dashboard's figures: mail per hour, what became of it, cases per day, delivery time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from casegate.desk.models import Case
from casegate.desk.visibility import case_scope
from casegate.spool.models import Delivery, Message
from casegate.spool.vocabulary import FINAL_FAILURES, DeliveryState

CHART_HEIGHT = 120
# The states of a delivery still on its way (or set aside for an operator).
WAITING = (DeliveryState.PENDING, DeliveryState.INFLIGHT, DeliveryState.DEFERRED,
           DeliveryState.HELD, DeliveryState.FAILED)


def bars(points: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """Bars of an SVG chart: label, value and height scaled to the tallest."""
    top = max((value for _, value in points), default=0) or 1
    shown = []
    for index, (label, value) in enumerate(points):
        height = round(CHART_HEIGHT * value / top)
        shown.append({"label": label, "value": value, "height": height, "x": index * 22,
                      "y": CHART_HEIGHT + 5 - height})
    return shown


SHARES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


def _delivery_time(since: datetime) -> dict[str, float | None]:
    """Percentiles of seconds from acceptance to delivery, for deliveries since ``since``."""
    delivered = Delivery.objects.filter(state=DeliveryState.DELIVERED, updated_at__gte=since)
    if connection.vendor == "postgresql":  # computed where the rows are
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT percentile_disc(%s) WITHIN GROUP (ORDER BY extract(epoch FROM"
                " updated_at - created_at)) FROM delivery_delivery"
                " WHERE state = %s AND updated_at >= %s",
                [[share for _, share in SHARES], DeliveryState.DELIVERED, since])
            found = cursor.fetchone()[0] or [None] * len(SHARES)
        return {name: None if value is None else round(float(value), 3)
                for (name, _), value in zip(SHARES, found, strict=True)}
    seconds = sorted((updated - created).total_seconds() for created, updated in
                     delivered.values_list("created_at", "updated_at")[:50_000])
    return {name: round(seconds[min(len(seconds) - 1, int(share * len(seconds)))], 3)
            if seconds else None for name, share in SHARES}


def figures(user: Any) -> dict[str, Any]:
    """The dashboard's charts; the cases counted are those ``user`` may see."""
    now = timezone.now()
    day_ago = now - timedelta(hours=24)
    per_hour = dict(Message.objects.filter(received_at__gte=day_ago)
                    .annotate(hour=TruncHour("received_at")).values_list("hour")
                    .annotate(n=Count("queue_id")).values_list("hour", "n"))
    hours = [(now - timedelta(hours=h)).replace(minute=0, second=0, microsecond=0)
             for h in range(23, -1, -1)]
    outcomes = dict(Delivery.objects.filter(created_at__gte=day_ago).values_list("state")
                    .annotate(n=Count("id")).values_list("state", "n"))
    per_day = dict(Case.objects.filter(case_scope(user),
                                       created_at__gte=now - timedelta(days=14))
                   .annotate(day=TruncDate("created_at")).values_list("day")
                   .annotate(n=Count("id")).values_list("day", "n"))
    days = [(now - timedelta(days=d)).date() for d in range(13, -1, -1)]

    return {
        "messages_per_hour": bars([(h.strftime("%H"), per_hour.get(h, 0)) for h in hours]),
        "messages_total": sum(per_hour.values()),
        "outcomes": bars([
            ("routed", sum(outcomes.values())),
            ("delivered", outcomes.get(DeliveryState.DELIVERED, 0)),
            ("waiting", sum(outcomes.get(s, 0) for s in WAITING)),
            ("bounced", sum(outcomes.get(s, 0) for s in FINAL_FAILURES)),
        ]),
        "cases_per_day": bars([(d.strftime("%d"), per_day.get(d, 0)) for d in days]),
        "latency": _delivery_time(day_ago),
        "chart_height": CHART_HEIGHT,
    }
