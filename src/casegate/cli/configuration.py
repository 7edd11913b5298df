"""``casegate config show`` and ``config check``: the settings in effect, and their problems.

Both read the configuration without Django, so they work when it has problems.
"""

from __future__ import annotations

import argparse
import json
import sys

from casegate.cli.base import Subcommands, command_group
from casegate.config import Reading, Source, read_configuration


def register(subcommands: Subcommands) -> None:
    config = command_group(subcommands, "config",
                           "the settings: environment, configuration file, defaults")
    p = config.add_parser("show", help="every setting's value and where it comes from"
                                       " (secrets masked)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=show, needs_django=False)
    p = config.add_parser("check", help="name every problem of the settings; exit 1 if any")
    p.set_defaults(func=check, needs_django=False)


def _report_problems(reading: Reading) -> int:
    for problem in reading.problems:
        print(f"casegate: {problem}", file=sys.stderr)
    return 1 if reading.problems else 0


def _file_state(reading: Reading) -> str:
    return "read" if reading.file_found else "none there"


def show(args: argparse.Namespace) -> int:
    reading = read_configuration()
    if args.json:
        print(json.dumps({
            "file": str(reading.file), "file_found": reading.file_found,
            "settings": [{"variable": v.setting.variable, "key": v.setting.key,
                          "value": v.shown, "source": v.source} for v in reading.values],
            "problems": list(reading.problems),
        }, indent=2, ensure_ascii=False))
    else:
        print(f"configuration file: {reading.file} ({_file_state(reading)})")
        width = max(len(v.setting.variable) for v in reading.values)
        for value in reading.values:
            print(f"{value.setting.variable:<{width}}  {value.source:<11}  "
                  f"{value.shown or '(empty)'}")
    return _report_problems(reading)


def check(args: argparse.Namespace) -> int:
    reading = read_configuration()
    if not reading.problems:
        counted = {source: sum(v.source == source for v in reading.values) for source in Source}
        print(f"configuration OK: file {reading.file} ({_file_state(reading)}); settings"
              f" from the file: {counted[Source.FILE]}, from the environment:"
              f" {counted[Source.ENVIRONMENT]}")
    return _report_problems(reading)
