"""Headers that keep console pages from loading anything from elsewhere; the audit log's
request context."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from auditlog.middleware import AuditlogMiddleware
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from casegate.console.throttle import client_address

# Mail HTML is sanitized, and this keeps it from loading remote images (tracking pixels),
# scripts, styles or frames even if something slipped through.
POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
          "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


class ContentSecurityPolicy:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(("/console/", "/survey/")):
            response.setdefault("Content-Security-Policy", POLICY)
            response.setdefault("Referrer-Policy", "same-origin")
            response.setdefault("X-Content-Type-Options", "nosniff")
        return response


class AuditContext(AuditlogMiddleware):
    """auditlog's middleware, recording the client's address as the sign-in limits read it:
    auditlog's own takes the first X-Forwarded-For entry, which any client can write. A
    request without a usable address (a test client's, a socket's) records none: the column
    holds addresses only, and PostgreSQL refuses anything else."""

    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str | None:
        address = client_address(request)
        try:
            return str(ipaddress.ip_address(address))
        except ValueError:
            return None


TIME_ZONE_COOKIE = "casegate_tz"


class ReadersTimeZone:
    """Console pages show times in the reader's time zone: the one their browser names in
    a cookie the console's script sets (UTC until it has)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = request.COOKIES.get(TIME_ZONE_COOKIE, "")
        try:
            zone = ZoneInfo(name) if name and len(name) <= 64 else None
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None:
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)
