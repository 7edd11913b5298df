"""Prometheus metrics, read from the database at scrape time.

Every gateway and worker process writes its state to the shared database, so any one
HTTP process can report the whole system without multi-process bookkeeping.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from casegate.spool.models import Delivery, DeliveryAttempt
from casegate.spool.vocabulary import DeliveryState, DsnState


class QueueCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("casegate_deliveries", "Deliveries by state", labels=["state"])
        counts = dict(Delivery.objects.values_list("state").annotate(n=Count("id")))
        for state in DeliveryState:
            depth.add_metric([state], counts.get(state, 0))
        yield depth

        attempts = CounterMetricFamily(
            "casegate_delivery_attempts", "Delivery attempts by next hop and outcome",
            labels=["destination", "outcome"])
        latency = SummaryMetricFamily(
            "casegate_delivery_attempt_seconds", "Time spent on delivery attempts by next hop",
            labels=["destination"])
        per_host: dict[str, tuple[int, float]] = {}
        rows = (DeliveryAttempt.objects.values("host", "outcome")
                .annotate(n=Count("id"), seconds=Sum("duration")))
        for row in rows:
            attempts.add_metric([row["host"], row["outcome"]], row["n"])
            n, seconds = per_host.get(row["host"], (0, 0.0))
            per_host[row["host"]] = (n + row["n"], seconds + (row["seconds"] or 0.0))
        for host, (n, seconds) in sorted(per_host.items()):
            latency.add_metric([host], count_value=n, sum_value=seconds)
        yield attempts
        yield latency

        reports = GaugeMetricFamily("casegate_delivery_reports", "Delivery status notifications",
                                    labels=["state"])
        dsn = dict(Delivery.objects.exclude(dsn_state=DsnState.NONE).values_list("dsn_state")
                   .annotate(n=Count("id")))
        for report in DsnState:
            if report != DsnState.NONE:
                reports.add_metric([report], dsn.get(report, 0))
        yield reports
