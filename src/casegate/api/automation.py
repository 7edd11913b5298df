"""Triggers, automations and macros over the API. Triggers and automations are for the
mail-settings administrator (and the super administrator), like the routing rules; macros
are for agents, who list the shared ones and their own and apply them to the cases they may
work."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import P, PathEx, Query, Router, Status
from ninja.errors import HttpError

from casegate.api.messages import message_items, thread_messages
from casegate.api.requests import AgentRequest
from casegate.api.schemas import (
    MAX_ID,
    AutomationIn,
    AutomationOut,
    AutomationPreview,
    AutomationSimulationIn,
    MacroAppliedOut,
    MacroApplyIn,
    MacroOut,
    TriggerIn,
    TriggerOut,
    TriggerSimulationIn,
    TriggerSimulationOut,
    responses,
)
from casegate.desk.automation.automations import AUTOMATIONS
from casegate.desk.automation.macros import apply_macro, macro_dict, macros_for
from casegate.desk.automation.rules import TriggerError
from casegate.desk.automation.scheduled import preview
from casegate.desk.automation.simulator import as_dict, simulate_case
from casegate.desk.automation.triggers import add_trigger, remove_trigger, trigger_dict
from casegate.desk.models import Automation, Case, Trigger
from casegate.desk.output import conversation_as_dict
from casegate.desk.visibility import case_scope

triggers = Router(tags=["triggers"])
automations = Router(tags=["automations"])
macros = Router(tags=["macros"])

TriggerId = PathEx[int, P(ge=1, le=MAX_ID, description="the trigger number")]
AutomationId = PathEx[int, P(ge=1, le=MAX_ID, description="the automation number")]
MacroId = PathEx[int, P(ge=1, le=MAX_ID, description="the macro number")]


def _shown(trigger: Trigger) -> dict[str, Any]:
    return {"id": trigger.pk, "position": trigger.position, "conditions": {},
            "description": "", "enabled": trigger.enabled, **trigger_dict(trigger)}


@triggers.get("/triggers", response=responses({200: list[TriggerOut]}, 403))
def list_triggers(request: HttpRequest) -> list[dict[str, Any]]:
    """The triggers in the order they run."""
    return [_shown(t) for t in Trigger.objects.order_by("position", "id")]


@triggers.post("/triggers", response=responses({201: TriggerOut}, 400, 403, 422))
def create_trigger(request: HttpRequest, trigger: TriggerIn) -> Status[dict[str, Any]]:
    """Add a trigger (a new version of the set); it acts on the next event."""
    try:
        created = add_trigger(trigger.model_dump(exclude={"position"}), trigger.position)
    except TriggerError as exc:
        raise HttpError(400, str(exc)) from None
    return Status(201, _shown(created))


@triggers.get("/triggers/simulate", response=responses({200: TriggerSimulationOut}, 403, 404,
                                                       422))
def simulate_triggers(request: HttpRequest, query: Query[TriggerSimulationIn]
                      ) -> dict[str, object]:
    """Which triggers an event on a case would fire, in what order, and what each would
    change; nothing is saved or sent."""
    if not Case.objects.filter(pk=query.case).exists():
        raise HttpError(404, f"there is no case {query.case}")
    return as_dict(simulate_case(query.case, query.event))


@triggers.delete("/triggers/{trigger_id}", response=responses({204: None}, 403, 404, 422))
def delete_trigger(request: HttpRequest, trigger_id: TriggerId) -> Status[None]:
    """Remove a trigger (a new version of the set)."""
    if not Trigger.objects.filter(pk=trigger_id).exists():
        raise HttpError(404, f"there is no trigger {trigger_id}")
    remove_trigger(trigger_id)
    return Status(204, None)


def _automation(automation: Automation) -> dict[str, Any]:
    return {"id": automation.pk, "position": automation.position, "conditions": {},
            "description": "", "enabled": automation.enabled,
            **AUTOMATIONS.as_dict(automation)}


@automations.get("/automations", response=responses({200: list[AutomationOut]}, 403))
def list_automations(request: HttpRequest) -> list[dict[str, Any]]:
    """The automations in the order the clock runs them."""
    return [_automation(a) for a in AUTOMATIONS.ordered()]


@automations.post("/automations", response=responses({201: AutomationOut}, 400, 403, 422))
def create_automation(request: HttpRequest, automation: AutomationIn
                      ) -> Status[dict[str, Any]]:
    """Add an automation (a new version of the set); the clock's next pass runs it."""
    try:
        created = AUTOMATIONS.add(automation.model_dump(exclude={"position"}),
                                  automation.position)
    except TriggerError as exc:
        raise HttpError(400, str(exc)) from None
    return Status(201, _automation(created))


@automations.get("/automations/simulate",
                 response=responses({200: list[AutomationPreview]}, 403, 404, 422))
def simulate_automations(request: HttpRequest, query: Query[AutomationSimulationIn]
                         ) -> list[dict[str, object]]:
    """What each automation would do to a case at a time (the triggers its changes would
    fire included); nothing is saved or sent."""
    if not Case.objects.filter(pk=query.case).exists():
        raise HttpError(404, f"there is no case {query.case}")
    return [shown.as_dict() for shown in preview(query.case, query.now)]


@automations.delete("/automations/{automation_id}",
                    response=responses({204: None}, 403, 404, 422))
def delete_automation(request: HttpRequest, automation_id: AutomationId) -> Status[None]:
    """Remove an automation (a new version of the set)."""
    if not Automation.objects.filter(pk=automation_id).exists():
        raise HttpError(404, f"there is no automation {automation_id}")
    AUTOMATIONS.remove(automation_id)
    return Status(204, None)


@macros.get("/macros", response=responses({200: list[MacroOut]}))
def list_macros(request: AgentRequest) -> list[dict[str, Any]]:
    """The shared macros and the caller's own."""
    return [macro_dict(m) for m in macros_for(request.auth)]


@macros.post("/macros/{macro_id}/apply", response=responses({200: MacroAppliedOut}, 400, 404,
                                                             422))
def apply(request: AgentRequest, macro_id: MacroId, body: MacroApplyIn) -> dict[str, Any]:
    """Apply a macro to a case as the caller: its actions, then its reply, mailed to the
    requester with the placeholders filled."""
    if not macros_for(request.auth).filter(pk=macro_id).exists():
        raise HttpError(404, f"there is no macro {macro_id}")
    if not Case.objects.filter(case_scope(request.auth)).filter(pk=body.case).exists():
        raise HttpError(404, f"there is no case {body.case}")
    try:
        applied = apply_macro(macro_id, body.case, request.auth)
    except TriggerError as exc:
        raise HttpError(400, str(exc)) from None
    case = Case.objects.select_related("intake", "assignee").get(pk=body.case)
    reply = (message_items([thread_messages().get(pk=applied.reply.pk)])[0]
             if applied.reply is not None else None)
    return {"case": conversation_as_dict(case), "changes": applied.changes, "reply": reply}

