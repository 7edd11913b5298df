"""The ``casegate`` command line.

Every command exits 0 on success; otherwise it prints one line with the reason on
stderr and exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from casegate import __version__
from casegate.cli import (
    automation,
    configuration,
    desk,
    directory,
    importing,
    keys,
    logs,
    mailboxes,
    maintenance,
    queue,
    rules,
    running,
    service,
    setup,
    sla,
    users,
    webhooks,
)
from casegate.config import get_config, use_config_file
from casegate.errors import CasegateError


class UsageError(CasegateError):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        raise UsageError(f"{message} (see: {self.prog} --help)")


# The command groups, in the order `casegate --help` lists their commands.
COMMAND_GROUPS = (setup, running, importing, service, configuration, directory, rules, keys,
                  desk, automation, sla, webhooks, mailboxes, users, queue, logs, maintenance)


def build_parser() -> Parser:
    parser = Parser(prog="casegate", description="Route support and sales mail into cases.")
    parser.add_argument("--version", action="version", version=f"casegate {__version__}")
    parser.add_argument("--config", metavar="FILE",
                        help="the configuration file (default: CASEGATE_CONFIG, else"
                             " $CASEGATE_HOME/casegate.toml)")
    parser.set_defaults(long_running=False, creates_database=False, needs_django=True)
    subcommands = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(subcommands)
    return parser


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casegate.settings")
    import django

    django.setup()


def _debugging() -> bool:
    try:
        return get_config().debug
    except CasegateError:  # the configuration has problems of its own
        return False


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.config:
        use_config_file(args.config)
    if args.long_running:  # SIGHUP reloads certificates in serve; nothing else stops
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if not args.needs_django:
        return int(args.func(args) or 0)
    setup_django()
    from casegate.cli.execute import run  # its imports need Django set up

    return run(args)


def _reader_gone() -> bool:
    """Whether standard output is a pipe whose reader has closed it (``| head``)."""
    poller = select.poll()
    try:
        poller.register(sys.stdout.fileno(), select.POLLOUT)
    except (OSError, ValueError):  # no file behind it
        return False
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _output_to_devnull() -> None:
    """Standard output (descriptor 1) is /dev/null from now on."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    if devnull != 1:
        os.dup2(devnull, 1)
        os.close(devnull)


def _output_somewhere() -> None:
    """Started with no standard output at all: what is written goes to /dev/null, and the
    descriptor 1 is not left for the next file or socket opened (a child would inherit it
    as its output)."""
    if sys.stdout is not None:
        return
    _output_to_devnull()
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 (for good)


def main(argv: Sequence[str] | None = None) -> int:
    _output_somewhere()
    try:
        code = _run(argv)
        sys.stdout.flush()  # a reader gone shows here, not as a traceback at exit
        return code
    except CasegateError as exc:
        print(f"casegate: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: still one line, the traceback on request
        if isinstance(exc, BrokenPipeError) and _reader_gone():
            # As a program killed by SIGPIPE: no message, and nothing more written at exit.
            _output_to_devnull()
            return 128 + signal.SIGPIPE
        if _debugging():
            raise
        reason = " ".join(str(exc).split()) or "no details"
        print(f"casegate: internal error {type(exc).__name__}: {reason}"
              " (set CASEGATE_DEBUG=1 to see where)", file=sys.stderr)
        return 70
