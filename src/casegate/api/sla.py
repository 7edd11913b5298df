"""SLA calendars and policies over the API, for the mail-settings administrator like the
triggers: the whole set read and replaced at once (all or nothing, or a dry run), its
versions, and a rollback."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.errors import HttpError

from casegate.api.schemas import (
    RollbackIn,
    SlaImportOut,
    SlaSetIn,
    SlaSetOut,
    VersionOut,
    responses,
)
from casegate.desk.models import SlaCalendar, SlaPolicy
from casegate.desk.sla.policies import calendar_dict, history, import_sla, policy_dict, rollback
from casegate.desk.sla.rules import SlaError

router = Router(tags=["sla"])


@router.get("/sla", response=responses({200: SlaSetOut}, 403))
def read_sla(request: HttpRequest) -> dict[str, Any]:
    """The calendars, and the policies in the order they are tried."""
    return {"calendars": [calendar_dict(c) for c in SlaCalendar.objects.order_by("name")],
            "policies": [policy_dict(p) for p in SlaPolicy.objects.select_related("calendar")
                         .order_by("position", "id")]}


@router.put("/sla", response=responses({200: SlaImportOut}, 400, 403, 422))
def replace_sla(request: HttpRequest, body: SlaSetIn, dry_run: Query[bool] = False
                ) -> dict[str, Any]:
    """Make the calendars and policies the body's, as one version, or (``dry_run``) only
    say what would change. Nothing changes when any of them is refused; the problems name
    the lines of the body as indented JSON."""
    text = json.dumps(body.model_dump(), indent=2, ensure_ascii=False)
    try:
        result = import_sla(text, "body", dry_run=dry_run)
    except SlaError as exc:
        raise HttpError(400, str(exc)) from None
    return {"diff": result.diff, "version": result.version, "calendars": result.calendars,
            "policies": result.policies}


@router.get("/sla/versions", response=responses({200: list[VersionOut]}, 403))
def list_versions(request: HttpRequest) -> list[dict[str, Any]]:
    """The latest versions of the calendars and policies, newest first."""
    return [{"version": v.number, "at": v.created_at, "actor": v.actor, "summary": v.summary}
            for v in history()]


@router.post("/sla/rollback", response=responses({200: SlaImportOut}, 400, 403, 422))
def roll_back(request: HttpRequest, body: RollbackIn) -> dict[str, Any]:
    """Make the calendars and policies what they were right after a version, as a new
    version."""
    try:
        version = rollback(body.version)
    except SlaError as exc:
        raise HttpError(400, str(exc)) from None
    return {"diff": "", "version": version.number if version else None,
            "calendars": SlaCalendar.objects.count(), "policies": SlaPolicy.objects.count()}
