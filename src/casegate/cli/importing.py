"""``casegate import``: old mail from mbox files, Maildirs and message files, filed at the
desk quietly and in date order, with a progress bar on a terminal.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import resource
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from casegate.cli.base import Subcommands
from casegate.config import Config, get_config

if TYPE_CHECKING:
    from rich.console import Console

    from casegate.gateway.importing import ImportReport
    from casegate.gateway.mail_files import Found

EXIT_INTERRUPTED = 130


def register(subcommands: Subcommands) -> None:
    p = subcommands.add_parser(
        "import", help="file old mail (mbox, Maildir, .eml files) at the desk",
        description="File the messages of each PATH as if they had been sent to ADDR, oldest"
                    " first, without acknowledging them or notifying anyone. A PATH is an"
                    " mbox file, a Maildir, a message file (.eml) or a folder of them"
                    " (searched recursively). Run again, it stores only what is not stored"
                    " yet, so after Ctrl-C it continues. Exit status: 0 every message is"
                    " stored, 1 some were refused or could not be read (listed), 130"
                    " stopped by Ctrl-C.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--to", required=True, metavar="ADDR",
                   help="the address the mail is filed as sent to (a desk intake, or any"
                        " address the rules route)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=import_mail)


def import_mail(args: argparse.Namespace) -> int:
    from rich.console import Console

    from casegate.gateway.mail_files import found_in, in_date_order

    # One log line a message would bury the progress and the summary.
    logging.getLogger("casegate.gateway").setLevel(logging.WARNING)
    # Each mbox named stays open until its messages are stored: as many as the system lets.
    _, most = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (most, most))
    console = Console(stderr=True)
    with _progress(console) as bar:
        reading = bar("reading", None)
        found = []
        for item in found_in([Path(p) for p in args.paths]):
            found.append(item)
            reading(1)
        found = in_date_order(found)
        report = asyncio.run(_run(found, args.to, get_config(), bar("importing", len(found))))
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        for where, reply in report.refused:
            print(f"refused: {where}: {reply}", file=sys.stderr)
        for where, reason in report.broken:
            print(f"broken: {where}: {reason}", file=sys.stderr)
        print(report.line())
        if report.interrupted:
            print("run the same command again to import the rest", file=sys.stderr)
    if report.interrupted:
        return EXIT_INTERRUPTED
    return 1 if report.refused or report.broken else 0


async def _run(found: list[Found], to: str, config: Config,
               progress: Callable[[int], None]) -> ImportReport:
    from casegate.gateway.importing import import_mail as admit_all

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stop_after_the_windows_handed_over() -> None:
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)  # a second Ctrl-C stops at once

    loop.add_signal_handler(signal.SIGINT, stop_after_the_windows_handed_over)
    try:
        return await admit_all(found, to, config, progress, stop)
    finally:
        loop.remove_signal_handler(signal.SIGINT)


Bar = Callable[[str, int | None], Callable[[int], None]]


@contextmanager
def _progress(console: Console) -> Iterator[Bar]:
    """A function that starts a task of the progress bar and returns its advance; nothing
    is shown unless standard error is a terminal."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        """Messages a second since the task started (rich's own speed needs two samples,
        and a small import is one window)."""

        def render(self, task: Task) -> Text:
            elapsed = task.finished_time or task.elapsed
            return Text(f"{task.completed / elapsed if elapsed else 0:,.0f} messages/s")

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        Rate(), TimeRemainingColumn(), console=console,
                        disable=not console.is_terminal)

    def task(description: str, total: int | None) -> Callable[[int], None]:
        for earlier in progress.task_ids:
            progress.update(earlier, visible=False)
        task_id = progress.add_task(description, total=total)
        return lambda done: progress.advance(task_id, done)

    with progress:
        yield task
