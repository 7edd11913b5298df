"""Sets of rules (triggers, SLA calendars and policies) as YAML files: dumped in a stable
form, read with the line of each mapping so that a problem names it, and compared."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from casegate.errors import CasegateError

# Where reading a file notes each mapping's line; the checks ignore it.
LINE_KEY = "__line__"


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


def without_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_lines(v) for k, v in value.items() if k != LINE_KEY}
    if isinstance(value, list):
        return [without_lines(v) for v in value]
    return value


def line_of(value: Any, default: int = 1) -> int:
    return value.get(LINE_KEY, default) if isinstance(value, dict) else default


def dump(header: str, document: dict[str, Any]) -> str:
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100,
                                   default_flow_style=False)


def file_diff(before: str, after: str, what: str, source: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True),
                                        after.splitlines(keepends=True), what, source))
