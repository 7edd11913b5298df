"""Prometheus metrics of the mailbox accounts, read from the database at scrape time (the
fetcher records every round there)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from casegate.mailboxes.models import Mailbox


class MailboxCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        labels = ["mailbox"]
        success = GaugeMetricFamily(
            "casegate_mailbox_last_success_timestamp_seconds",
            "When the mailbox was last fetched without an error (0: never)", labels=labels)
        failing = GaugeMetricFamily(
            "casegate_mailbox_consecutive_failures",
            "Failed rounds since the last good one (the server down, the login refused)",
            labels=labels)
        paused = GaugeMetricFamily("casegate_mailbox_paused", "1 while the mailbox is paused",
                                   labels=labels)
        aside = GaugeMetricFamily("casegate_mailbox_set_aside",
                                  "Messages left on the server and reported: too big, not a"
                                  " message, or refused for good", labels=labels)
        fetched = CounterMetricFamily("casegate_mailbox_fetched",
                                      "Messages fetched and stored", labels=labels)
        errors = CounterMetricFamily("casegate_mailbox_errors", "Failed rounds",
                                     labels=labels)
        for mailbox in Mailbox.objects.annotate(aside=Count("set_aside")):
            name = [mailbox.name]
            success.add_metric(name, mailbox.last_success_at.timestamp()
                               if mailbox.last_success_at else 0)
            failing.add_metric(name, mailbox.failures)
            paused.add_metric(name, int(mailbox.paused))
            aside.add_metric(name, mailbox.aside)  # type: ignore[attr-defined]
            fetched.add_metric(name, mailbox.fetched)
            errors.add_metric(name, mailbox.errors)
        yield from (success, failing, paused, aside, fetched, errors)
