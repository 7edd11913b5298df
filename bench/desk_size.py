"""Filing at the desk on a new desk and on one that has filed many cases.

    .venv/bin/python bench/desk_size.py [--cases 100000] [--batches 20] [--runs 3]
        [--backend sqlite|postgresql]

A scratch home (or PostgreSQL database) with a case intake that acknowledges new cases.
Each run files ``--batches`` batches of 5 new cases the way the delivery worker does (parse,
read what filing needs, file in one transaction), in this process, and takes the CPU time
of each batch: first with 1,000 earlier cases at the intake (a tenth of ``--cases`` when
that is less), then with ``--cases``. Each
earlier case has its customer's message and its acknowledgement, and they were opened over
the last 30 days, newest last. It prints every run: milliseconds of CPU a batch at both
sizes and their ratio (target: at most 1.2, the cost of filing does not grow with the
desk). On PostgreSQL the server's own CPU is not counted.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support
from tests.support import gather_statistics

from case_intake import postgres_unavailable, scratch_home
from reports import setup_django

SMALL = 1_000
PER_BATCH = 5
TARGET_RATIO = 1.2
CHUNK = 10_000


def earlier_cases(intake: object, first: int, last: int, total: int) -> None:
    """Cases ``first`` to ``last`` (of ``total``) at the intake, spread over 30 days."""
    from django.utils import timezone

    from casegate.desk.models import Case, DeskMessage
    from casegate.desk.vocabulary import Direction

    now = timezone.now()
    for start in range(first, last, CHUNK):
        numbers = range(start, min(start + CHUNK, last))
        opened = [now - timedelta(days=30) * (1 - n / total) for n in numbers]
        cases = Case.objects.bulk_create([
            Case(intake=intake, subject=f"Panel {n}", requester=f"earlier{n}@customer.example",
                 created_at=at, received_at=at) for n, at in zip(numbers, opened, strict=True)])
        DeskMessage.objects.bulk_create([
            message for case in cases for message in (
                DeskMessage(case=case, message_id=f"<{case.pk}@customer.example>",
                            sender=case.requester, subject=case.subject,
                            created_at=case.created_at),
                DeskMessage(case=case, direction=Direction.AUTOMATIC,
                            message_id=f"<ack{case.pk}@desk.example>", recipients=case.requester,
                            subject=case.subject, created_at=case.created_at))])
    gather_statistics()


def file_batches(intake: object, batches: int, label: str) -> list[float]:
    """Milliseconds of CPU each batch of new cases took to file."""
    from django.db import transaction
    from django.utils import timezone

    from casegate.desk.arrivals import DeskArrival
    from casegate.desk.filing import file_batch
    from casegate.desk.filing.prefetch import prefetch
    from casegate.desk.parsing import parse_message
    from casegate.routing.snapshot import load_table

    table = load_table()
    took = []
    for batch in range(batches):
        raws = [(f"From: New {n} <{label}{batch}x{n}@customer.example>\r\n"
                 f"To: help@desk.example\r\nSubject: Inverter {n} beeps\r\n"
                 f"Message-ID: <{label}{batch}x{n}@customer.example>\r\n\r\n"
                 "It beeps every minute since this morning.\r\n").encode()
                for n in range(PER_BATCH)]
        started = time.process_time()
        arrivals = [DeskArrival(intake, f"Q{label}{batch}x{n}", "help@desk.example",
                                timezone.now(), parse_message(raw), raw,
                                "customer@customer.example", "192.0.2.1")
                    for n, raw in enumerate(raws)]
        known = prefetch(arrivals)
        with transaction.atomic():
            file_batch(arrivals, table, "mx.desk.example", known)
        took.append(1000 * (time.process_time() - started))
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    small = min(SMALL, args.cases // 10)
    if args.backend == "postgresql" and (reason := postgres_unavailable()):
        raise SystemExit(f"PostgreSQL: {reason}")
    print(f"casegate desk size: batches of {PER_BATCH} new cases, {args.batches} a run, with"
          f" {small:,} then {args.cases:,} earlier cases, {args.backend}; {os.cpu_count()} CPUs",
          flush=True)
    with scratch_home(args.backend) as (home, url):
        setup_django(home, url)
        logging.getLogger("casegate").setLevel(logging.WARNING)  # a line for each case filed
        from casegate.desk.models import Intake
        from casegate.desk.services import add_intake

        intake = add_intake(Intake.CASE, "help@desk.example", acknowledge=True)
        earlier_cases(intake, 0, small, args.cases)
        file_batches(intake, 2, "warm")  # the first reads the settings and the routing table
        before = [statistics.median(file_batches(intake, args.batches, f"s{run}-"))
                  for run in range(args.runs)]
        started = time.perf_counter()
        earlier_cases(intake, small, args.cases, args.cases)
        print(f"  loaded {args.cases - small:,} more cases in"
              f" {time.perf_counter() - started:.1f} s", flush=True)
        after = [statistics.median(file_batches(intake, args.batches, f"l{run}-"))
                 for run in range(args.runs)]
    for run, (alone, grown) in enumerate(zip(before, after, strict=True), 1):
        ratio = grown / alone
        print(f"  run {run}: {alone:.2f} ms a batch with {small:,} cases, {grown:.2f} ms with"
              f" {args.cases:,}: {ratio:.2f}x (target <= {TARGET_RATIO}:"
              f" {'met' if ratio <= TARGET_RATIO else 'NOT met'})")


if __name__ == "__main__":
    main()
