"""What the rules would do with one envelope recipient, without sending anything.

The answer comes from the same engine the gateway uses (``RoutingTable.route``), so the
simulator cannot disagree with what happens to real mail.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from casegate.directory.addresses import InvalidAddress, normalize_address
from casegate.routing.engine import (
    DEFAULT_REJECT_TEXT,
    POSTMASTER,
    CompiledRule,
    Routing,
    RoutingTable,
    Verdict,
)
from casegate.routing.vocabulary import MatchType, RuleAction


def _changes(rule: CompiledRule, address: str, rewrites: bool) -> list[str]:
    if rule.action == RuleAction.REJECT:
        return [_("reject: %(reply)s") % {
            "reply": f"550 5.7.1 {rule.reject_text or DEFAULT_REJECT_TEXT}"}]
    if rule.action == RuleAction.QUARANTINE:
        return [_("send to quarantine")]
    changes = []
    if rule.rewrite and rewrites:
        changes.append(_("envelope recipient %(old)s -> %(new)s")
                       % {"old": address, "new": rule.rewritten(address)})
    changes += [_("also deliver to %(address)s") % {"address": extra}
                for extra in rule.also_deliver]
    if rule.bypass_spam:
        changes.append(_("bypass the spam filter"))
    if rule.route:
        changes.append(_("change route: %(relay)s") % {"relay": rule.route})
    if rule.original_recipient_header:
        changes.append(_("add the header %(name)s with the original recipient")
                       % {"name": rule.original_recipient_header})
    if rule.spam_headers:
        changes.append(_("add the spam and phishing verdict headers"))
    changes += [_("add the header %(name)s: %(value)s") % {"name": name, "value": value}
                for name, value in rule.custom_headers]
    if rule.subject_prefix:
        changes.append(_("prepend %(prefix)r to the subject") % {"prefix": rule.subject_prefix})
    if rule.remove_attachments:
        changes.append(_("remove attachments"))
    if rule.require_tls:
        changes.append(_("require secure transport (TLS) on the onward hop"))
    return changes


def _match(rule: CompiledRule) -> str:
    if rule.match_type == MatchType.ALL:
        return _("all recipients")
    if rule.match_type == MatchType.ADDRESS:
        return _("single recipient %(address)s") % {"address": rule.match_value}
    if rule.match_type == MatchType.GROUP:
        return _("members of %(group)s") % {"group": rule.match_value}
    return _("pattern %(pattern)s") % {"pattern": rule.match_value}


def _reason(routing: Routing, spam: bool) -> str:
    """Why the disposition is what it is, in the reader's language (the engine's own reason
    is the text of an SMTP reply)."""
    if routing.verdict is Verdict.RELAY_DENIED:
        return _("relay access denied: the domain is not one of the company's domains")
    if routing.verdict is Verdict.UNKNOWN_USER:
        return _("no account, group, intake or rule receives mail for this address")
    if routing.verdict is Verdict.REJECT:
        return f"550 5.7.1 {routing.reason}"
    if routing.verdict is Verdict.QUARANTINE:
        if routing.rules:
            return _("held by rule #%(id)s") % {"id": routing.rules[0]}
        if spam:
            return _("classified as spam; no rule with bypass spam filter applies")
    return routing.reason


def _why_not(routing: Routing) -> str:
    if routing.verdict in (Verdict.REJECT, Verdict.QUARANTINE) and routing.rules:
        return _("rule #%(id)s decides first") % {"id": routing.rules[0]}
    return _("classified as spam and the rule does not bypass the spam filter")


def simulate(table: RoutingTable, recipient: str, spam: bool = False, sender: str = ""
             ) -> dict[str, Any]:
    """Each matching rule (whether it applied and what it changed), the disposition and the
    final recipients, for mail from ``sender`` to ``recipient``."""
    try:
        address = normalize_address(recipient)
    except InvalidAddress as exc:
        if recipient.strip().lower() == POSTMASTER:  # RFC 5321 4.5.1: needs no domain
            return _simulated(table, POSTMASTER, spam, sender)
        return {"recipient": recipient, "sender": sender, "spam": spam, "rules": [],
                "disposition": Verdict.INVALID.value, "reason": str(exc), "final": []}
    return _simulated(table, address, spam, sender)


def _simulated(table: RoutingTable, address: str, spam: bool, sender: str) -> dict[str, Any]:
    routing = table.route(address, spam=spam, sender=sender)
    recognized = table.local_owner(address) is not None
    rules = []
    rewritten_by = None
    for rule in (table.matching_rules(address, sender)
                 if routing.verdict is not Verdict.RELAY_DENIED else []):
        applied = rule.id in routing.rules
        overridden = bool(applied and rule.rewrite and rewritten_by is not None)
        entry = {"id": rule.id, "position": rule.position, "match": _match(rule),
                 "applied": applied,
                 "changes": _changes(rule, address, not overridden) if applied else []}
        if not applied:
            entry["why_not"] = _why_not(routing)
        elif overridden:
            entry["overridden"] = (_("envelope recipient: rule #%(id)s has the higher priority")
                                   % {"id": rewritten_by})
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
        "reason": _reason(routing, spam),
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
