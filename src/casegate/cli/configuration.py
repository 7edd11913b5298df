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
    unsafe = _file_permissions(reading)
    if not reading.problems and not unsafe.startswith("refused"):
        counted = {source: sum(v.source == source for v in reading.values) for source in Source}
        print(f"configuration OK: file {reading.file} ({_file_state(reading)}); settings"
              f" from the file: {counted[Source.FILE]}, from the environment:"
              f" {counted[Source.ENVIRONMENT]}")
    if unsafe:
        print(f"casegate: {unsafe}", file=sys.stderr)
    return max(_report_problems(reading), 1 if unsafe.startswith("refused") else 0)


def _file_permissions(reading: Reading) -> str:
    """What is wrong with who may read or write the configuration file, or ``""``: others
    who may write it could change any setting (refused); anyone who may read it, when it
    holds a secret, could read that (a warning). Its group may read it: the layout of a
    root-owned file the service's group reads (mode 0640)."""
    if not reading.file_found:
        return ""
    mode = reading.file.stat().st_mode & 0o777
    if mode & 0o022:
        return (f"refused: {reading.file} may be written by others (mode {mode:04o}):"
                f" chmod go-w {reading.file}")
    secrets = [v.setting.key for v in reading.values
               if v.source is Source.FILE and v.shown != v.text]
    if secrets and mode & 0o004:
        return (f"warning: {reading.file} holds {', '.join(secrets)} and may be read by others"
                f" (mode {mode:04o}): chmod o-r {reading.file}")
    return ""
