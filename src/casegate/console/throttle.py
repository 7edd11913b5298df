"""Limits on sign-in failures and password reset requests, counted in the database.

A subject's window opens with its first attempt and lasts the limit's window; once the
attempts reach the limit, the subject is refused until the window closes. Counting in the
database (one row per subject, incremented in place) keeps every process serving HTTP on
the same count, on SQLite and PostgreSQL alike, without a cache server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from auditlog.models import LogEntry
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from casegate.config import get_config
from casegate.console.models import Throttle

log = logging.getLogger("casegate.console")


@dataclass(frozen=True)
class Limit:
    scope: str
    attempts: int
    window: timedelta


def client_address(request: HttpRequest) -> str:
    """The client's IP: the peer's, or behind the proxy the address the proxy appended."""
    if get_config().behind_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR") or "unknown"


def retry_after(*checks: tuple[Limit, str]) -> str | None:
    """When the subjects of ``checks`` (limit, subject) may all try again, as a time of day
    to show; None when every one may now."""
    now = timezone.now()
    refused = [row.expires_at for limit, subject in checks
               for row in Throttle.objects.filter(scope=limit.scope, subject=subject[:254],
                                                  expires_at__gt=now,
                                                  attempts__gte=limit.attempts)]
    return timezone.localtime(max(refused)).strftime("%H:%M %Z") if refused else None


def record(limit: Limit, subject: str, request: HttpRequest) -> None:
    """Count one attempt of ``subject``; the attempt that reaches the limit is written to
    the audit log and the log."""
    subject = subject[:254]
    now = timezone.now()
    rows = Throttle.objects.filter(scope=limit.scope, subject=subject)
    with transaction.atomic():
        Throttle.objects.filter(expires_at__lte=now).delete()
        if not rows.update(attempts=F("attempts") + 1):
            try:
                with transaction.atomic():
                    Throttle.objects.create(scope=limit.scope, subject=subject, attempts=1,
                                            expires_at=now + limit.window)
            except IntegrityError:  # another process opened the window first
                rows.update(attempts=F("attempts") + 1)
        row = rows.get()
        if row.attempts == limit.attempts:
            _audit_lock(row, request)


def forget(limit: Limit, subject: str) -> None:
    Throttle.objects.filter(scope=limit.scope, subject=subject[:254]).delete()


def _audit_lock(row: Throttle, request: HttpRequest) -> None:
    client = client_address(request)
    log.warning("console=throttled scope=%r subject=%r attempts=%s client=%s until=%s",
                row.scope, row.subject, row.attempts, client, row.expires_at.isoformat())
    LogEntry.objects.log_create(
        row, force_log=True, action=LogEntry.Action.ACCESS, remote_addr=client,
        changes={"attempts": [None, row.attempts],
                 "refused until": [None, row.expires_at.isoformat(timespec="seconds")]})
