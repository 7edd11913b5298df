"""``casegate import`` of an mbox: messages a second, the command alone and end to end.

    .venv/bin/python bench/import_mail.py [--messages 5000] [--runs 3] [--profile]

Each run: a scratch ``$CASEGATE_HOME`` (SQLite) with the demo company, a delivery worker
(``casegate worker``) running, and an mbox of N messages of about 4 KB to help@solarmora.com,
20% of them replies to an earlier message of the file (``In-Reply-To`` and ``References``),
with dates a minute apart. ``casegate import FILE --to help@solarmora.com --json`` runs as a
user runs it, its progress bar on a pseudo-terminal; the run prints:

* the command's wall time and rate (messages stored, the command returned), target >= 1,000
  messages/s;
* end to end: from the start of the command until the worker has filed every message at the
  desk (every delivery delivered);
* the rate the progress bar showed last;
* whether every reply went onto its original's case (no case opened by a reply).

``--profile`` runs the command once more under cProfile on a fresh home and prints its
costliest functions. The counts come from the database directly (sqlite3), not through
Django.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

TO = "help@solarmora.com"
BODY_LINE = "The inverter shows error E42 again after the last firmware update.\n"


def mbox_of(path: Path, messages: int, reply_share: float) -> None:
    """N messages, every ``1 / reply_share``-th a reply to an earlier one."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    body = BODY_LINE * (3800 // len(BODY_LINE))
    every = round(1 / reply_share) if reply_share else 0
    with path.open("w") as out:
        for n in range(messages):
            reply = every and n % every == every - 1
            answered = n - 1 if reply else n
            headers = [
                f"From: Customer {answered} <c{answered}@customer.example>",
                f"To: {TO}",
                f"Subject: {'Re: ' if reply else ''}Question {answered}",
                f"Date: {format_datetime(start + timedelta(minutes=n))}",
                f"Message-ID: <m{n}@customer.example>",
            ]
            if reply:
                headers += [f"In-Reply-To: <m{answered}@customer.example>",
                            f"References: <m{answered}@customer.example>"]
            out.write(f"From c{answered}@customer.example Wed Jan  1 00:00:00 2020\n"
                      + "\n".join(headers) + f"\n\n{body}\n")


@contextmanager
def scratch_home() -> Iterator[dict[str, str]]:
    home = Path(tempfile.mkdtemp(prefix="casegate-import-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEGATE_")}
    env.update({"CASEGATE_HOME": str(home), "CASEGATE_HOSTNAME": "gw.bench"})
    try:
        for command in (["init"], ["demo"]):
            subprocess.run([sys.executable, "-m", "casegate", *command], env=env, check=True,
                           stdout=subprocess.DEVNULL)
        yield env
    finally:
        shutil.rmtree(home, ignore_errors=True)


def count(env: dict[str, str], query: str) -> int:
    conn = sqlite3.connect(Path(env["CASEGATE_HOME"]) / "casegate.sqlite3", timeout=30)
    try:
        return int(conn.execute(query).fetchone()[0])
    finally:
        conn.close()


def import_on_a_terminal(env: dict[str, str], mbox: Path,
                         prefix: list[str]) -> tuple[dict[str, object], str]:
    """Run the import with its progress bar on a pseudo-terminal: its JSON summary, and the
    rate the bar showed last."""
    leader, follower = os.openpty()
    shown: list[bytes] = []

    def read_the_bar() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=read_the_bar, daemon=True)
    reader.start()
    done = subprocess.run([*prefix, "import", str(mbox), "--to", TO, "--json"],
                          env={**env, "COLUMNS": "120"}, stdout=subprocess.PIPE,
                          stderr=follower, check=False)
    os.close(follower)
    reader.join(5)
    os.close(leader)
    rates = re.findall(r"([\d,]+) messages/s", b"".join(shown).decode(errors="replace"))
    if done.returncode != 0:
        raise SystemExit(f"casegate import failed ({done.returncode}): {done.stdout!r}")
    return json.loads(done.stdout), (rates[-1] if rates else "not shown")


def run_once(messages: int, reply_share: float, work: Path) -> dict[str, float]:
    mbox = work / "history.mbox"
    with scratch_home() as env:
        worker = subprocess.Popen([sys.executable, "-m", "casegate", "worker"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            started = time.monotonic()
            report, bar_rate = import_on_a_terminal(env, mbox, [sys.executable, "-m",
                                                                "casegate"])
            returned = time.monotonic() - started
            while count(env, "SELECT COUNT(*) FROM delivery_delivery WHERE state <> 'delivered'"):
                time.sleep(0.02)
            filed = time.monotonic() - started
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
        cases = count(env, "SELECT COUNT(*) FROM desk_case")
        opened_by_replies = count(env, "SELECT COUNT(*) FROM desk_case WHERE subject LIKE 'Re:%'")
        desk_messages = count(env, "SELECT COUNT(*) FROM desk_deskmessage")
    print(f"  imported {report['imported']} in {returned:.2f} s: {messages / returned:,.0f}"
          f" messages/s (the command's own count {report['messages_per_second']:,.0f}/s;"
          f" its progress bar showed {bar_rate} messages/s)")
    print(f"  filed at the desk {filed:.2f} s after the start: {messages / filed:,.0f}"
          f" messages/s end to end; {cases} cases, {desk_messages} messages,"
          f" {opened_by_replies} cases opened by a reply")
    return {"command": messages / returned, "end_to_end": messages / filed}


def profile(messages: int, work: Path) -> None:
    mbox = work / "history.mbox"
    stats = work / "import.prof"
    with scratch_home() as env:
        import_on_a_terminal(env, mbox, [sys.executable, "-m", "cProfile", "-o", str(stats),
                                         "-m", "casegate"])
    print(f"\ncasegate import of {messages} messages under cProfile, by own time:")
    pstats.Stats(str(stats)).sort_stats("tottime").print_stats(15)
    print("by cumulative time:")
    pstats.Stats(str(stats)).sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--reply-share", type=float, default=0.2)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="casegate-import-mbox-"))
    try:
        mbox_of(work / "history.mbox", args.messages, args.reply_share)
        size = (work / "history.mbox").stat().st_size
        print(f"{args.messages} messages, {size / args.messages / 1024:.1f} KB each,"
              f" {args.reply_share:.0%} replies; SQLite")
        results = []
        for run in range(1, args.runs + 1):
            print(f"run {run}:")
            results.append(run_once(args.messages, args.reply_share, work))
        for key in ("command", "end_to_end"):
            figures = sorted(r[key] for r in results)
            print(f"{key.replace('_', ' ')}: {', '.join(f'{f:,.0f}' for f in figures)}"
                  " messages/s")
        if args.profile:
            profile(args.messages, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
