"""The REST API (django-ninja), served under /api/ with its schema at /api/openapi.json.

Every call but ``/api/health`` needs ``Authorization: Bearer <token>`` (``Token <token>``
works too); ``casegate token create USERNAME`` prints a token. Every error is a JSON
``{"detail": "..."}`` with its status.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from auditlog.context import auditlog_value
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.operation import Operation
from ninja.security import HttpBearer

from casegate.access import can
from casegate.api import (
    automation,
    contacts,
    conversations,
    desk_settings,
    mailboxes,
    messages,
    rule_files,
    rules,
    saved_views,
    sla,
    suspended,
    webhooks,
)
from casegate.api.schemas import HealthOut
from casegate.api.tokens import user_for

HOW_TO_AUTHENTICATE = ("send the header 'Authorization: Bearer <token>'; "
                       "an administrator creates a token with: casegate token create USERNAME")


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>`` (or ``Token <token>``) naming an active user who
    holds the privilege the operation needs (reading or changing)."""

    def __init__(self, read: str = "read_cases", write: str = "work_cases") -> None:
        super().__init__()
        self.read, self.write = read, write

    def __call__(self, request: HttpRequest) -> Any:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not key.strip():
            return None
        return self.authenticate(request, key.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for(token)
        if user is None:
            return None
        privilege = self.read if request.method in ("GET", "HEAD", "OPTIONS") else self.write
        if not can(user, privilege):
            raise HttpError(403, f"{user.get_username()} lacks the "
                                 f"{privilege.replace('_', ' ')} privilege")
        # The audit log's middleware saw no session user: its entries name the token's.
        audited = auditlog_value.get(None)
        if audited is not None:
            audited["actor"] = user
        return user


class CasegateAPI(NinjaAPI):
    """A NinjaAPI whose unknown paths and methods are answered in JSON like its errors."""

    def _get_urls(self) -> list[URLPattern | URLResolver]:
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = _json_errors(pattern.callback)
        return [*urls, re_path(r"^", _unknown_path)]

    def get_openapi_operation_id(self, operation: Operation) -> str:
        return operation.view_func.__name__


def _json_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``view``, with the 405 of a method a path lacks and a 404 (the API root's) in JSON."""

    @wraps(view)
    def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return _unknown_path(request)
        if response.status_code != 405:
            return response
        allowed = response["Allow"]
        replaced = JsonResponse(
            {"detail": f"{request.method} is not allowed here; use {allowed}"}, status=405)
        replaced["Allow"] = allowed
        return replaced

    return answer


@csrf_exempt
def _unknown_path(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": f"there is no API at {request.path}; "
                                   "the operations are listed in /api/docs"}, status=404)


api = CasegateAPI(
    title="casegate", version="1", urls_namespace="api", auth=TokenAuth(),
    description="The case desk: cases, leads, their messages and attachments, contacts and "
                "companies, suspended mail and blocked senders, mailbox accounts. "
                f"Authenticate: {HOW_TO_AUTHENTICATE}.",
)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    problem = ("the token is unknown or revoked, or its user is inactive"
               if request.headers.get("Authorization") else "no token was sent")
    response = api.create_response(request, {"detail": f"{problem}: {HOW_TO_AUTHENTICATE}"},
                                   status=401)
    response["WWW-Authenticate"] = 'Bearer realm="casegate"'
    return response


def _location(loc: tuple[Any, ...]) -> str:
    """``body.status`` for ninja's ``("body", "<parameter name>", "status")``."""
    parts = loc[:1] + loc[2:] if loc[:1] == ("body",) else loc
    return ".".join(str(part) for part in parts)


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = [{"location": _location(tuple(error.get("loc", ()))),
                 "message": str(error.get("msg", "invalid"))} for error in exc.errors]
    detail = "; ".join(f"{p['location']}: {p['message']}" for p in problems) or "invalid input"
    return api.create_response(request, {"detail": detail, "errors": problems}, status=422)


@api.get("/health", auth=None, response={200: HealthOut}, tags=["health"])
def health(request: HttpRequest) -> dict[str, str]:
    """Whether the API answers (no token needed)."""
    return {"status": "ok"}


api.add_router("", rules.router, auth=TokenAuth(read="mail_settings", write="mail_settings"))
# Before the routers whose paths take a number where these have a word (/webhooks/export).
api.add_router("", rule_files.router,
               auth=TokenAuth(read="mail_settings", write="mail_settings"))
api.add_router("", conversations.router)
api.add_router("", messages.router)
api.add_router("", contacts.router)
api.add_router("", suspended.router)
api.add_router("", automation.triggers,
               auth=TokenAuth(read="mail_settings", write="mail_settings"))
api.add_router("", automation.automations,
               auth=TokenAuth(read="mail_settings", write="mail_settings"))
api.add_router("", automation.macros)
api.add_router("", webhooks.router,
               auth=TokenAuth(read="mail_settings", write="mail_settings"))
api.add_router("", sla.router, auth=TokenAuth(read="mail_settings", write="mail_settings"))
api.add_router("", saved_views.router, auth=TokenAuth(read="read_cases", write="read_cases"))
api.add_router("", mailboxes.router,
               auth=TokenAuth(read="mail_settings", write="mail_settings"))
api.add_router("", desk_settings.intakes,
               auth=TokenAuth(read="mail_settings", write="mail_settings"))
# Each agent their own signature, the mail-settings administrator anyone's: checked there.
api.add_router("", desk_settings.agents, auth=TokenAuth(write="read_cases"))
