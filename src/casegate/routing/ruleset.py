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
import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Literal

import yaml
from django.db import transaction

from casegate.errors import CasegateError
from casegate.routing.models import Rule, RuleVersion
from casegate.routing.services import (
    PreloadedDirectory,
    RuleError,
    RuleNames,
    RuleSpec,
    checked_rule,
    ordered_rules,
)
from casegate.routing.versions import insert_rules, replace_rules, versioned
from casegate.routing.vocabulary import MatchType
from casegate.text import whole_number

# libyaml's parser and emitter where PyYAML was built with it: a tenth of the time of the
# pure-Python ones, which read and write the same YAML. The base loader resolves no tags,
# which nothing reads: every value is read as text (see _value).
_LOADER = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_HEADER = "# casegate rules: the first rule has the highest priority\n"

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


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Python's cyclic garbage collector walks every live object again and again while a
    rule set of 100,000 rules is read or written (millions of nodes, dicts and rules), in
    most of the time the work takes; none of them needs it, so it waits until the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _file_dict(rule: Rule, names: RuleNames) -> dict[str, Any]:
    """One rule as the file writes it, with its defaults left out."""
    spec = {
        "match_type": rule.match_type, "match_value": rule.match_value,
        "rewrite": rule.rewrite, "rewrite_value": rule.rewrite_value,
        "also_deliver": rule.also_deliver, "bypass_spam": rule.bypass_spam,
        "apply_to": rule.apply_to, "description": rule.description,
        "enabled": rule.enabled, "action": rule.action, "reject_text": rule.reject_text,
        "org_unit": names.units[rule.org_unit_id] if rule.org_unit_id else "",
        "sender_list": names.lists[rule.sender_list_id] if rule.sender_list_id else "",
        "sender_list_mode": rule.sender_list_mode,
        "recipient_list": (names.lists[rule.recipient_list_id] if rule.recipient_list_id
                           else ""),
        "recipient_list_mode": rule.recipient_list_mode,
        "original_recipient_header": rule.original_recipient_header,
        "spam_headers": rule.spam_headers,
        "custom_headers": [f"{name}: {value}" for name, value in rule.custom_headers],
        "subject_prefix": rule.subject_prefix,
        "route": names.routes[rule.route_id] if rule.route_id else "",
        "remove_attachments": rule.remove_attachments,
        "require_tls": rule.require_tls, "rate_limit": rule.rate_limit,
    }
    default_apply_to = (Rule.APPLY_UNRECOGNIZED if rule.match_type == MatchType.ALL
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


# Text PyYAML writes as it is (a plain scalar): printable ASCII without spaces that starts
# with no indicator, does not end with ":" and is read back as text (not as a number, a
# boolean or null: _RESOLVER decides that as PyYAML does).
_PLAIN = re.compile(r"(?![-?:,\[\]{}#&*!|>'\"%@`.])[!-~]+(?<!:)")
_RESOLVER = yaml.resolver.Resolver()
_TEXT = "tag:yaml.org,2002:str"


@lru_cache(maxsize=1 << 16)  # the same words and addresses come back rule after rule
def _plain(value: str) -> bool:
    return bool(_PLAIN.fullmatch(value)) and _RESOLVER.resolve(
        yaml.ScalarNode, value, (True, False)) == _TEXT


def _plain_item(rule: dict[str, Any]) -> str | None:
    """The rule as a list item of the export, written here when every value is plain (most
    rules): what PyYAML writes, without the time it takes (half of an import of 100,000
    rules). ``None`` when a value needs quoting."""
    lines = []
    for key, value in rule.items():
        if isinstance(value, bool):
            lines.append(f"{key}: {'true' if value else 'false'}")
        elif isinstance(value, int) or (isinstance(value, str) and _plain(value)):
            lines.append(f"{key}: {value}")
        elif (isinstance(value, list) and value
              and all(isinstance(v, str) and _plain(v) for v in value)):
            lines += [f"{key}:", *(f"- {v}" for v in value)]
        else:
            return None
    return "- " + "\n  ".join(lines) + "\n"


def _items(rules: list[Rule], names: RuleNames) -> list[str]:
    """Each rule's text in the export, in order. Two rules with the same text are the same
    rule."""
    dicts = [_file_dict(rule, names) for rule in rules]
    items = [_plain_item(rule) for rule in dicts]
    quoted = [rule for rule, item in zip(dicts, items, strict=True) if item is None]
    if not quoted:
        return [item for item in items if item is not None]
    # The rest in one call; each item starts at a "- " in the first column.
    written = iter(re.split(r"(?m)^(?=- )", yaml.dump(
        quoted, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=100))[1:])
    return [next(written) if item is None else item for item in items]


def _head(items: list[str]) -> list[str]:
    return [_HEADER, "rules:\n" if items else "rules: []\n"]


def _document(items: list[str]) -> str:
    return "".join(_head(items) + items)


@_without_cyclic_gc()
def export_rules() -> str:
    """The whole rule set as YAML, in order."""
    rules = ordered_rules()
    return _document(_items(rules, RuleNames.read()))


_Opcode = tuple[Literal["replace", "delete", "insert", "equal"], int, int, int, int]


class _Opcodes(difflib.SequenceMatcher[str]):
    """Line opcodes found beforehand, grouped into hunks by difflib."""

    def __init__(self, opcodes: list[_Opcode]) -> None:
        super().__init__(None, "", "")
        self._found = opcodes

    def get_opcodes(self) -> list[_Opcode]:
        return self._found


def _line_opcodes(before: list[list[str]], after: list[list[str]]) -> list[_Opcode]:
    """Opcodes over the lines of two exports, given as each rule's lines. Rules are matched
    whole first (a line diff of 100,000 rules takes minutes and loses its way among their
    repeated lines); a changed rule is then compared line by line with the rule in its
    place."""
    starts_a, starts_b = [0], [0]
    for lines in before:
        starts_a.append(starts_a[-1] + len(lines))
    for lines in after:
        starts_b.append(starts_b[-1] + len(lines))
    found: list[_Opcode] = []

    def add(tag: Literal["replace", "delete", "insert", "equal"], a1: int, a2: int, b1: int,
            b2: int) -> None:
        if found and found[-1][0] == tag == "equal":
            a1, b1 = found.pop()[1::2]
        found.append((tag, a1, a2, b1, b2))

    rules = difflib.SequenceMatcher(None, ["".join(r) for r in before],
                                    ["".join(r) for r in after], autojunk=False)
    for tag, i1, i2, j1, j2 in rules.get_opcodes():
        if tag == "equal":
            add(tag, starts_a[i1], starts_a[i2], starts_b[j1], starts_b[j2])
            continue
        paired = min(i2 - i1, j2 - j1)
        for i, j in zip(range(i1, i1 + paired), range(j1, j1 + paired), strict=True):
            rule_lines = difflib.SequenceMatcher(None, before[i], after[j], autojunk=False)
            for inner, a1, a2, b1, b2 in rule_lines.get_opcodes():
                add(inner, starts_a[i] + a1, starts_a[i] + a2, starts_b[j] + b1,
                    starts_b[j] + b2)
        if i1 + paired < i2:
            add("delete", starts_a[i1 + paired], starts_a[i2], starts_b[j2], starts_b[j2])
        if j1 + paired < j2:
            add("insert", starts_a[i2], starts_a[i2], starts_b[j1 + paired], starts_b[j2])
    return found


def _hunk_range(start: int, stop: int) -> str:
    """A unified diff's line range, as difflib writes it."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _diff(before: list[str], after: list[str], to_name: str) -> Iterator[str]:
    """The unified diff (3 lines of context) between the exports with the rules
    ``before`` and ``after`` (each rule's text)."""
    a = [_head(before)] + [item.splitlines(keepends=True) for item in before]
    b = [_head(after)] + [item.splitlines(keepends=True) for item in after]
    a_lines = [line for lines in a for line in lines]
    b_lines = [line for lines in b for line in lines]
    for number, group in enumerate(_Opcodes(_line_opcodes(a, b)).get_grouped_opcodes(3)):
        if not number:
            yield "--- current rules\n"
            yield f"+++ {to_name}\n"
        first, last = group[0], group[-1]
        yield f"@@ -{_hunk_range(first[1], last[2])} +{_hunk_range(first[3], last[4])} @@\n"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a_lines[i1:i2])
                continue
            yield from ("-" + line for line in a_lines[i1:i2])
            yield from ("+" + line for line in b_lines[j1:j2])


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _headers(value: Any) -> list[tuple[str, str]] | None:
    """``custom_headers`` as written: a list of ``Name: value`` texts, or a mapping."""
    if isinstance(value, dict):
        if all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return list(value.items())
        return None
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
        number = whole_number(value) if isinstance(value, str) else None
        if number is not None:
            return number, ""
        return None, "rate_limit is a number of messages per minute"
    if not isinstance(value, str):
        return None, f"{key} is a text"
    return value, ""


def _as_written(node: yaml.Node, nested: bool = False) -> Any:
    """A value node as text, a list or a mapping of texts, as PyYAML's BaseLoader reads it.
    A collection inside a collection is no valid value: it stays a node, which every check
    of :func:`_value` refuses."""
    if isinstance(node, yaml.ScalarNode):
        return node.value
    if nested:
        return node
    if isinstance(node, yaml.SequenceNode):
        return [_as_written(item, True) for item in node.value]
    return {_as_written(key, True): _as_written(item, True) for key, item in node.value}


def _spec(node: yaml.Node, source: str) -> tuple[RuleSpec | None, list[str]]:
    where = f"{source}:{_line(node)}"
    if not isinstance(node, yaml.MappingNode):
        return None, [f"{where}: a rule is a mapping of keys to values"]
    errors: list[str] = []
    values: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = key_node.value
        if key not in _KEYS:
            errors.append(f"{source}:{_line(key_node)}: unknown key {key!r} "
                          f"(known: {', '.join(sorted(_KEYS))})")
            continue
        name = _KEYS[key]
        value, problem = _value(name, key, _as_written(value_node))
        if problem:
            errors.append(f"{source}:{_line(key_node)}: {problem}")
        else:
            values[name] = value
    if "match_type" not in values:
        errors.append(f"{where}: the rule has no match (address, pattern, group or all)")
    if errors:
        return None, errors
    return RuleSpec(**values), []


def _compose(text: str, source: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        pass  # the pure-Python parser decides, and words the problem as it always has
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise RulesetError(f"{source}{line}: not valid YAML: "
                           f"{getattr(exc, 'problem', None) or exc}") from None


def parse_rules(text: str, source: str = "rules.yaml") -> list[tuple[int, RuleSpec]]:
    """The file's rules with their line numbers; :class:`RulesetError` lists every problem."""
    root = _compose(text, source)
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


@_without_cyclic_gc()
def import_rules(text: str, source: str = "rules.yaml", dry_run: bool = False
                 ) -> ImportResult:
    """Make the rule set the file's (as one version), or with ``dry_run`` only tell what
    would change. Rules that stay keep their numbers; only what changed is recorded.

    The rules are checked against the directory read once (not with queries per rule) and
    the new ones saved in batches, so 100,000 rules take seconds."""
    specs = parse_rules(text, source)
    result = ImportResult("", None, len(specs))
    with transaction.atomic():
        old = ordered_rules()
        directory = PreloadedDirectory()
        new: list[Rule] = []
        errors = []
        for line, spec in specs:
            try:
                new.append(checked_rule(spec, directory))
            except RuleError as exc:
                errors.append(f"{source}:{line}: {exc}")
        if errors:
            raise RulesetError("\n".join([*errors, "nothing was changed"]))
        names = RuleNames.read()
        before, after = _items(old, names), _items(new, names)
        if before == after:
            return result
        result.diff = "".join(_diff(before, after, source))
        if dry_run:
            return result
        unused: dict[str, list[int]] = {}
        for rule, item in zip(old, before, strict=True):
            unused.setdefault(item, []).append(rule.pk)
        order: list[int | Rule] = []
        added: list[Rule] = []
        for rule, item in zip(new, after, strict=True):
            # A file rule that an existing rule already is stays under its old number.
            if unused.get(item):
                order.append(unused[item].pop(0))
            else:
                rule.position = len(order) + 1
                order.append(rule)
                added.append(rule)
        with versioned(f"import {source}"):
            insert_rules(added)
            ids = [entry if isinstance(entry, int) else entry.pk for entry in order]
            kept = set(ids)
            replace_rules([rule for rule in old if rule.pk not in kept], added,
                          [rule.pk for rule in old], ids)
    result.version = RuleVersion.objects.order_by("-number").values_list(
        "number", flat=True).first()
    return result
