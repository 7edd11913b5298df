"""Routing rules over the API: list, add, remove, and the simulator. Only for the
mail-settings administrator (and the super administrator), as in the console."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import P, PathEx, Query, Router, Status
from ninja.errors import HttpError

from casegate.api.schemas import MAX_ID, RuleIn, RuleOut, SimulationIn, SimulationOut, responses
from casegate.routing.models import Rule
from casegate.routing.services import (
    RuleError,
    RuleSpec,
    add_rule,
    remove_rule,
    rule_as_dict,
    rules_as_dicts,
)
from casegate.routing.simulator import simulate
from casegate.routing.snapshot import load_table
from casegate.routing.vocabulary import Rewrite

router = Router(tags=["rules"])

RuleId = PathEx[int, P(ge=1, le=MAX_ID, description="the rule number")]


@router.get("/rules", response=responses({200: list[RuleOut]}, 403))
def list_rules(request: HttpRequest) -> list[dict[str, Any]]:
    """The rules in the order they apply."""
    return rules_as_dicts()


@router.post("/rules", response=responses({201: RuleOut}, 400, 403, 422))
def create_rule(request: HttpRequest, rule: RuleIn) -> Status[dict[str, Any]]:
    """Add a rule; it applies to the next message."""
    try:
        created = add_rule(RuleSpec(
            match_type=rule.match, match_value=rule.match_value,
            rewrite=rule.change_recipient or Rewrite.NONE, rewrite_value=rule.change_value,
            also_deliver=list(rule.also_deliver), bypass_spam=rule.bypass_spam,
            apply_to=rule.apply_to, description=rule.description, enabled=rule.enabled,
            position=rule.position, action=rule.action, reject_text=rule.reject_text,
            org_unit=rule.org_unit, sender_list=rule.sender_list,
            sender_list_mode=rule.sender_list_mode or "", recipient_list=rule.recipient_list,
            recipient_list_mode=rule.recipient_list_mode or "",
            original_recipient_header=rule.original_recipient_header,
            spam_headers=rule.spam_headers,
            custom_headers=[(name, value) for name, value in rule.custom_headers],
            subject_prefix=rule.subject_prefix, route=rule.route,
            remove_attachments=rule.remove_attachments, require_tls=rule.require_tls,
            rate_limit=rule.rate_limit))
    except RuleError as exc:
        raise HttpError(400, str(exc)) from None
    return Status(201, rule_as_dict(created))


@router.get("/rules/simulate", response=responses({200: SimulationOut}, 403, 422))
def simulate_rules(request: HttpRequest, query: Query[SimulationIn]) -> dict[str, Any]:
    """What the rules do with a recipient (and whether spam), without sending anything."""
    return simulate(load_table(), query.rcpt, query.spam, query.sender)


@router.delete("/rules/{rule_id}", response=responses({204: None}, 403, 404, 422))
def delete_rule(request: HttpRequest, rule_id: RuleId) -> Status[None]:
    """Remove a rule."""
    if not Rule.objects.filter(pk=rule_id).exists():
        raise HttpError(404, f"there is no rule {rule_id}")
    remove_rule(rule_id)
    return Status(204, None)
