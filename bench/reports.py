"""The reports page and its CSV exports over many cases and 1,000,000 desk messages.

    .venv/bin/python bench/reports.py [--cases 250000] [--messages-per-case 4]
        [--days 90] [--runs 5] [--backend sqlite|postgresql]

Target: the reports page (every table and chart) renders in under 1 s over 1,000,000
messages.

What it does:

1. A scratch ``$CASEGATE_HOME`` (SQLite) or a scratch database on the server at
   ``postgresql://postgres@127.0.0.1:5432/`` (``$CASEGATE_BENCH_PG``), dropped at the end;
   Django set up in this process, ``migrate``, the demo company and 8 agents.
2. Loads in bulk with ``INSERT ... SELECT`` over a generated series (a recursive CTE on
   SQLite, ``generate_series`` on PostgreSQL), deterministic (values spread by
   multiplying the row number by primes):

   - ``--cases`` cases over the last ``--days`` days, on the demo's two case intakes,
     90% by mail, 5% from the console, 5% from the API; one of 4 teams or none, one of 8
     agents (every 25th unassigned), first answered after 1 minute to 2 days (every 10th
     not yet); cases older than a week are 80% solved or closed, each with its status
     change in the history 1 hour to 5 days after creation;
   - ``--messages-per-case`` desk messages each (customer and agent in turn, ~80 bytes of
     text), indexed for search by the database as mail is.

3. Signs in a super administrator with ``django.test.Client`` and requests the reports page
   over all ``--days`` days, the 30 last days, and the CSV of the teams and the backlog
   tables: one warm-up each, then ``--runs`` timed requests, each printed.

Exit status 1 when a request does not answer 200.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from case_intake import postgres_unavailable, scratch_home

AGENTS = 8
TEAMS = ("", "Billing", "Installations", "Monitoring", "Warranty")
TARGET_SECONDS = 1.0


def setup_django(home: Path, url: str | None) -> None:
    for key in [k for k in os.environ if k.startswith("CASEGATE_") and k != "CASEGATE_BENCH_PG"]:
        del os.environ[key]
    os.environ.update(CASEGATE_HOME=str(home), CASEGATE_HOSTNAME="bench.test",
                      DJANGO_SETTINGS_MODULE="casegate.settings")
    if url:
        os.environ["CASEGATE_DATABASE_URL"] = url
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def sql(statement: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement)


def load(cases: int, per_case: int, days: int) -> list[tuple[str, float]]:
    """The cases, their messages and their history; (step, seconds) of each."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from casegate.demo import setup_demo
    from casegate.desk.models import Intake
    from casegate.desk.vocabulary import IntakeKind

    setup_demo()
    users = get_user_model().objects
    users.bulk_create([users.model(username=f"agent{n}", email=f"agent{n}@solarmora.com",
                                   password="!") for n in range(1, AGENTS + 1)])
    agents = sorted(users.filter(username__startswith="agent").values_list("pk", flat=True))
    assert agents == list(range(agents[0], agents[0] + AGENTS)), "agents numbered in a row"
    intakes = sorted(Intake.objects.filter(kind=IntakeKind.CASE).values_list("pk", flat=True))
    postgresql = connection.vendor == "postgresql"
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=days)
    step = max(1, days * 86400 // cases)
    week_ago = (days - 7) * 86400

    def series(count: int) -> tuple[str, str]:
        """A WITH clause (SQLite) and a FROM item naming the numbers 1..count as n.i."""
        if postgresql:
            return "", f"generate_series(1::bigint, {count}) AS n(i)"
        return (f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                f" WHERE i < {count})"), "n"

    def at(seconds: str, base: str = f"'{start.isoformat(sep=' ')}'") -> str:
        if postgresql:
            return f"({base}::timestamptz + ({seconds}) * interval '1 second')"
        return f"datetime({base}, '+' || ({seconds}) || ' seconds')"

    teams = " ".join(f"WHEN {n} THEN '{team}'" for n, team in enumerate(TEAMS))
    done = f"(n.i * {step} < {week_ago} AND n.i % 10 < 8)"
    created = at(f"n.i * {step}")
    solved = at(f"n.i * {step} + 3600 + (n.i * 104729) % 432000")
    statements = []
    with_cases, from_cases = series(cases)
    statements.append(("cases", f"""{with_cases}
        INSERT INTO desk_case (id, subject, requester, requester_name, original_recipient,
            message_id, created_at, received_at, status, intake_id, assignee_id, priority,
            tags, team, updated_at, first_responded_at, channel, sla_fired, status_changed_at)
        SELECT n.i, 'Panel ' || n.i || ' stopped charging', 'customer' || n.i || '@client.example',
            'Customer ' || n.i, 'help@solarmora.com', '<case.' || n.i || '@client.example>',
            {created}, {created},
            CASE WHEN {done} THEN (CASE WHEN n.i % 2 = 0 THEN 'solved' ELSE 'closed' END)
                 WHEN n.i % 10 = 9 THEN 'new' WHEN n.i % 3 = 0 THEN 'pending' ELSE 'open' END,
            CASE WHEN n.i % 3 = 0 THEN {intakes[-1]} ELSE {intakes[0]} END,
            CASE WHEN n.i % 25 = 0 THEN NULL ELSE {agents[0]} + n.i % {AGENTS} END,
            'normal', '[]', CASE n.i % {len(TEAMS)} {teams} END, {created},
            CASE WHEN n.i % 10 = 9 THEN NULL
                 ELSE {at(f"n.i * {step} + 60 + (n.i * 7919) % 172800")} END,
            CASE n.i % 20 WHEN 0 THEN 'console' WHEN 1 THEN 'api' ELSE 'mail' END, '[]',
            CASE WHEN {done} THEN {solved} END
        FROM {from_cases}"""))
    statements.append(("history", f"""{with_cases}
        INSERT INTO desk_caseevent (case_id, field, before, after, actor, at)
        SELECT n.i, 'status', 'open', CASE WHEN n.i % 2 = 0 THEN 'solved' ELSE 'closed' END,
            'agent', {solved}
        FROM {from_cases} WHERE {done}"""))
    with_messages, from_messages = series(cases * per_case)
    case_of = f"((n.i - 1) / {per_case} + 1)"
    statements.append(("messages", f"""{with_messages}
        INSERT INTO desk_deskmessage (case_id, direction, queue_id, message_id, in_reply_to,
            "references", recipients, cc, delivery_status, automated, subject, sender,
            sender_name, text, new_text, html, parse_problems, created_at)
        SELECT {case_of}, CASE WHEN n.i % 2 = 1 THEN 'inbound' ELSE 'outbound' END, '',
            '<m.' || n.i || '@client.example>', '', '', '', '', '', '',
            'Panel ' || {case_of} || ' stopped charging', 'customer@client.example', '',
            'The inverter shows error E42 since this morning; could you send someone?',
            '', '', '', {at(f"{case_of} * {step} + (n.i % {per_case}) * 600")}
        FROM {from_messages}"""))
    steps = []
    for name, statement in statements:
        started = time.perf_counter()
        with transaction.atomic():
            if postgresql:
                sql("SET LOCAL synchronous_commit TO off")
            sql(statement)
        steps.append((name, time.perf_counter() - started))
        print(f"  {name}: {steps[-1][1]:.1f} s", flush=True)
    started = time.perf_counter()
    if postgresql:
        sql("SELECT setval(pg_get_serial_sequence('desk_case', 'id'),"
            " (SELECT max(id) FROM desk_case))")
        sql("VACUUM (ANALYZE)")
    else:
        sql("ANALYZE")
    steps.append(("ANALYZE", time.perf_counter() - started))
    return steps


def measure(urls: list[tuple[str, str]], runs: int) -> dict[str, list[float]]:
    from django.test import Client

    from casegate.access import SUPER, add_user

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(add_user("bench", SUPER, "bench password 123"))
    timings: dict[str, list[float]] = {}
    for name, url in urls:
        answer = client.get(url)  # warm-up
        if answer.status_code != 200:
            raise SystemExit(f"{name}: {url} answered {answer.status_code}")
        timings[name] = []
        for _ in range(runs):
            started = time.perf_counter()
            answer = client.get(url)
            timings[name].append(time.perf_counter() - started)
            if answer.status_code != 200:
                raise SystemExit(f"{name}: {url} answered {answer.status_code}")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=250_000)
    parser.add_argument("--messages-per-case", type=int, default=4)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if args.cases < 10 or args.messages_per_case < 1 or not 8 <= args.days <= 366:
        parser.error("at least 10 cases and 1 message each, over 8 to 366 days")
    if args.backend == "postgresql" and (reason := postgres_unavailable()):
        raise SystemExit(f"PostgreSQL: {reason}")
    messages = args.cases * args.messages_per_case
    print(f"casegate reports: {args.cases:,} cases, {messages:,} desk messages over"
          f" {args.days} days, {args.backend}; {args.runs} runs; {os.cpu_count()} CPUs",
          flush=True)
    with scratch_home(args.backend) as (home, url):
        setup_django(home, url)
        from django.utils import timezone

        print("loading:", flush=True)
        steps = load(args.cases, args.messages_per_case, args.days)
        today = timezone.localdate()
        every_day = f"first={today - timedelta(days=args.days)}&last={today}"
        month = f"first={today - timedelta(days=29)}&last={today}"
        timings = measure([
            (f"page, {args.days + 1} days", f"/console/reports/?{every_day}"),
            ("page, 30 days", f"/console/reports/?{month}"),
            (f"teams.csv, {args.days + 1} days", f"/console/reports/teams.csv?{every_day}"),
            (f"backlog.csv, {args.days + 1} days",
             f"/console/reports/backlog.csv?{every_day}"),
        ], args.runs)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT (SELECT count(*) FROM desk_case),"
                           " (SELECT count(*) FROM desk_deskmessage),"
                           " (SELECT count(*) FROM desk_caseevent)")
            counted: Any = cursor.fetchone()
    print(f"\nrows: {counted[0]:,} cases, {counted[1]:,} desk messages, {counted[2]:,} case"
          f" events; load {sum(s for _, s in steps):.1f} s ("
          + ", ".join(f"{name} {s:.1f} s" for name, s in steps) + ")")
    width = max(len(name) for name in timings)
    print(f"\n{'request':<{width}}  runs (s){'':<30}  median   under {TARGET_SECONDS:g} s")
    for name, seconds in timings.items():
        median = statistics.median(seconds)
        print(f"{name:<{width}}  {', '.join(f'{s:.3f}' for s in seconds):<38}  {median:.3f}"
              f"    {'yes' if max(seconds) < TARGET_SECONDS else 'NO'}")


if __name__ == "__main__":
    main()
