"""The sub-commands every set kept in versions shares (``casegate trigger``, ``automation``,
``webhook`` and ``macro``): ``export``, ``import``, ``history`` and ``rollback``.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from casegate.cli.base import Subcommands, count, emit, read_source

if TYPE_CHECKING:
    from casegate.desk.kept_sets import KeptSet


def _kept_set(kind: str) -> KeptSet:
    from casegate.desk.kept_sets import KEPT_SETS

    return KEPT_SETS[kind]


def register_file_commands(group: Subcommands, kind: str) -> None:
    p = group.add_parser("export", help=f"print the {kind} as YAML")
    p.set_defaults(func=set_export, kind=kind)
    p = group.add_parser("import", help=f"make the {kind} a YAML file's (all or nothing)")
    p.add_argument("file", help="the YAML file (- for standard input)")
    p.add_argument("--dry-run", action="store_true", help="print what would change only")
    p.set_defaults(func=set_import, kind=kind)
    p = group.add_parser("history", help=f"the numbered versions of the {kind}")
    p.add_argument("--limit", type=count, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=set_history, kind=kind)
    p = group.add_parser("rollback", help=f"bring the {kind} back to a version")
    p.add_argument("version", type=int, help=f"0: no {kind}")
    p.set_defaults(func=set_rollback, kind=kind)


def set_export(args: argparse.Namespace) -> None:
    sys.stdout.write(_kept_set(args.kind).export())


def set_import(args: argparse.Namespace) -> None:
    source = "<stdin>" if args.file == "-" else args.file
    result = _kept_set(args.kind).import_(read_source(args.file), source, dry_run=args.dry_run)
    sys.stdout.write(result.diff or "no change\n")
    if args.dry_run:
        print(f"dry run: {result.rules} {args.kind} checked, nothing changed")
    elif result.version is not None:
        print(f"imported {result.rules} {args.kind} as version {result.version}")
    for note in result.notes:
        print(note)


def set_history(args: argparse.Namespace) -> None:
    rows = [{"version": v.number, "at": v.created_at.isoformat(timespec="seconds"),
             "actor": v.actor, "summary": v.summary, args.kind: len(getattr(v, args.kind))}
            for v in _kept_set(args.kind).history(args.limit)]
    emit(rows, args.json, ["version", "at", "actor", "summary"])


def set_rollback(args: argparse.Namespace) -> None:
    version = _kept_set(args.kind).rollback(args.version)
    print(f"rolled back to version {args.version}"
          + (f" (recorded as version {version.number})" if version else ": no change"))
