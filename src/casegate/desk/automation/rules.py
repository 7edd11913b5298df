"""Triggers, automations and actions as data: checking what is saved, and compiling it for
the engines.

A trigger's ``conditions`` are ``{"all": [...], "any": [...]}``: every condition of
``all`` and, when ``any`` has some, at least one of them. A condition is one field and one
operator with its value (``{"field": "subject", "contains": "refund"}``); ``is``,
``is_not``, ``includes`` and ``excludes`` take a text or a list of texts. Text compares
whatever the case; ``matches`` takes an RE2 expression, compiled once when the triggers are
loaded (linear time, so no expression can make matching slow).

``actions`` is a list, run in order, of one-key mappings (``{"team": "Billing"}``); only
``notify`` takes a second key, ``text``.

An automation has no events: the clock runs it. Its conditions read the case, not a
message, and its ``all`` counts hours too (``{"field": "hours_since_status_changed",
"at_least": 72}``); at least one of them counts ``at_least`` some hours, which is what lets
the clock find its cases with one query and act on each once a period.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2

from casegate.desk.automation.vocabulary import (
    AUTOMATION_FIELDS,
    OPERATORS,
    PLACEHOLDERS,
    ActionKind,
    ConditionField,
    NotifyTarget,
    Operator,
    TimeField,
    TimeOperator,
    TriggerEvent,
)
from casegate.desk.rule_files import RuleError, refuse_unknown_keys, written_keys
from casegate.desk.vocabulary import CaseStatus, Priority, Rating
from casegate.directory.addresses import InvalidAddress, normalize_address

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_.]+)\s*\}\}")
_LIST_OPERATORS = (Operator.IS, Operator.IS_NOT, Operator.INCLUDES, Operator.EXCLUDES)
_BOOLEAN_FIELDS = (ConditionField.SPAM,)
MAX_HOURS = 24 * 365 * 10


class TriggerError(RuleError):
    """A trigger or macro cannot be saved as written; ``at`` is the part at fault."""


def _texts(value: Any, what: str, at: dict[str, Any]) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise TriggerError(f"{what} takes a text or a list of texts", at)
    return [v.strip() for v in values]


def _text(value: Any, what: str, at: dict[str, Any]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TriggerError(f"{what} takes a text", at)
    return value.strip()


def check_placeholders(text: str, at: dict[str, Any] | None = None,
                       known: tuple[str, ...] = PLACEHOLDERS) -> str:
    """``text`` when every ``{{placeholder}}`` in it is one of ``known``."""
    unknown = sorted({name for name in _PLACEHOLDER.findall(text) if name not in known})
    if unknown:
        raise TriggerError(f"unknown placeholder {{{{{unknown[0]}}}}} (known: "
                           f"{', '.join(known)})", at)
    return text


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _check_pattern(pattern: str, at: dict[str, Any]) -> None:
    try:
        re2.compile(pattern, options=_pattern_options())
    except re2.error:
        raise TriggerError(f"{pattern!r} is not a regular expression RE2 can match (no "
                           "backreferences or lookarounds)", at) from None


def _pattern_options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return options


def check_condition(condition: Any) -> dict[str, Any]:
    """The condition as stored: ``{"field": F, OPERATOR: value}``."""
    if not isinstance(condition, dict):
        raise TriggerError("a condition is a mapping: {field: subject, contains: refund}")
    field = condition.get("field")
    if field not in ConditionField.values:
        raise TriggerError(f"a condition's field is one of {', '.join(ConditionField.values)}"
                           + (f", not {field!r}" if field else ""), condition)
    operators = [key for key in written_keys(condition) if key != "field"]
    allowed = OPERATORS[field]
    if len(operators) != 1 or operators[0] not in allowed:
        raise TriggerError(f"the condition on {field} takes one of "
                           f"{', '.join(allowed)}", condition)
    operator = operators[0]
    value = condition[operator]
    if field in _BOOLEAN_FIELDS:
        if not isinstance(value, bool):
            raise TriggerError(f"{field} is true or false", condition)
        return {"field": field, operator: value}
    if operator in _LIST_OPERATORS:
        texts = _texts(value, f"{field} {operator}", condition)
        if field == ConditionField.STATUS:
            _known(texts, CaseStatus.values, "status", condition)
        elif field == ConditionField.PRIORITY:
            _known(texts, Priority.values, "priority", condition)
        elif field == ConditionField.SATISFACTION:
            _known(texts, Rating.values, "satisfaction rating", condition)
        elif field == ConditionField.INTAKE:
            texts = [_address(t, condition) for t in texts]
        return {"field": field, operator: texts[0] if len(texts) == 1 else texts}
    text = _text(value, f"{field} {operator}", condition)
    if operator in (Operator.MATCHES, Operator.NOT_MATCHES):
        _check_pattern(text, condition)
    return {"field": field, operator: text}


def _known(values: list[str], known: list[str], what: str, at: dict[str, Any]) -> None:
    for value in values:
        if value not in known:
            raise TriggerError(f"a {what} is one of {', '.join(known)}, not {value!r}", at)


def _address(text: str, at: dict[str, Any]) -> str:
    try:
        return normalize_address(text)
    except InvalidAddress as exc:
        raise TriggerError(str(exc), at) from None


def _check_groups(conditions: Any, check: Callable[[Any, str], dict[str, Any]]
                  ) -> dict[str, list[dict[str, Any]]]:
    """``all`` and ``any``, each condition checked by ``check`` (the condition, its group)."""
    if conditions in (None, {}):
        return {"all": [], "any": []}
    if not isinstance(conditions, dict) or set(written_keys(conditions)) - {"all", "any"}:
        raise TriggerError("conditions are a mapping with all and any, each a list",
                           conditions if isinstance(conditions, dict) else None)
    checked: dict[str, list[dict[str, Any]]] = {}
    for group in ("all", "any"):
        items = conditions.get(group) or []
        if not isinstance(items, list):
            raise TriggerError(f"conditions' {group} is a list", conditions)
        checked[group] = [check(item, group) for item in items]
    return checked


def check_conditions(conditions: Any) -> dict[str, list[dict[str, Any]]]:
    return _check_groups(conditions, lambda condition, _group: check_condition(condition))


def _tags(value: Any, at: dict[str, Any]) -> list[str]:
    tags = sorted({t.lower() for t in _texts(value, "tags", at)})
    if any(len(t) > 50 or "," in t for t in tags):
        raise TriggerError("a tag is at most 50 characters, without commas", at)
    return tags


def check_action(action: Any, replies: bool = True) -> dict[str, Any]:
    """The action as stored: ``{KIND: value}`` (``notify`` also has ``text``)."""
    if not isinstance(action, dict):
        raise TriggerError("an action is a mapping of one kind to its value: {team: Billing}")
    kinds = [key for key in written_keys(action) if key in ActionKind.values]
    others = [key for key in written_keys(action)
              if key not in ActionKind.values and key != "text"]
    if len(kinds) != 1 or others:
        raise TriggerError(f"an action has one of {', '.join(ActionKind.values)}", action)
    kind = kinds[0]
    value = action[kind]
    if "text" in action and kind != ActionKind.NOTIFY:
        raise TriggerError("only notify takes a text", action)
    if kind == ActionKind.STATUS:
        _known([value], CaseStatus.values, "status", action)
    elif kind == ActionKind.PRIORITY:
        _known([value], Priority.values, "priority", action)
    elif kind in (ActionKind.ADD_TAGS, ActionKind.REMOVE_TAGS):
        return {kind: _tags(value, action)}
    elif kind == ActionKind.WEBHOOK:
        if not replies:
            raise TriggerError("a macro cannot call a webhook; a trigger can", action)
        return {kind: _text(value, kind, action)[:100]}
    elif kind == ActionKind.ASSIGN:
        if not isinstance(value, str):
            raise TriggerError("assign takes a user name (empty: unassign)", action)
        return {kind: value.strip()}
    elif kind in (ActionKind.REPLY, ActionKind.NOTE):
        if kind == ActionKind.REPLY and not replies:
            raise TriggerError("a macro's reply is its reply text, not an action", action)
        return {kind: check_placeholders(_text(value, kind, action), action)}
    elif kind == ActionKind.NOTIFY:
        target = _text(value, "notify", action)
        if target not in NotifyTarget.values:
            target = _address(target, action)
        text = action.get("text", "")
        if not isinstance(text, str):
            raise TriggerError("notify's text is a text", action)
        return {kind: target, "text": check_placeholders(text, action)}
    else:  # the team, and the team to assign in
        return {kind: _text(value, kind, action)[:100]}
    return {kind: value}


def check_actions(actions: Any, replies: bool = True) -> list[dict[str, Any]]:
    if not isinstance(actions, list):
        raise TriggerError("actions are a list")
    return [check_action(action, replies) for action in actions]


@dataclass(frozen=True)
class TriggerSpec:
    """A trigger as checked, ready to be saved."""

    name: str
    events: list[str]
    conditions: dict[str, list[dict[str, Any]]]
    actions: list[dict[str, Any]]
    enabled: bool = True
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "events": self.events, "conditions": self.conditions,
                "actions": self.actions, "enabled": self.enabled,
                "description": self.description}


_TRIGGER_KEYS = ("name", "events", "conditions", "actions", "enabled", "description")
_AUTOMATION_KEYS = ("name", "conditions", "actions", "enabled", "description")


def _rule_fields(data: Any, what: str, keys: tuple[str, ...]
                 ) -> tuple[str, list[dict[str, Any]], bool, str]:
    """What triggers and automations have alike, checked: name, actions, enabled,
    description (``what``: "a trigger", "an automation")."""
    if not isinstance(data, dict):
        raise TriggerError(f"{what} is a mapping: {', '.join(keys[:-2])}")
    refuse_unknown_keys(data, keys, what, TriggerError)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        raise TriggerError(f"{what} needs a name of at most 200 characters", data)
    actions = check_actions(data.get("actions"))
    if not actions:
        raise TriggerError(f"{what} needs at least one action", data)
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise TriggerError("enabled is true or false", data)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise TriggerError("description is a text", data)
    return name.strip(), actions, enabled, description.strip()[:500]


def check_trigger(data: Any) -> TriggerSpec:
    """A trigger's fields as written (the CLI's, the API's, a YAML file's), checked."""
    name, actions, enabled, description = _rule_fields(data, "a trigger", _TRIGGER_KEYS)
    events = data.get("events")
    events = [events] if isinstance(events, str) else events
    if not events or not isinstance(events, list):
        raise TriggerError(f"a trigger needs events: {', '.join(TriggerEvent.values)}", data)
    for event in events:
        if event not in TriggerEvent.values:
            raise TriggerError(f"an event is one of {', '.join(TriggerEvent.values)}, not "
                               f"{event!r}", data)
    return TriggerSpec(name, list(dict.fromkeys(events)),
                       check_conditions(data.get("conditions")), actions, enabled, description)


@dataclass(frozen=True)
class AutomationSpec:
    """An automation as checked, ready to be saved."""

    name: str
    conditions: dict[str, list[dict[str, Any]]]
    actions: list[dict[str, Any]]
    enabled: bool = True
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "conditions": self.conditions, "actions": self.actions,
                "enabled": self.enabled, "description": self.description}


def check_time_condition(condition: dict[str, Any]) -> dict[str, Any]:
    """``{"field": hours_since_…, at_least|less_than: hours}``, hours a whole number."""
    field = condition["field"]
    operators = [key for key in written_keys(condition) if key != "field"]
    if len(operators) != 1 or operators[0] not in TimeOperator.values:
        raise TriggerError(f"the condition on {field} takes one of "
                           f"{', '.join(TimeOperator.values)}", condition)
    operator = operators[0]
    hours = condition[operator]
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_HOURS:
        raise TriggerError(f"{field} {operator} takes a whole number of hours from 1 to "
                           f"{MAX_HOURS}", condition)
    return {"field": field, operator: hours}


def _check_automation_condition(condition: Any, group: str) -> dict[str, Any]:
    field = condition.get("field") if isinstance(condition, dict) else None
    if isinstance(condition, dict) and field in TimeField.values:
        if group != "all":
            raise TriggerError("hours are counted in all, not in any", condition)
        return check_time_condition(condition)
    if isinstance(condition, dict) and field not in AUTOMATION_FIELDS:
        raise TriggerError(f"an automation's condition reads one of "
                           f"{', '.join([*TimeField.values, *AUTOMATION_FIELDS])}"
                           + (f", not {field!r}" if field else ""), condition)
    return check_condition(condition)


def _counts_hours(condition: dict[str, Any]) -> bool:
    return condition["field"] in TimeField.values and TimeOperator.AT_LEAST in condition


def check_automation_conditions(conditions: Any) -> dict[str, list[dict[str, Any]]]:
    checked = _check_groups(conditions, _check_automation_condition)
    if not any(_counts_hours(c) for c in checked["all"]):
        raise TriggerError("an automation needs a condition in all that counts at least some "
                           "hours, such as {field: hours_since_status_changed, at_least: 72}",
                           conditions)
    return checked


def check_automation(data: Any) -> AutomationSpec:
    """An automation's fields as written (the CLI's, the API's, a YAML file's), checked."""
    name, actions, enabled, description = _rule_fields(data, "an automation", _AUTOMATION_KEYS)
    return AutomationSpec(name, check_automation_conditions(data.get("conditions")), actions,
                          enabled, description)


# What the engine runs: conditions compiled once per set of triggers.

FactValue = str | frozenset[str] | bool | float
Test = Callable[[FactValue], bool]


@dataclass(frozen=True)
class Condition:
    field: str
    test: Test


def _lowered(value: Any) -> frozenset[str]:
    return frozenset(v.lower() for v in (value if isinstance(value, list) else [value]))


def compile_condition(condition: dict[str, Any]) -> Condition:
    field = condition["field"]
    [operator] = [key for key in condition if key != "field"]
    value = condition[operator]
    if field in TimeField.values:
        at_least = operator == TimeOperator.AT_LEAST

        def hours(fact: FactValue) -> bool:
            assert isinstance(fact, float)
            return (fact >= value) is at_least

        return Condition(field, hours)
    if field in _BOOLEAN_FIELDS:
        return Condition(field, value.__eq__)
    if operator in _LIST_OPERATORS:
        wanted = _lowered(value)
        if operator in (Operator.IS, Operator.IS_NOT):
            expected = operator == Operator.IS

            def one_of(fact: FactValue) -> bool:
                return (str(fact).lower() in wanted) is expected

            return Condition(field, one_of)
        disjoint = operator == Operator.EXCLUDES

        def has(fact: FactValue) -> bool:
            assert isinstance(fact, frozenset)
            return wanted.isdisjoint(fact) is disjoint

        return Condition(field, has)
    expected = operator in (Operator.CONTAINS, Operator.MATCHES)
    if operator in (Operator.CONTAINS, Operator.NOT_CONTAINS):
        needle = value.lower()

        def contains(fact: FactValue) -> bool:
            return (needle in str(fact).lower()) is expected

        return Condition(field, contains)
    pattern = re2.compile(value, options=_pattern_options())

    def matches(fact: FactValue) -> bool:
        return (pattern.search(str(fact)) is not None) is expected

    return Condition(field, matches)


@dataclass(frozen=True)
class CompiledTrigger:
    """A trigger ready to run: ``intakes`` are the intakes its ``all`` conditions limit it
    to (None: any), by which the engine files it."""

    id: int
    name: str
    position: int
    events: frozenset[str]
    all: tuple[Condition, ...]
    any: tuple[Condition, ...]
    actions: tuple[dict[str, Any], ...]
    intakes: frozenset[str] | None

    def matches(self, fact: Callable[[str], FactValue]) -> bool:
        return holds(self.all, self.any, fact)


def holds(every: tuple[Condition, ...], some: tuple[Condition, ...],
          fact: Callable[[str], FactValue]) -> bool:
    """Every condition of ``every`` and, when ``some`` has any, one of them."""
    for condition in every:
        if not condition.test(fact(condition.field)):
            return False
    return not some or any(c.test(fact(c.field)) for c in some)


def compile_trigger(pk: int, name: str, position: int, events: list[str],
                    conditions: dict[str, list[dict[str, Any]]],
                    actions: list[dict[str, Any]]) -> CompiledTrigger:
    intakes: frozenset[str] | None = None
    for condition in conditions.get("all", []):
        if condition["field"] == ConditionField.INTAKE and Operator.IS in condition:
            named = _lowered(condition[Operator.IS])
            intakes = named if intakes is None else intakes & named
    return CompiledTrigger(
        pk, name, position, frozenset(events),
        tuple(compile_condition(c) for c in conditions.get("all", [])),
        tuple(compile_condition(c) for c in conditions.get("any", [])),
        tuple(actions), intakes)


@dataclass(frozen=True)
class CompiledAutomation:
    """An automation ready to run; ``conditions`` as saved, from which the clock builds its
    query. ``times``: the times its conditions count hours from; ``period_times``: those it
    waits for (``at_least``), the latest of which is a case's period, acted on once."""

    id: int
    name: str
    conditions: dict[str, list[dict[str, Any]]]
    all: tuple[Condition, ...]
    any: tuple[Condition, ...]
    actions: tuple[dict[str, Any], ...]
    times: tuple[str, ...]
    period_times: tuple[str, ...]

    def matches(self, fact: Callable[[str], FactValue]) -> bool:
        return holds(self.all, self.any, fact)


def compile_automation(pk: int, name: str, conditions: dict[str, list[dict[str, Any]]],
                       actions: list[dict[str, Any]]) -> CompiledAutomation:
    every = conditions.get("all", [])
    return CompiledAutomation(
        pk, name, conditions, tuple(compile_condition(c) for c in every),
        tuple(compile_condition(c) for c in conditions.get("any", [])), tuple(actions),
        tuple(dict.fromkeys(c["field"] for c in every if c["field"] in TimeField.values)),
        tuple(dict.fromkeys(c["field"] for c in every if _counts_hours(c))))
