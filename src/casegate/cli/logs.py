"""``casegate log QUEUEID``: one message's lines in the log, as Postfix's administrators
grep the maillog for a queue id. Reads the log without Django."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

from casegate.cli.base import Subcommands
from casegate.config import get_config
from casegate.errors import CasegateError
from casegate.maillog import lines_of, open_log, rotated

STDIN = "-"


def register(subcommands: Subcommands) -> None:
    p = subcommands.add_parser(
        "log", help="follow one message through the log by its queue id")
    p.add_argument("queue_id", metavar="QUEUEID")
    p.add_argument("--file", action="append", metavar="F",
                   help="a log file to read, plain or JSON lines, .gz too (repeatable; - reads"
                        " stdin, for example from journalctl); default: CASEGATE_LOG_FILE and"
                        " its rotated copies, oldest first")
    p.set_defaults(func=follow, needs_django=False)


def _files(args: argparse.Namespace) -> list[str]:
    if args.file:
        return args.file
    configured = get_config().log_file
    if configured is None:
        raise CasegateError("no log file to read: CASEGATE_LOG_FILE is not set, so casegate"
                            " logs to stderr; name one with --file, or pipe the journal in:"
                            " journalctl -u casegate | casegate log QUEUEID --file -")
    found = rotated(configured)
    if not found:
        raise CasegateError(f"{configured} (CASEGATE_LOG_FILE) does not exist yet")
    return [str(path) for path in found]


def follow(args: argparse.Namespace) -> int:
    found = 0
    for name in _files(args):
        try:
            with (open_log(Path(name)) if name != STDIN else nullcontext(sys.stdin)) as lines:
                for line in lines_of(args.queue_id, lines):
                    print(line)
                    found += 1
        except OSError as exc:
            raise CasegateError(f"cannot read {name}: {exc.strerror or exc}") from None
    if not found:
        print(f"casegate: no line names queue={args.queue_id}", file=sys.stderr)
        return 1
    return 0
