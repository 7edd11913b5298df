"""Full-text search at 10,000 and at 1,000,000 desk messages, in one run.

    .venv/bin/python bench/search.py [--small 10000] [--large 1000000] [--queries 20]
        [--runs 3] [--backend sqlite|postgresql]

Targets: p95 under 100 ms on PostgreSQL and under 150 ms on SQLite at 1,000,000 messages,
for a one-word, a two-word, a phrase and a ``from:`` query, and no worse than 2x the p95 at
10,000 messages measured in the same run.

What it does:

1. A scratch ``$CASEGATE_HOME`` (SQLite) or a scratch database on the server at
   ``postgresql://postgres@127.0.0.1:5432/`` (``$CASEGATE_BENCH_PG``), dropped at the end;
   Django set up in this process, ``migrate``, the demo company.
2. Loads ``--small`` desk messages in bulk (``INSERT ... SELECT`` over a generated series),
   4 to a case, indexed for search by the database as mail is: each text 16 words drawn
   from a vocabulary of 2,000 made-up words with a skew (the commonest word is in about a
   third of the messages, most in a fraction of a percent), customers' messages from 20,000
   senders at 2,000 domains. Then times ``--queries`` queries of each kind, ``--runs`` times
   each, through :func:`casegate.desk.search.search` as the console, the API and
   ``casegate search`` call it: a word of the vocabulary, two words, a phrase of two words
   as a message has them, and ``from:`` a sender. The single words are drawn evenly from
   the vocabulary, so rare and common words both come up; the two words and the phrases
   are taken from a message; the commonest word is timed apart.
3. Loads messages up to ``--large`` into the same database and times the same queries.

It prints each kind's p95 at both sizes, their ratio, and whether the targets hold.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from case_intake import postgres_unavailable, scratch_home
from reports import setup_django, sql

VOCABULARY = 2000
WORDS_PER_TEXT = 16
PER_CASE = 4
SENDERS, DOMAINS = 20_000, 2_000
TARGET_MS = {"sqlite": 150.0, "postgresql": 100.0}
TARGET_RATIO = 2.0
# A pair of primes per word of a text: word j of message i is drawn from (i * a + b).
_DRAWS = [(7919, 104729), (6007, 1299709), (4513, 15485863), (3251, 32452843),
          (2243, 49979687), (1361, 67867967), (9973, 86028121), (8831, 104395301),
          (5857, 122949823), (3571, 141650939), (2749, 160481183), (1993, 179424673),
          (9109, 198491317), (7727, 217645177), (6619, 236887691), (4987, 256203161)]


def word(k: int) -> str:
    """The ``k``-th made-up word: syllables, so that tokenizers see ordinary words."""
    syllables = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pu")
    letters = []
    for _ in range(3):
        letters.append(syllables[k % 10])
        k //= 10
    return "".join(letters) + ("ra" if k else "")


def _vocabulary_sql(postgresql: bool) -> list[str]:
    rows = ", ".join(f"({k}, '{word(k)}')" for k in range(VOCABULARY))
    table = "CREATE TABLE bench_vocabulary (k integer PRIMARY KEY, w text NOT NULL)"
    return [table, f"INSERT INTO bench_vocabulary (k, w) VALUES {rows}"]


def _text_sql() -> str:
    """A message's text, of row ``n.i``: word x*x/V for x drawn evenly, so low numbers (the
    common words) come up more often."""
    words = []
    for a, b in _DRAWS[:WORDS_PER_TEXT]:
        x = f"((n.i * {a} + {b}) % {VOCABULARY})"
        words.append(f"(SELECT w FROM bench_vocabulary WHERE k = {x} * {x} / {VOCABULARY})")
    return " || ' ' || ".join(words)


def load(first: int, last: int, intake: int) -> float:
    """Messages ``first``..``last`` and their cases; the seconds it took."""
    from django.db import connection, transaction

    postgresql = connection.vendor == "postgresql"

    def series(lo: int, hi: int) -> tuple[str, str]:
        if postgresql:
            return "", f"generate_series({lo}::bigint, {hi}) AS n(i)"
        return (f"WITH RECURSIVE n(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM n"
                f" WHERE i < {hi})"), "n"

    now = "now()" if postgresql else "datetime('now')"
    started = time.perf_counter()
    first_case, last_case = (first - 1) // PER_CASE + 1, last // PER_CASE
    with_cases, from_cases = series(first_case, last_case)
    with_messages, from_messages = series(first, last)
    case_of = f"((n.i - 1) / {PER_CASE} + 1)"
    sender = (f"'customer' || (n.i % {SENDERS}) || '@client' || (n.i % {DOMAINS}) ||"
              " '.example'")
    with transaction.atomic():
        if postgresql:
            sql("SET LOCAL synchronous_commit TO off")
        sql(f"""{with_cases}
            INSERT INTO desk_case (id, subject, requester, requester_name, original_recipient,
                message_id, created_at, received_at, status, intake_id, priority, tags, team,
                updated_at, channel, sla_fired)
            SELECT n.i, 'Panel ' || n.i || ' stopped charging', {sender}, 'Customer ' || n.i,
                'help@solarmora.com', '<case.' || n.i || '@client.example>', {now}, {now},
                'open', {intake}, 'normal', '[]', '', {now}, 'mail', '[]'
            FROM {from_cases}""")
        sql(f"""{with_messages}
            INSERT INTO desk_deskmessage (case_id, direction, queue_id, message_id,
                in_reply_to, "references", recipients, cc, delivery_status, automated, subject,
                sender, sender_name, text, new_text, html, parse_problems, created_at)
            SELECT {case_of}, CASE WHEN n.i % 2 = 1 THEN 'inbound' ELSE 'outbound' END, '',
                '<m.' || n.i || '@client.example>', '', '', '', '', '', '',
                'Panel ' || {case_of} || ' stopped charging',
                CASE WHEN n.i % 2 = 1 THEN {sender} ELSE 'agent@solarmora.com' END, '',
                {_text_sql()}, '', '', '', {now}
            FROM {from_messages}""")
    if postgresql:
        sql("SELECT setval(pg_get_serial_sequence('desk_case', 'id'),"
            " (SELECT max(id) FROM desk_case))")
        sql("VACUUM (ANALYZE)")
    else:
        sql("ANALYZE")
    return time.perf_counter() - started


def queries(count: int, messages: int, rng: random.Random) -> dict[str, list[str]]:
    """``count`` queries of each kind, drawn from the first ``messages`` messages."""
    def text_of(i: int) -> list[str]:
        return [word(((i * a + b) % VOCABULARY) ** 2 // VOCABULARY) for a, b in _DRAWS]

    phrases, pairs = [], []
    for _ in range(count):
        words = text_of(rng.randrange(1, messages + 1))
        at = rng.randrange(WORDS_PER_TEXT - 1)
        phrases.append('"' + " ".join(words[at:at + 2]) + '"')
        pairs.append(" ".join(rng.sample(words, 2)))
    return {
        "one word": [word(rng.randrange(VOCABULARY)) for _ in range(count)],
        "two words": pairs,
        "phrase": phrases,
        "from:": [f"from:customer{i % SENDERS}@client{i % DOMAINS}.example"
                  for i in (rng.randrange(1, messages, 2) for _ in range(count))],
        "commonest word": [word(0)],
    }


def timed(run: Callable[[], list[object]], runs: int, found: list[int]) -> list[float]:
    found.append(len(run()))  # a warm-up
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return seconds


def measure(asked: dict[str, list[str]], runs: int
            ) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
    """Milliseconds of each query of each kind, ``runs`` times; the hits of each (at most
    the 50 a page shows)."""
    from casegate.desk.search import search
    from casegate.desk.search_query import parse_query

    found: dict[str, list[int]] = {kind: [] for kind in asked}
    seconds: dict[str, list[float]] = {kind: [] for kind in asked}
    for kind, texts in asked.items():
        for text in texts:
            def run(text: str = text) -> list[object]:
                return list(search(parse_query(text)))

            seconds[kind] += [1000 * s for s in timed(run, runs, found[kind])]
    return seconds, found


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 \
        else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if not PER_CASE <= args.small < args.large:
        parser.error(f"--small of at least {PER_CASE} messages, and --large above it")
    if args.backend == "postgresql" and (reason := postgres_unavailable()):
        raise SystemExit(f"PostgreSQL: {reason}")
    print(f"casegate search: {args.small:,} then {args.large:,} desk messages, {args.backend};"
          f" {args.queries} queries of each kind, {args.runs} runs each; {os.cpu_count()} CPUs",
          flush=True)
    asked = queries(args.queries, args.small, random.Random(args.seed))
    with scratch_home(args.backend) as (home, url):
        setup_django(home, url)
        from django.db import connection

        from casegate.demo import setup_demo
        from casegate.desk.models import Intake
        from casegate.desk.vocabulary import IntakeKind

        setup_demo()
        intake = Intake.objects.filter(kind=IntakeKind.CASE).values_list("pk", flat=True)[0]
        for statement in _vocabulary_sql(connection.vendor == "postgresql"):
            sql(statement)
        results, hits = {}, {}
        previous = 0
        for size in (args.small, args.large):
            loaded = load(previous + 1, size, intake)
            previous = size
            print(f"  {size:,} messages: loaded in {loaded:.1f} s", flush=True)
            results[size], hits[size] = measure(asked, args.runs)
    target = TARGET_MS[args.backend]
    print(f"\n{'query':<15} {'p95 at ' + format(args.small, ','):>16} "
          f"{'p95 at ' + format(args.large, ','):>18} {'ratio':>6}  under {target:g} ms"
          f" and {TARGET_RATIO:g}x  (median hits)")
    for kind in asked:
        small, large = p95(results[args.small][kind]), p95(results[args.large][kind])
        met = large < target and large <= TARGET_RATIO * small
        print(f"{kind:<15} {small:>13.1f} ms {large:>15.1f} ms {large / small:>5.2f}x  "
              f"{'yes' if met else 'NO':<21}  ({statistics.median(hits[args.small][kind]):g},"
              f" {statistics.median(hits[args.large][kind]):g})")


if __name__ == "__main__":
    main()
