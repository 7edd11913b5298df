"""Sets of rules (triggers, automations, SLA calendars and policies) as YAML files: dumped
in a stable form, read with the line of each mapping so that a problem names it, and
compared."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import yaml

from casegate.errors import CasegateError

# Where reading a file notes each mapping's line; the checks ignore it.
LINE_KEY = "__line__"


class RuleError(CasegateError):
    """A rule cannot be saved as written; ``at`` is the part at fault."""

    def __init__(self, message: str, at: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.at = at


class Named(Protocol):
    @property
    def name(self) -> str: ...


Checked = TypeVar("Checked", bound=Named)


class _LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=True)
        mapping[LINE_KEY] = node.start_mark.line + 1
        return mapping


def load_with_lines(text: str, source: str, error: type[CasegateError]) -> Any:
    """The document, each mapping with its :data:`LINE_KEY`; ``error`` names a line that is
    not YAML."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise error(f"{source}{line}: not valid YAML: "
                    f"{getattr(exc, 'problem', None) or exc}") from None


def listed(text: str, source: str, plural: str, error: type[CasegateError]) -> list[Any]:
    """The items of a file of one key, ``plural``, a list (each mapping with its
    :data:`LINE_KEY`)."""
    document = load_with_lines(text, source, error)
    if document is None:
        return []
    if not isinstance(document, dict) or set(document) - {plural, LINE_KEY} \
            or not isinstance(document.get(plural, []), list):
        raise error(f"{source}:1: the file holds one key, {plural}, a list")
    return document.get(plural) or []


def without_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_lines(v) for k, v in value.items() if k != LINE_KEY}
    if isinstance(value, list):
        return [without_lines(v) for v in value]
    return value


def line_of(value: Any, default: int = 1) -> int:
    return value.get(LINE_KEY, default) if isinstance(value, dict) else default


def written_keys(mapping: dict[str, Any]) -> list[str]:
    """The mapping's keys as written (not the line reading noted)."""
    return [key for key in mapping if key != LINE_KEY]


def refuse_unknown_keys(mapping: dict[str, Any], keys: tuple[str, ...], what: str,
                        error: type[RuleError]) -> None:
    """``error`` naming the first key of ``mapping`` that is not one of ``keys``."""
    unknown = [key for key in written_keys(mapping) if key not in keys]
    if unknown:
        raise error(f"{what} has no {unknown[0]!r} (it has {', '.join(keys)})", mapping)


@dataclass
class ImportResult:
    """What importing a file changed (``diff``, of the exports before and after), the
    version it recorded (None: no change, or a dry run), how many rules the file holds, and
    what to tell once (a new webhook's secret)."""

    diff: str
    version: int | None
    rules: int
    notes: list[str] = field(default_factory=list)


def checked_items(items: list[Any], check: Callable[[Any], Checked], noun: str, source: str,
                  errors: list[str], key: Callable[[Checked], Hashable] = lambda spec: spec.name
                  ) -> list[tuple[int, Checked]]:
    """Each of a file's rules checked, with its line; what is wrong (a second rule of a
    name, or of a ``key``, too) goes to ``errors``, naming its line."""
    checked: list[tuple[int, Checked]] = []
    names: set[Hashable] = set()
    for item in items:
        item_line = line_of(item)
        try:
            spec = check(item)
        except RuleError as exc:
            errors.append(f"{source}:{line_of(exc.at, item_line)}: {exc}")
            continue
        if key(spec) in names:
            errors.append(f"{source}:{item_line}: a second {noun} named {spec.name!r}")
        names.add(key(spec))
        checked.append((item_line, spec))
    return checked


def dump(header: str, document: dict[str, Any]) -> str:
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100,
                                   default_flow_style=False)


def file_diff(before: str, after: str, what: str, source: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True),
                                        after.splitlines(keepends=True), what, source))
