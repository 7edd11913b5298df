"""casegate's IMAP fetch against a bare IMAP client reading the same messages.

    .venv/bin/python bench/imap_fetch.py [--messages 10000] [--size 4096] [--runs 1]

Debian's Dovecot runs from the tests' configuration (tests/dovecot) on loopback, with N
messages of about 4 KB in one user's INBOX. Each run, on that same folder:

1. a bare client: the standard library's imaplib, logged in, ``UID FETCH 1:* BODY.PEEK[]``
   on the whole folder: messages read per second;
2. casegate: a mailbox account on the folder (``--after-fetch keep``) and ``casegate fetch
   --once`` on SQLite (durable) with the demo company: messages fetched and stored in the
   spool per second, from the fetcher's own account of its round (so Python's start-up is
   not counted), and the ratio to the bare client's rate (target >= 0.5).

Dovecot indexes the Maildir on the first read: a bare read before the runs warms it up.
"""

from __future__ import annotations

import argparse
import imaplib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.dovecot_server
from tests.dovecot_server import Dovecot, running_dovecot

from smtp_load import make_message

PY = sys.executable
TARGET_RATIO = 0.5
ROUND = re.compile(rb"mailbox=bench stored=(\d+) .* seconds=([0-9.]+) reading=([0-9.]+)")


def bare_read(server: Dovecot, user: str) -> tuple[float, int]:
    """Messages per second of one UID FETCH of the whole folder, and how many came."""
    client = imaplib.IMAP4("127.0.0.1", server.imap_port)
    client.login(user, server.users[user])
    client.select("INBOX", readonly=True)
    start = time.perf_counter()
    _, data = client.uid("FETCH", "1:*", "(BODY.PEEK[])")
    elapsed = time.perf_counter() - start
    client.logout()
    read = sum(1 for part in data if isinstance(part, tuple))
    return read / elapsed, read


def casegate_fetch(env: dict[str, str], count: int) -> tuple[float, float]:
    """Messages per second of one round of ``casegate fetch --once`` of the whole folder:
    fetched and stored, and read from the server alone."""
    done = subprocess.run([PY, "-m", "casegate", "fetch", "--once"], env=env,
                          capture_output=True, timeout=3600)
    found = ROUND.search(done.stderr)
    if done.returncode or not found or int(found.group(1)) != count:
        raise SystemExit(f"casegate fetch failed:\n{done.stderr.decode()[-3000:]}")
    return count / float(found.group(2)), count / float(found.group(3))


def spread(ratios: list[float]) -> str:
    return (f"{min(ratios):.2f}-{max(ratios):.2f} (median {statistics.median(ratios):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--size", type=int, default=4096, help="bytes a message")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()

    messages = [make_message(n, args.size)[1] for n in range(args.messages)]
    home = Path(tempfile.mkdtemp(prefix="casegate-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEGATE_")}
    env.update(CASEGATE_HOME=str(home), CASEGATE_HOSTNAME="bench.test",
               CASEGATE_LOOP_LIMIT="0")

    def cli(*words: str) -> None:
        subprocess.run([PY, "-m", "casegate", *words], env=env, check=True,
                       capture_output=True)

    try:
        with running_dovecot() as server:
            server.write_maildir("desk", messages)
            bare_read(server, "desk")  # Dovecot indexes the folder
            cli("init")
            cli("demo")
            secret = home / "password"
            secret.write_text(server.users["desk"])
            ratios: list[float] = []
            reading: list[float] = []
            for run in range(1, args.runs + 1):
                cli("mailbox", "add", "bench", "--imap", f"127.0.0.1:{server.imap_port}",
                    "--tls", "none", "--user", "desk", "--password-file", str(secret),
                    "--deliver-to", "help@solarmora.com")
                bare, read = bare_read(server, "desk")
                if read != args.messages:
                    raise SystemExit(f"the bare client read {read} of {args.messages}")
                ours, read_only = casegate_fetch(env, args.messages)
                ratios.append(ours / bare)
                reading.append(read_only / bare)
                print(f"run {run}: bare imaplib {bare:,.0f} msg/s; casegate reading"
                      f" {read_only:,.0f} msg/s (ratio {read_only / bare:.2f}), fetching and"
                      f" storing {ours:,.0f} msg/s (ratio {ours / bare:.2f})", flush=True)
                cli("mailbox", "remove", "bench")
            print(f"{args.messages} messages of {args.size} bytes, against the bare client:"
                  f" reading {spread(reading)}; fetching and storing {spread(ratios)}"
                  f" (target >= {TARGET_RATIO})")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
