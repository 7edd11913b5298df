"""The rule set as a YAML file: ``casegate rule export`` and ``casegate rule import``.

The file lists the rules in their order (the first has the highest priority); a key left
out has its default. Importing makes the rule set exactly the file's, as one version, or
changes nothing at all: a file with one bad rule is refused whole, each problem with its
line number.

.. code-block:: yaml

    rules:
      - match: address            # address, pattern, group or all
        value: help@solarmora.com
        change: recipient         # recipient, user or domain
        to: support@desk.solarmora.com
        also_deliver: [alex@solarmora.com]
        bypass_spam: true
      - match: group
        value: sales@solarmora.com
        subject_prefix: "[Sales]"
        custom_headers: ["X-Team: sales"]
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, fields
from typing import Any

import yaml
from django.db import transaction

from casegate.errors import CasegateError
from casegate.routing.models import Rule
from casegate.routing.services import (
    RuleError,
    RuleSpec,
    company_domains,
    create_rule,
    rules_as_dicts,
)
from casegate.routing.versions import replace_rules, versioned
from casegate.routing.vocabulary import MatchType

# File key -> RuleSpec field, for the keys whose names differ.
_RENAMED = {"match": "match_type", "value": "match_value", "change": "rewrite",
            "to": "rewrite_value", "unit": "org_unit"}
_SPEC_FIELDS = {f.name: f for f in fields(RuleSpec)}
_KEYS = {**_RENAMED, **{name: name for name in _SPEC_FIELDS if name not in _RENAMED.values()
                        and name != "position"}}
_BOOLEANS = {"bypass_spam", "enabled", "spam_headers", "remove_attachments", "require_tls"}
_DEFAULTS = {name: (f.default_factory() if callable(f.default_factory) else f.default)
             for name, f in _SPEC_FIELDS.items()}


class RulesetError(CasegateError):
    """The file was refused; nothing changed."""


@dataclass
class ImportResult:
    diff: str
    version: int | None
    rules: int


def _file_dict(rule: dict[str, Any]) -> dict[str, Any]:
    """One exported rule (from :func:`rules_as_dicts`) with its defaults left out."""
    spec = {
        "match_type": rule["match"], "match_value": rule["match_value"],
        "rewrite": rule["change_recipient"] or "", "rewrite_value": rule["change_value"] or "",
        "also_deliver": rule["also_deliver"], "bypass_spam": rule["bypass_spam"],
        "apply_to": rule["apply_to"], "description": rule["description"],
        "enabled": rule["enabled"], "action": rule["action"],
        "reject_text": rule["reject_text"] or "",
        "org_unit": "" if rule["org_unit"] == "/" else rule["org_unit"],
        "sender_list": rule["sender_list"] or "",
        "sender_list_mode": rule["sender_list_mode"] or "",
        "recipient_list": rule["recipient_list"] or "",
        "recipient_list_mode": rule["recipient_list_mode"] or "",
        "original_recipient_header": rule["original_recipient_header"] or "",
        "spam_headers": rule["spam_headers"],
        "custom_headers": [f"{name}: {value}" for name, value in rule["custom_headers"]],
        "subject_prefix": rule["subject_prefix"] or "", "route": rule["route"] or "",
        "remove_attachments": rule["remove_attachments"],
        "require_tls": rule["require_tls"], "rate_limit": rule["rate_limit"],
    }
    default_apply_to = (Rule.APPLY_UNRECOGNIZED if rule["match"] == MatchType.ALL
                        else Rule.APPLY_ALL)
    out: dict[str, Any] = {}
    for key, name in _KEYS.items():
        value = spec[name]
        if name == "apply_to" and value == default_apply_to:
            continue
        if value in (_DEFAULTS[name], {}, []) and name != "match_type":
            continue
        out[key] = value
    return out


def export_rules() -> str:
    """The whole rule set as YAML, in order."""
    rules = [_file_dict(rule) for rule in rules_as_dicts()]
    header = "# casegate rules: the first rule has the highest priority\n"
    return header + yaml.safe_dump({"rules": rules}, sort_keys=False, allow_unicode=True,
                                   width=100)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _headers(value: Any) -> list[tuple[str, str]] | None:
    """``custom_headers`` as written: a list of ``Name: value`` texts, or a mapping."""
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list) and all(isinstance(v, str) and ":" in v for v in value):
        return [(name.strip(), text.strip()) for name, _, text in
                (v.partition(":") for v in value)]
    return None


def _value(name: str, key: str, value: Any) -> tuple[Any, str]:
    """The RuleSpec value of one key (every scalar is read as text: YAML 1.1 would turn
    ``yes`` into true, ``0755`` into 493 and ``12:30`` into 750), or the problem."""
    if name in _BOOLEANS:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true", ""
        return None, f"{key} is true or false"
    if name == "also_deliver":
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value, ""
        return None, "also_deliver is a list of addresses"
    if name == "custom_headers":
        headers = _headers(value)
        if headers is None:
            return None, "custom_headers is a list of 'Name: value' texts"
        return headers, ""
    if name == "rate_limit":
        if isinstance(value, str) and value in ("", "~", "null"):
            return None, ""
        if isinstance(value, str) and value.isdigit():
            return int(value), ""
        return None, "rate_limit is a number of messages per minute"
    if not isinstance(value, str):
        return None, f"{key} is a text"
    return value, ""


def _spec(node: yaml.Node, source: str) -> tuple[RuleSpec | None, list[str]]:
    where = f"{source}:{_line(node)}"
    if not isinstance(node, yaml.MappingNode):
        return None, [f"{where}: a rule is a mapping of keys to values"]
    errors: list[str] = []
    values: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = key_node.value
        at = f"{source}:{_line(key_node)}"
        if key not in _KEYS:
            errors.append(f"{at}: unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
            continue
        name = _KEYS[key]
        value, problem = _value(name, key, yaml.load(yaml.serialize(value_node),
                                                     Loader=yaml.BaseLoader))
        if problem:
            errors.append(f"{at}: {problem}")
        else:
            values[name] = value
    if "match_type" not in values:
        errors.append(f"{where}: the rule has no match (address, pattern, group or all)")
    if errors:
        return None, errors
    return RuleSpec(**values), []


def parse_rules(text: str, source: str = "rules.yaml") -> list[tuple[int, RuleSpec]]:
    """The file's rules with their line numbers; :class:`RulesetError` lists every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise RulesetError(f"{source}{line}: not valid YAML: "
                           f"{getattr(exc, 'problem', None) or exc}") from None
    if root is None:
        return []
    items = root
    if isinstance(root, yaml.MappingNode):
        found = [v for k, v in root.value if k.value == "rules"]
        if not found or len(root.value) != 1:
            raise RulesetError(f"{source}:{_line(root)}: the file holds one key, rules")
        items = found[0]
    if not isinstance(items, yaml.SequenceNode):
        raise RulesetError(f"{source}:{_line(items)}: rules is a list")
    specs: list[tuple[int, RuleSpec]] = []
    errors: list[str] = []
    for node in items.value:
        spec, problems = _spec(node, source)
        errors += problems
        if spec is not None:
            specs.append((_line(node), spec))
    if errors:
        raise RulesetError("\n".join(errors))
    return specs


class _DryRun(Exception):
    pass


def _keys(rules: list[Rule]) -> list[str]:
    """What each rule does, as text: two rules with the same key are the same rule."""
    return [json.dumps(_file_dict(d), sort_keys=True) for d in rules_as_dicts(rules)]


def import_rules(text: str, source: str = "rules.yaml", dry_run: bool = False
                 ) -> ImportResult:
    """Make the rule set the file's (as one version), or with ``dry_run`` only tell what
    would change. Rules that stay keep their numbers; only what changed is recorded."""
    specs = parse_rules(text, source)
    before = export_rules()
    result = ImportResult("", None, len(specs))
    try:
        with transaction.atomic(), versioned(f"import {source}"):
            old = list(Rule.objects.select_related("sender_list", "recipient_list", "route")
                       .order_by("position", "id"))
            created: list[Rule] = []
            errors = []
            domains = company_domains()
            for line, spec in specs:
                spec.position = None
                try:
                    with transaction.atomic():
                        created.append(create_rule(spec, domains))
                except RuleError as exc:
                    errors.append(f"{source}:{line}: {exc}")
            if errors:
                raise RulesetError("\n".join([*errors, "nothing was changed"]))
            unused: dict[str, list[int]] = {}
            for rule, key in zip(old, _keys(old), strict=True):
                unused.setdefault(key, []).append(rule.pk)
            order: list[int] = []
            added: list[Rule] = []
            for rule, key in zip(created, _keys(created), strict=True):
                if unused.get(key):
                    order.append(unused[key].pop(0))
                else:
                    order.append(rule.pk)
                    added.append(rule)
            # A file rule that an existing rule already is stays under its old number.
            Rule.objects.filter(pk__in={r.pk for r in created} - {r.pk for r in added}).delete()
            kept = set(order)
            replace_rules([r for r in old if r.pk not in kept], added, [r.pk for r in old],
                          order)
            after = export_rules()
            result.diff = "".join(difflib.unified_diff(
                before.splitlines(keepends=True), after.splitlines(keepends=True),
                "current rules", source))
            if dry_run or not result.diff:
                raise _DryRun
    except _DryRun:
        return result
    from casegate.routing.models import RuleVersion

    latest = RuleVersion.objects.order_by("-number").first()
    result.version = latest.number if latest and result.diff else None
    return result
