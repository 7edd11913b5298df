"""Case desk intake speed, and thread query time against the number of cases.

    .venv/bin/python bench/case_intake.py [--messages N] [--sessions M]
        [--backend sqlite|postgresql|both] [--thread-cases 100000] [--compare-sla]

Part 1, intake (per backend): a fresh ``$CASEGATE_HOME`` with the demo company, ``casegate
serve`` on it, a warm-up, then N messages of ~4 KB to help@solarmora.com over M parallel
SMTP sessions (a new connection per message). 20% of them are replies to earlier messages
of the run (same sender, ``Re:`` subject, ``In-Reply-To`` and ``References``), sent once
the message they answer was accepted; the rest open new conversations. It prints the SMTP
accept rate, the end-to-end rate (first send until the database holds every message on
its case: cases/s, target >= 400), CPU ms per message of the serve process tree (gateway
and delivery worker), whether every reply went onto its original's case (no case opened
by a reply), and the errors in the serve log. The counts come from the database directly
(sqlite3 / psycopg), not through Django. ``--compare-search-index`` runs it again without
the search index, ``--compare-sla`` again with SLA policies on business hours timing every
case, and each prints the ratio.

Part 2, thread query (per backend, in a child process with Django set up on a scratch
database): an intake, then cases of 5 messages each (customer, agent, customer, agent,
customer) up to 1,000 cases; ``conversation_detail("case", id)`` (what ``casegate cases
show`` runs) is timed for 200 random cases; then the database grows to ``--thread-cases``
cases and 200 other cases are timed. The filler cases beyond the first 1,000 have short
texts (and ``--filler-messages`` messages, default 5; fewer loads faster); every 100th
has the same 5 long messages as the first 1,000, and the cases timed at the large size
are drawn from those, so the thread timed is the same at both sizes.
Target: median at the large size within 1.5x of the small size. PostgreSQL is ANALYZEd
after loading (as autovacuum would); SQLite is left as casegate leaves it.

PostgreSQL is the server at ``postgresql://postgres@127.0.0.1:5432/`` (or
``$CASEGATE_BENCH_PG``); each part makes its own scratch database ``casegate_bench_<hex>``
and drops it at the end. When no server answers, the PostgreSQL runs are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support
from tests.support import gather_statistics

from smtp_load import LoadResult, free_port, percentile, send_one, wait_banner

PY = sys.executable
PG_DSN = os.environ.get("CASEGATE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
RCPT = "help@solarmora.com"
TARGET_RATE = 400.0
TARGET_RATIO = 1.5
LINE = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n"


# --- messages -------------------------------------------------------------------------------

@dataclass
class Mail:
    """One prebuilt message; ``answers`` is the index of the message it replies to."""

    msgid: str
    data: bytes
    sender: str
    subject: str
    references: tuple[str, ...]
    answers: int | None = None


def _root_subject(subject: str) -> str:
    while subject.lower().startswith("re: "):
        subject = subject[4:]
    return subject


def build_mail(tag: str, n: int, conversation: int, size: int,
               original: Mail | None = None, answers: int | None = None) -> Mail:
    """A new conversation (``original`` None) or a reply to ``original``, about ``size`` bytes."""
    if original is None:
        sender = f"customer{conversation}@client{conversation % 40}.example"
        name = f"Customer {conversation}"
        subject = f"Panel {conversation} stopped charging"
        msgid = f"<bench.{tag}.{n}@load.example.net>"
        refs: tuple[str, ...] = ()
        text = (f"Hello,\r\n\r\nmy panel (serial SM-{conversation:06d}) stopped charging "
                "yesterday and shows error E42.\r\n\r\n").encode()
    else:
        sender, name = original.sender, f"Customer {original.sender[8:].split('@')[0]}"
        subject = "Re: " + _root_subject(original.subject)
        msgid = f"<bench-reply.{tag}.{n}@load.example.net>"
        refs = (*original.references[-9:], original.msgid)
        text = (b"Hello again,\r\n\r\nit still does not charge, what else can I try?\r\n\r\n"
                + f"On Mon, 1 Jan 2024, {sender} wrote:\r\n".encode())
    head = (f"From: {name} <{sender}>\r\nTo: {RCPT}\r\nSubject: {subject}\r\n"
            f"Date: {formatdate(localtime=False)}\r\nMessage-ID: {msgid}\r\n"
            + (f"In-Reply-To: {refs[-1]}\r\nReferences: {' '.join(refs)}\r\n" if refs else "")
            + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n").encode()
    filler = (b"> " if original is not None else b"") + LINE
    body = text + filler * max(1, (size - len(head) - len(text)) // len(filler))
    return Mail(msgid, head + body, sender, subject, refs, answers)


def plan(tag: str, count: int, reply_share: float, gap: int, size: int, rng: random.Random,
         first_conversation: int = 0) -> list[Mail]:
    """``count`` messages, ``reply_share`` of them replies to a message at least ``gap`` back."""
    replies = min(round(count * reply_share), max(0, count - gap))
    reply_at = set(rng.sample(range(gap, count), replies)) if replies else set()
    mails: list[Mail] = []
    conversation = first_conversation
    for n in range(count):
        if n in reply_at:
            answered = rng.randrange(0, n - gap + 1)
            mails.append(build_mail(tag, n, 0, size, mails[answered], answered))
        else:
            mails.append(build_mail(tag, n, conversation, size))
            conversation += 1
    return mails


async def send_all(port: int, mails: list[Mail], sessions: int
                   ) -> tuple[LoadResult, list[bool]]:
    """Send every message over ``sessions`` parallel sessions, a reply only once the message
    it answers has its 250. Returns the totals and which messages were accepted."""
    total = LoadResult()
    accepted = [False] * len(mails)
    done = [asyncio.Event() for _ in mails]
    order = iter(range(len(mails)))
    start = time.perf_counter()

    async def worker() -> None:
        for n in order:
            mail = mails[n]
            if mail.answers is not None:
                await done[mail.answers].wait()
            one = LoadResult()
            try:
                await asyncio.wait_for(
                    send_one("127.0.0.1", port, RCPT, mail.msgid, mail.data, one), 120)
            except Exception as exc:
                one.failed += 1
                one.replies.append(f"{type(exc).__name__}: {exc}")
            finally:
                done[n].set()
            accepted[n] = one.sent == 1
            total.sent += one.sent
            total.failed += one.failed
            total.replies += one.replies

    await asyncio.gather(*(worker() for _ in range(sessions)))
    total.seconds = time.perf_counter() - start
    return total, accepted


# --- processes, databases -------------------------------------------------------------------

def postgres_unavailable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3):
            return None
    except Exception as exc:
        return f"no server answers at {PG_DSN}: {str(exc).strip().splitlines()[0]}"


@contextmanager
def scratch_home(backend: str) -> Iterator[tuple[Path, str | None]]:
    """A temporary CASEGATE_HOME, and for PostgreSQL the URL of a new, empty database."""
    home = Path(tempfile.mkdtemp(prefix=f"casegate-bench-{backend}-"))
    try:
        if backend == "sqlite":
            yield home, None
            return
        import psycopg

        name = f"casegate_bench_{secrets.token_hex(6)}"
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield home, f"{PG_DSN.rsplit('/', 1)[0]}/{name}"
        finally:
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        shutil.rmtree(home, ignore_errors=True)


def casegate_env(home: Path, url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEGATE_")}
    env.update(CASEGATE_HOME=str(home), CASEGATE_HOSTNAME="bench.test", PYTHONUNBUFFERED="1")
    if url:
        env["CASEGATE_DATABASE_URL"] = url
    return env


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process, wait, then make sure its children (the worker) are gone too."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    _, alive = psutil.wait_procs(children, timeout=15)
    for child in alive:
        with suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(alive, timeout=5)


def cpu_seconds(proc: psutil.Process) -> tuple[float, float]:
    """CPU seconds (user + system) of the gateway (``serve`` and its gateway processes) and
    of the delivery worker."""
    totals = [0.0, 0.0]
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
            totals["worker" in p.cmdline()] += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return totals[0], totals[1]


class Database:
    """Plain sqlite3 / psycopg access to a casegate database, for counting."""

    def __init__(self, home: Path, url: str | None) -> None:
        self.conn: Any
        if url:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)
        else:
            self.conn = sqlite3.connect(home / "casegate.sqlite3", isolation_level=None)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql).fetchall()

    def value(self, sql: str) -> Any:
        return self.rows(sql)[0][0]

    def messages(self) -> int:
        return self.value("SELECT count(*) FROM desk_deskmessage")

    def cases(self) -> int:
        return self.value("SELECT count(*) FROM desk_case")

    def close(self) -> None:
        self.conn.close()


def wait_count(count: Callable[[], int], target: int, stall: float = 60.0) -> tuple[int, float]:
    """Poll until ``count()`` reaches ``target`` or makes no progress for ``stall`` seconds.
    Returns the last count and when it was first seen (perf_counter)."""
    last, seen, changed = count(), time.perf_counter(), time.perf_counter()
    while last < target and time.perf_counter() - changed < stall:
        time.sleep(0.02)
        now = count()
        if now != last:
            last, seen, changed = now, time.perf_counter(), time.perf_counter()
    return last, seen


def log_problems(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [line for line in log.read_text(errors="replace").splitlines()
            if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")]


# --- part 1: intake -------------------------------------------------------------------------

# What takes the full-text search index away, for measuring intake without it.
WITHOUT_SEARCH_INDEX = {
    "sqlite": ["DROP TRIGGER desk_message_search_insert", "DROP TRIGGER desk_message_search_update",
               "DROP TRIGGER desk_message_search_delete"],
    "postgresql": ["ALTER TABLE desk_deskmessage DROP COLUMN search_vector"],
}


# What --compare-sla gives every case: due times in business hours, with a holiday.
SLA_POLICIES = """
calendars:
  - name: Paris office
    timezone: Europe/Paris
    hours: {mon: [09:00-12:00, 13:00-17:00], tue: [09:00-12:00, 13:00-17:00],
            wed: [09:00-12:00, 13:00-17:00], thu: [09:00-12:00, 13:00-17:00],
            fri: [09:00-12:00, 13:00-17:00]}
    holidays: [2026-12-25, 2027-01-01]
policies:
  - name: Urgent
    conditions: {priority: urgent}
    calendar: Paris office
    first_response: 1h
  - name: Everyone
    calendar: Paris office
    first_response: 8h
    next_response: 8h
    resolution: 40h
"""


def intake_bench(backend: str, args: argparse.Namespace, search_index: bool = True,
                 sla: bool = False) -> tuple[float, float]:
    """Cases/s end to end and CPU ms per message."""
    label = "SQLite (durable: WAL, synchronous=FULL)" if backend == "sqlite" else "PostgreSQL"
    print(f"{label}{'' if search_index else ', without the full-text search index'}"
          f"{', every case timed by an SLA policy on business hours' if sla else ''}:",
          flush=True)
    rng = random.Random(args.seed)
    tag = secrets.token_hex(4)
    with scratch_home(backend) as (home, url):
        env = casegate_env(home, url)
        sla_file = home / "sla.yaml"
        sla_file.write_text(SLA_POLICIES)
        for words in (["init"], ["demo"], *([["sla", "import", str(sla_file)]] if sla else [])):
            subprocess.run([PY, "-m", "casegate", *words], env=env, check=True,
                           capture_output=True, text=True)
        if not search_index:
            unindexed = Database(home, url)
            for statement in WITHOUT_SEARCH_INDEX[backend]:
                unindexed.conn.execute(statement)
            unindexed.close()
        port = free_port()
        log_path = home / "serve.log"
        with open(log_path, "ab") as log:
            processes = ["--processes", str(args.processes)] if args.processes else []
            serve = subprocess.Popen([PY, "-m", "casegate", "serve", "--smtp",
                                      f"127.0.0.1:{port}", *processes], env=env, stdout=log,
                                     stderr=subprocess.STDOUT)
        db: Database | None = None
        try:
            wait_banner(port)
            db = Database(home, url)
            proc = psutil.Process(serve.pid)

            warm = plan(tag + "w", args.warmup, 0.0, 0, args.size, rng)
            base = db.messages()
            warm_result, _ = asyncio.run(send_all(port, warm, args.sessions))
            filed, _ = wait_count(db.messages, base + warm_result.sent)
            print(f"  warm-up: {warm_result.sent} accepted, {filed - base} filed")

            gap = 2 * args.sessions
            mails = plan(tag, args.messages, args.reply_share, gap, args.size, rng,
                         first_conversation=args.warmup)
            messages0, cases0 = db.messages(), db.cases()
            cpu0 = cpu_seconds(proc)
            t0 = time.perf_counter()
            result, accepted = asyncio.run(send_all(port, mails, args.sessions))
            last, seen = wait_count(db.messages, messages0 + result.sent)
            cpu1 = cpu_seconds(proc)
            gateway_cpu, worker_cpu = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
            elapsed = seen - t0
            stored = last - messages0

            replies = sum(1 for m, ok in zip(mails, accepted, strict=True)
                          if ok and m.answers is not None)
            news = result.sent - replies
            print(f"  SMTP: {result.sent} accepted ({news} new conversations, {replies} replies),"
                  f" {result.failed} failed in {result.seconds:.2f} s"
                  f" = {result.rate:,.0f} msg/s accepted")
            if result.failed:
                print(f"    first failures: {result.replies[:3]}")
            rate = stored / elapsed if elapsed > 0 else 0.0
            if stored >= result.sent:
                print(f"  stored: all {stored} messages on their cases after {elapsed:.2f} s"
                      f" = {rate:,.0f} cases/s end to end")
            else:
                print(f"  stored: only {stored} of {result.sent} messages after {elapsed:.2f} s"
                      f" (no progress for 60 s): {result.sent - stored} LOST or stuck")
            print(f"  target >= {TARGET_RATE:.0f} cases/s end to end:"
                  f" {'met' if stored >= result.sent and rate >= TARGET_RATE else 'NOT met'}")
            per = 1000 / max(1, stored)
            print(f"  CPU {per * (gateway_cpu + worker_cpu):.2f} ms/message until every message"
                  f" was stored: gateway {per * gateway_cpu:.2f} + delivery worker"
                  f" {per * worker_cpu:.2f} (worker busy {worker_cpu / elapsed:.0%} of a CPU,"
                  f" gateway {gateway_cpu / elapsed:.0%})")

            new_cases = db.cases() - cases0
            reply_cases = db.value(
                f"SELECT count(*) FROM desk_case WHERE message_id LIKE '<bench-reply.{tag}.%'")
            misfiled = db.value(
                "SELECT count(*) FROM desk_deskmessage r JOIN desk_deskmessage o"
                " ON o.message_id = r.in_reply_to"
                f" WHERE r.message_id LIKE '<bench-reply.{tag}.%' AND r.case_id <> o.case_id")
            held = new_cases == news and reply_cases == 0 and misfiled == 0
            print(f"  threading: {news} new conversations -> {new_cases} new cases;"
                  f" {reply_cases} replies opened a case, {misfiled} landed on another case"
                  f" than their original's: {'held' if held else 'DID NOT hold'}")
            states = db.rows("SELECT state, count(*) FROM delivery_delivery"
                             " GROUP BY state ORDER BY state")
            print("  deliveries: " + ", ".join(f"{n} {s}" for s, n in states))
            return rate, per * (gateway_cpu + worker_cpu)
        finally:
            if db is not None:
                db.close()
            stop(serve)
            problems = log_problems(log_path)
            if problems:
                print(f"  serve log: {len(problems)} error lines, first ones:")
                for line in problems[:5]:
                    print(f"    {line[:200]}")
            else:
                print("  serve log: no errors")


# --- part 2: thread query time --------------------------------------------------------------

def thread_bench(backend: str, args: argparse.Namespace) -> None:
    label = "SQLite" if backend == "sqlite" else "PostgreSQL"
    print(f"{label}:", flush=True)
    with scratch_home(backend) as (home, url):
        env = casegate_env(home, url)
        env["DJANGO_SETTINGS_MODULE"] = "casegate.settings"
        command = [PY, str(Path(__file__).resolve()), "--thread-child",
                   "--thread-cases", str(args.thread_cases), "--small-cases",
                   str(args.small_cases), "--filler-messages", str(args.filler_messages),
                   "--timed", str(args.timed), "--seed", str(args.seed)]
        done = subprocess.run(command, env=env, check=False)
        if done.returncode:
            print(f"  the thread benchmark failed (exit status {done.returncode})")


def thread_child(args: argparse.Namespace) -> None:
    """Runs in its own process: Django is set up once per database."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from casegate.desk.models import Case, CaseEvent, DeskMessage
    from casegate.desk.output import conversation_detail
    from casegate.desk.services import add_intake

    call_command("migrate", verbosity=0)
    intake = add_intake("case", "help@bench.example")
    rng = random.Random(args.seed)
    now = timezone.now()
    full_text = ("Hello,\n\nthe panel stopped charging again after the update; the inverter "
                 "shows error E42 every morning.\n\n" + "Some more detail about it. " * 50)
    short_text = "Hello,\n\nmy panel stopped charging, it shows error E42. Can you help?\n"
    full: list[int] = []  # ids of the cases with 5 messages
    made = 0

    def grow(target: int) -> float:
        nonlocal made
        started = time.perf_counter()
        while made < target:
            numbers = range(made, min(target, made + 5000))
            cases = [Case(intake=intake, subject=f"Panel {i} stopped charging",
                          requester=f"customer{i // 3}@client{i % 40}.example",
                          requester_name=f"Customer {i // 3}", original_recipient=RCPT,
                          message_id=f"<case.{i}@client.example>", status="open",
                          created_at=now, received_at=now) for i in numbers]
            with transaction.atomic():
                Case.objects.bulk_create(cases, batch_size=5000)
                messages, events = [], []
                for i, case in zip(numbers, cases, strict=True):
                    is_full = i < args.small_cases or i % 100 == 0
                    if is_full:
                        full.append(case.pk)
                        events.append(CaseEvent(case=case, field="status", before="new",
                                                after="open", actor="agent@solarmora.com",
                                                at=now))
                    for j in range(5 if is_full else args.filler_messages):
                        outbound = j % 2 == 1
                        text = full_text if is_full else short_text
                        messages.append(DeskMessage(
                            case=case, direction="outbound" if outbound else "inbound",
                            queue_id=f"B{i}x{j}" if outbound else "",
                            message_id=f"<case.{i}.{j}@client.example>" if j else
                            case.message_id,
                            in_reply_to=f"<case.{i}.{j - 1}@client.example>" if j else "",
                            subject=("Re: " if j else "") + case.subject,
                            sender="agent@solarmora.com" if outbound else case.requester,
                            text=text, new_text=text, created_at=now))
                DeskMessage.objects.bulk_create(messages, batch_size=5000)
                CaseEvent.objects.bulk_create(events, batch_size=5000)
            made = numbers[-1] + 1
        gather_statistics()
        return time.perf_counter() - started

    per_query: dict[str, list[float]] = {}

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            per_query.setdefault(sql, []).append(time.perf_counter() - started)

    def timed(ids: list[int]) -> tuple[list[float], int, dict[str, float]]:
        for case_id in ids[:10]:
            conversation_detail("case", case_id)
        per_query.clear()
        times, wrong = [], 0
        with connection.execute_wrapper(record):
            for case_id in ids:
                started = time.perf_counter()
                detail = conversation_detail("case", case_id)
                times.append(1000 * (time.perf_counter() - started))
                if detail is None or len(detail["messages"]) != 5:
                    wrong += 1
        means = {sql: 1000 * statistics.fmean(t) for sql, t in per_query.items()}
        return times, wrong, means

    def show(size: int, seconds: float, times: list[float], wrong: int) -> None:
        messages = DeskMessage.objects.count()
        print(f"  {size:,} cases ({messages:,} messages), loaded in {seconds:.1f} s:"
              f" median {statistics.median(times):.2f} ms, p95 {percentile(times, 95):.2f} ms"
              f" per thread over {len(times)} cases"
              + (f"; {wrong} threads did NOT have 5 messages" if wrong else ""), flush=True)

    small = min(args.small_cases, args.thread_cases)
    seconds = grow(small)
    first_ids = rng.sample(full, min(args.timed, len(full)))
    small_times, wrong, small_queries = timed(first_ids)
    show(small, seconds, small_times, wrong)

    seconds = grow(args.thread_cases)
    others = sorted(set(full) - set(first_ids))
    large_ids = rng.sample(others, min(args.timed, len(others)))
    large_times, wrong, large_queries = timed(large_ids)
    show(args.thread_cases, seconds, large_times, wrong)

    ratio = statistics.median(large_times) / statistics.median(small_times)
    ratio95 = percentile(large_times, 95) / percentile(small_times, 95)
    print(f"  ratio {args.thread_cases:,} / {small:,} cases: median {ratio:.2f}x,"
          f" p95 {ratio95:.2f}x (target median <= {TARGET_RATIO}x:"
          f" {'met' if ratio <= TARGET_RATIO else 'NOT met'})")
    slowest = sorted(large_queries, key=lambda sql: large_queries[sql], reverse=True)[:2]
    for sql in slowest:
        text = re.sub(r"\s+", " ", sql)
        text = re.sub(r'SELECT .*? FROM', "SELECT … FROM", text, count=1)
        print(f"    {large_queries[sql]:.2f} ms per call at {args.thread_cases:,} cases"
              f" ({small_queries.get(sql, float('nan')):.2f} ms at {small:,}): {text[:150]}")


# --- main -----------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--thread-cases", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--processes", type=int, default=0,
                        help="serve's gateway processes (default: serve's own, one per core)")
    parser.add_argument("--reply-share", type=float, default=0.2)
    parser.add_argument("--size", type=int, default=4096, help="bytes per message")
    parser.add_argument("--small-cases", type=int, default=1000)
    parser.add_argument("--filler-messages", type=int, default=5,
                        help="messages per filler case in part 2 (timed cases have 5)")
    parser.add_argument("--timed", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--skip-threads", action="store_true")
    parser.add_argument("--compare-search-index", action="store_true",
                        help="run intake also without the full-text search index, and print"
                             " the ratio (target >= 0.9)")
    parser.add_argument("--compare-sla", action="store_true",
                        help="run intake also with an SLA policy on business hours for every"
                             " case, and print the ratio")
    parser.add_argument("--thread-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the cleanup runs
    if args.thread_child:
        thread_child(args)
        return

    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and (reason := postgres_unavailable()):
        backends.remove("postgresql")
        print(f"PostgreSQL: skipped ({reason})")
    started = time.perf_counter()
    print(f"casegate case intake benchmark; {os.cpu_count()} CPUs")
    if not args.skip_intake:
        print(f"Part 1: SMTP -> stored, threaded case: {args.messages} messages of"
              f" ~{args.size // 1024} KB to {RCPT}, {args.reply_share:.0%} replies to earlier"
              f" ones, {args.sessions} sessions, a new connection each"
              f" (after a warm-up of {args.warmup})")
        for backend in backends:
            indexed = intake_bench(backend, args)
            if args.compare_search_index:
                bare = intake_bench(backend, args, search_index=False)
                print(f"  with / without the search index: {indexed[0] / bare[0]:.2f}x"
                      f" cases/s (target >= 0.9), CPU {indexed[1] / bare[1]:.2f}x")
            if args.compare_sla:
                timed = intake_bench(backend, args, sla=True)
                print(f"  with / without SLA policies: {timed[0] / indexed[0]:.2f}x cases/s,"
                      f" CPU {timed[1] / indexed[1]:.2f}x")
    if not args.skip_threads:
        print(f"Part 2: thread query (conversation_detail of a case with 5 messages) at"
              f" {args.small_cases:,} and {args.thread_cases:,} cases"
              f" (filler cases: {args.filler_messages} short messages each)")
        for backend in backends:
            thread_bench(backend, args)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
