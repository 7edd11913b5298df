"""What the command groups share: a command with sub-commands, its ``list`` sub-command,
printing rows as columns or as JSON, and reading a file named by an option."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeAlias

import yaml

from casegate.errors import CasegateError

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler: TypeAlias = Callable[[argparse.Namespace], None]


def command_group(subcommands: Subcommands, name: str, summary: str,
                  dest: str = "action") -> Subcommands:
    """A command that takes one required sub-command, such as ``domain add``."""
    return subcommands.add_parser(name, help=summary).add_subparsers(dest=dest, required=True)


def count(text: str) -> int:
    """An argument that counts rows to show: a whole number, 1 or more."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} is too few: give 1 or more")
    return number


def add_list(subcommands: Subcommands, handler: Handler) -> argparse.ArgumentParser:
    """The group's ``list`` sub-command: one row a line, or ``--json``."""
    parser = subcommands.add_parser("list")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=handler)
    return parser


def emit(rows: list[dict[str, Any]], as_json: bool, columns: Iterable[str]) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    columns = list(columns)
    for row in rows:
        print("  ".join(f"{row.get(col)}" for col in columns))


class OptionError(CasegateError):
    """A command-line option could not be read."""


def read_source(path: str) -> str:
    """The text of the file an option names (``-``: standard input)."""
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"cannot read {path}: {exc}") from None


def read_yaml(path: str) -> Any:
    """The YAML document in the file an option names (``-``: standard input)."""
    try:
        return yaml.safe_load(read_source(path))
    except yaml.YAMLError as exc:
        raise OptionError(f"{path}: not valid YAML: {exc}") from None
