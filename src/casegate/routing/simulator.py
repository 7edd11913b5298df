"""What the rules would do with one envelope recipient, without sending anything.

The answer comes from the same engine the gateway uses (``RoutingTable.route``), so the
simulator cannot disagree with what happens to real mail.
"""

from __future__ import annotations

from typing import Any

from casegate.directory.addresses import InvalidAddress, normalize_address
from casegate.routing.engine import DEFAULT_REJECT_TEXT, CompiledRule, RoutingTable, Verdict


def _changes(rule: CompiledRule, address: str) -> list[str]:
    if rule.action == "reject":
        return [f"reject: 550 5.7.1 {rule.reject_text or DEFAULT_REJECT_TEXT}"]
    if rule.action == "quarantine":
        return ["send to quarantine"]
    changes = []
    if rule.rewrite:
        changes.append(f"envelope recipient {address} -> {rule.rewritten(address)}")
    changes += [f"also deliver to {extra}" for extra in rule.also_deliver]
    if rule.bypass_spam:
        changes.append("bypass the spam filter")
    return changes


def _match(rule: CompiledRule) -> str:
    if rule.match_type == "all":
        return "all recipients"
    return f"{rule.match_type} {rule.match_value}"


def simulate(table: RoutingTable, recipient: str, spam: bool = False, sender: str = ""
             ) -> dict[str, Any]:
    """Each matching rule (whether it applied and what it changed), the disposition and the
    final recipients, for mail from ``sender`` to ``recipient``."""
    try:
        address = normalize_address(recipient)
    except InvalidAddress as exc:
        return {"recipient": recipient, "sender": sender, "spam": spam, "rules": [],
                "disposition": Verdict.INVALID.value, "reason": str(exc), "final": []}
    routing = table.route(address, spam=spam)
    recognized = table.local_owner(address) is not None
    rules = []
    rewritten_by = None
    for rule in (table.matching_rules(address, recognized)
                 if routing.verdict is not Verdict.RELAY_DENIED else []):
        applied = rule.id in routing.rules
        entry = {"id": rule.id, "position": rule.position, "match": _match(rule),
                 "applied": applied, "changes": _changes(rule, address) if applied else []}
        if not applied:
            entry["why_not"] = (
                f"rule #{routing.rules[0]} decides first ({routing.verdict.value})"
                if routing.verdict in (Verdict.REJECT, Verdict.QUARANTINE) and routing.rules
                else "classified as spam and the rule does not bypass the spam filter")
        elif rule.rewrite and rewritten_by is not None:
            entry["changes"] = [c for c in entry["changes"] if not c.startswith("envelope")]
            entry["overridden"] = (f"envelope recipient: rule #{rewritten_by} has the higher "
                                   "priority")
        elif rule.rewrite:
            rewritten_by = rule.id
        rules.append(entry)
    return {
        "recipient": address,
        "sender": sender,
        "spam": spam,
        "recognized": recognized,
        "rules": rules,
        "disposition": routing.verdict.value,
        "reason": routing.reason,
        "final": [{"address": t.address, "kind": t.kind.value} for t in routing.targets],
        "junk_folder": routing.junk,
    }


def describe(result: dict[str, Any]) -> str:
    """The simulation as lines a person reads."""
    lines = [f"recipient {result['recipient']}"
             + (f" from {result['sender']}" if result["sender"] else "")
             + (" (classified as spam)" if result["spam"] else "")]
    if not result["rules"]:
        lines.append("  no rule matches")
    for rule in result["rules"]:
        state = "applies" if rule["applied"] else "skipped"
        lines.append(f"  rule #{rule['id']} (position {rule['position']}, {rule['match']}): "
                     f"{state}")
        lines += [f"    {change}" for change in rule["changes"]]
        for key in ("why_not", "overridden"):
            if key in rule:
                lines.append(f"    {rule[key]}")
    reason = f" ({result['reason']})" if result["reason"] else ""
    lines.append(f"disposition: {result['disposition']}{reason}")
    lines += [f"  deliver to {t['address']} ({t['kind']})" for t in result["final"]]
    return "\n".join(lines)
