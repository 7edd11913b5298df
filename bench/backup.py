"""``casegate backup`` of a home with many cases, and how much it slows intake meanwhile.

    .venv/bin/python bench/backup.py [--cases 100000] [--backend sqlite|postgresql]
        [--messages N] [--sessions M]

A fresh ``$CASEGATE_HOME`` with the demo company and ``--cases`` cases, each with its
stored message (~4 KB: a raw message in the spool, its bytes in the blob store, the desk's
message), loaded in bulk by a child process with Django set up. Then ``casegate serve``
runs on it and:

1. intake alone: N messages of ~4 KB to help@solarmora.com over M parallel SMTP sessions
   (a new connection per message), in batches of N/4 as in 2., as the base rate;
2. the same load again, in batches of N/4, for as long as a ``casegate backup`` into a new
   directory runs (at least one batch): the rate while it runs;
3. prints the backup's time and size, and the intake rate during the backup as a ratio of
   the base rate of the same run (target: at least 0.7, a slowdown of at most 30%; the
   backup's time target is 60 s for 100,000 cases on SQLite).

The defaults are a smoke run of a few seconds. PostgreSQL is the server at
``postgresql://postgres@127.0.0.1:5432/`` (or ``$CASEGATE_BENCH_PG``), in a scratch
database dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from case_intake import casegate_env, postgres_unavailable, scratch_home, stop
from smtp_load import LoadResult, free_port, make_message, run_load, wait_banner

PY = sys.executable
RCPT = "help@solarmora.com"
SEED_BATCH = 2000
TARGET_RATIO = 0.7
TARGET_SECONDS_100K = 60.0


def seed(cases: int) -> None:
    """In a child process with Django set up on the scratch home: ``cases`` cases, each
    with its raw message, blob and desk message, in batches."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casegate.settings")
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from casegate.desk.blobs import put_many
    from casegate.desk.models import Case, DeskMessage, Intake
    from casegate.desk.vocabulary import IntakeKind
    from casegate.spool.models import Message

    intake = Intake.objects.filter(kind=IntakeKind.CASE).first()
    now = timezone.now()
    for start in range(0, cases, SEED_BATCH):
        numbers = range(start, min(cases, start + SEED_BATCH))
        mails = [make_message(n) for n in numbers]
        with transaction.atomic():
            digests = put_many(raw for _, raw in mails)
            Message.objects.bulk_create([
                Message(queue_id=f"SEED{n:010d}", mail_from="load@example.net",
                        rcpt_tos=[RCPT], received_at=now, size=len(raw), message_id=msgid,
                        subject=f"bench message {n}", raw=raw)
                for n, (msgid, raw) in zip(numbers, mails, strict=True)])
            made = Case.objects.bulk_create([
                Case(intake=intake, subject=f"bench message {n}", requester="load@example.net",
                     original_recipient=RCPT, message_id=msgid, created_at=now,
                     received_at=now)
                for n, (msgid, _) in zip(numbers, mails, strict=True)])
            DeskMessage.objects.bulk_create([
                DeskMessage(case=case, queue_id=f"SEED{n:010d}", message_id=msgid,
                            raw_id=sha, subject=case.subject, sender="load@example.net",
                            text=raw.decode()[-2000:], new_text="", created_at=now)
                for n, case, (msgid, raw), sha in zip(numbers, made, mails, digests,
                                                      strict=True)])


def intake(port: int, count: int, sessions: int) -> LoadResult:
    return asyncio.run(run_load("127.0.0.1", port, count, sessions, [RCPT]))


def in_batches(port: int, count: int, batch: int, sessions: int) -> LoadResult:
    """Intake of ``count`` messages in batches, as :func:`during_backup` sends them."""
    total = LoadResult()
    while total.sent + total.failed < count:
        add(total, intake(port, batch, sessions))
    return total


def add(total: LoadResult, result: LoadResult) -> None:
    total.sent += result.sent
    total.failed += result.failed
    total.seconds += result.seconds


def during_backup(port: int, env: dict[str, str], batch: int, sessions: int,
                  dest: Path) -> tuple[LoadResult, float, subprocess.CompletedProcess[str]]:
    """Intake in batches while ``casegate backup`` runs; its result and time."""
    done = threading.Event()
    finished: list[subprocess.CompletedProcess[str]] = []
    took: list[float] = []

    def back_up() -> None:
        started = time.perf_counter()
        finished.append(subprocess.run([PY, "-m", "casegate", "backup", str(dest)], env=env,
                                       capture_output=True, text=True))
        took.append(time.perf_counter() - started)
        done.set()

    total = LoadResult()
    backup = threading.Thread(target=back_up)
    backup.start()
    while True:
        add(total, intake(port, batch, sessions))
        if done.is_set():
            break
    backup.join()
    return total, took[0], finished[0]


def directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run(backend: str, args: argparse.Namespace) -> bool:
    print(f"{backend}: {args.cases} cases", flush=True)
    with scratch_home(backend) as (home, url):
        env = casegate_env(home, url)
        for words in (["init"], ["demo"]):
            subprocess.run([PY, "-m", "casegate", *words], env=env, check=True,
                           capture_output=True, text=True)
        started = time.perf_counter()
        subprocess.run([PY, __file__, "--seed", str(args.cases)], env=env, check=True)
        print(f"  loaded {args.cases} cases in {time.perf_counter() - started:.1f} s",
              flush=True)
        port = free_port()
        with open(home / "serve.log", "ab") as log:
            serve = subprocess.Popen([PY, "-m", "casegate", "serve", "--smtp",
                                      f"127.0.0.1:{port}"], env=env, stdout=log,
                                     stderr=subprocess.STDOUT)
        try:
            wait_banner(port)
            intake(port, max(5, args.messages // 10), args.sessions)  # warm-up
            alone = in_batches(port, args.messages, max(1, args.messages // 4),
                               args.sessions)
            with tempfile.TemporaryDirectory(prefix="casegate-bench-backup-") as where:
                dest = Path(where) / "backup"
                meanwhile, seconds, backup = during_backup(
                    port, env, max(1, args.messages // 4), args.sessions, dest)
                if backup.returncode != 0:
                    print(f"  backup failed: {backup.stderr.strip()}")
                    return False
                size = directory_bytes(dest)
        finally:
            stop(serve)
    ratio = meanwhile.rate / alone.rate if alone.rate else 0.0
    print(f"  backup: {seconds:.2f} s, {size / 1e6:.1f} MB"
          + (f" (target < {TARGET_SECONDS_100K:.0f} s for 100,000 cases on SQLite)"
             if backend == "sqlite" else ""))
    print(f"  intake alone: {alone.rate:.0f} msg/s ({alone.sent} sent, {alone.failed}"
          f" failed); during the backup: {meanwhile.rate:.0f} msg/s ({meanwhile.sent} sent,"
          f" {meanwhile.failed} failed)")
    print(f"  ratio during/alone: {ratio:.2f} (target >= {TARGET_RATIO:.2f}, a slowdown of"
          f" at most {1 - TARGET_RATIO:.0%})")
    return alone.failed == 0 and meanwhile.failed == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=40,
                        help="messages of the intake alone, in batches of a quarter of them"
                             " as during the backup")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed is not None:
        seed(args.seed)
        return
    if args.backend == "postgresql" and (reason := postgres_unavailable()):
        print(f"SKIP PostgreSQL: {reason}")
        return
    if not run(args.backend, args):
        sys.exit(1)


if __name__ == "__main__":
    main()
