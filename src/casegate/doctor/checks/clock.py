"""This host's clock against the database's: the hosts sharing a queue read and write its
leases by their own clocks, so they must agree (see "Claims and leases" in the README)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.db import DatabaseError, connection
from django.utils import timezone

from casegate.doctor.base import Finding, Host
from casegate.doctor.vocabulary import CheckStatus

NAME = "clock"
WARN_AFTER = timedelta(seconds=5)
# A remote batch stops sending at 80% of its lease (60 s of the default 300 s): half of that.
FAIL_AFTER = timedelta(seconds=30)
_NOW = {"postgresql": "SELECT now()",
        "sqlite": "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"}


def _database_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute(_NOW[connection.vendor])
        value = cursor.fetchone()[0]
    if isinstance(value, str):  # SQLite's text, in UTC
        value = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value


def check(host: Host) -> Finding:
    if connection.vendor not in _NOW:
        return Finding(NAME, host.name, CheckStatus.OK, f"not checked on {connection.vendor}")
    try:
        started = time.monotonic()
        ours = timezone.now()
        theirs = _database_now()
        ours += timedelta(seconds=(time.monotonic() - started) / 2)  # the question's trip
    except DatabaseError as exc:
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"cannot ask the database: {' '.join(str(exc).split())}")
    skew = abs(ours - theirs)
    said = (f"this host's clock is {skew.total_seconds():.1f} s"
            f" {'ahead of' if ours > theirs else 'behind'} the database's")
    if skew >= FAIL_AFTER:
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"{said}: workers on hosts this far apart can take over deliveries"
                       " still being sent; keep the clocks in step (NTP)")
    if skew >= WARN_AFTER:
        return Finding(NAME, host.name, CheckStatus.WARNING, f"{said}; keep it in step (NTP)")
    return Finding(NAME, host.name, CheckStatus.OK,
                   f"agrees with the database's within {WARN_AFTER.total_seconds():.0f} s")
