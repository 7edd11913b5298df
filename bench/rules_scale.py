"""Routing cost and load time as the rule set grows from 1 to 1,000 to 100,000 rules.

    .venv/bin/python bench/rules_scale.py [--sizes 1,1000,100000] [--calls 50000]
        [--database-url postgresql://...]

A scratch ``$CASEGATE_HOME`` (SQLite unless ``--database-url``) gets a company of 500
domains, 5,000 accounts and 2,000 groups (nested two deep). For each size N the rule table
is filled with a mix like a large company's: 80% single-recipient rules, 15% pattern
rules (most naming their domain, 1 in 100 not), 5% group-membership rules. The rules are
inserted with ``bulk_create`` (the validation ``casegate rule add`` does is not what is
measured), then ``load_table()`` reads them (timed: target under 5 s for 100,000) and the
process's resident memory growth per rule is printed.

Per-message routing cost: ``RoutingTable.route()`` on four kinds of recipient, each kind
matched by exactly one rule in every table (the table of size 1 holds just that kind's
probe rule; larger tables add filler rules around it, in the same domains and groups):

* exact: an address with a single-recipient rule;
* pattern: an address matched by a pattern rule of its domain;
* group: an account that belongs (through a nested group) to a group with a rule;
* none: an account no rule matches.

Each figure is the best of 5 runs of ``--calls`` calls; the ratio is against the table
with one rule of that kind. Target: every ratio at 100,000 rules within 1.2.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

DOMAINS = 500
ACCOUNTS = 5_000
GROUPS = 2_000
OURS = "solarmora.com"
PROBES = {
    "exact": f"help@{OURS}",
    "pattern": f"sales-emea@{OURS}",
    "group": f"member0@{OURS}",
    "none": f"member1@{OURS}",
}


def setup(database_url: str | None) -> None:
    home = tempfile.mkdtemp(prefix="casegate-rules-bench-")
    os.environ.update(CASEGATE_HOME=home, DJANGO_SETTINGS_MODULE="casegate.settings")
    if database_url:
        os.environ["CASEGATE_DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def company() -> None:
    from casegate.desk.models import Intake
    from casegate.directory.models import Account, Domain, Group, GroupMember

    domains = [Domain(name=OURS)] + [Domain(name=f"d{i}.example") for i in range(DOMAINS - 1)]
    Domain.objects.bulk_create(domains)
    by_name = {d.name: d for d in Domain.objects.all()}
    accounts = [Account(address=f"member{i}@{OURS}", domain=by_name[OURS]) for i in range(10)]
    accounts += [Account(address=f"user{i}@d{i % (DOMAINS - 1)}.example",
                         domain=by_name[f"d{i % (DOMAINS - 1)}.example"])
                 for i in range(ACCOUNTS - 10)]
    Account.objects.bulk_create(accounts, batch_size=2000)
    groups = [Group(address=f"group{i}@{OURS}", domain=by_name[OURS]) for i in range(GROUPS)]
    Group.objects.bulk_create(groups, batch_size=2000)
    ids = dict(Group.objects.values_list("address", "id"))
    members = []
    rng = random.Random(7)
    for i in range(GROUPS):
        group = ids[f"group{i}@{OURS}"]
        if i % 2:  # odd groups hold the even group before them: nesting two deep
            members.append(GroupMember(group_id=group, address=f"group{i - 1}@{OURS}"))
        members += [GroupMember(group_id=group, address=accounts[index].address)
                    for index in rng.sample(range(10, ACCOUNTS), 5)]
    # member0 is in group0 (and so in group1); member1 is in no group.
    members.append(GroupMember(group_id=ids[f"group0@{OURS}"], address=f"member0@{OURS}"))
    GroupMember.objects.bulk_create(members, batch_size=5000)
    Intake.objects.create(address=f"cases@{OURS}", kind="case")


def rule_rows(size: int, probe: str) -> list[dict[str, Any]]:
    """``size`` rules: the probe rule of one kind, then fillers in the mix."""
    probes = {
        "exact": {"match_type": "address", "match_value": PROBES["exact"]},
        "pattern": {"match_type": "pattern", "match_value": r"sales-.*@solarmora\.com"},
        "group": {"match_type": "group", "match_value": f"group1@{OURS}",
                  "apply_to": "users"},
        "none": {"match_type": "address", "match_value": f"nobody@{OURS}"},
    }
    rows = [probes[probe]]
    rng = random.Random(size)
    for i in range(size - 1):
        draw = rng.random()
        domain = OURS if i % 50 == 0 else f"d{i % (DOMAINS - 1)}.example"
        if draw < 0.80:
            rows.append({"match_type": "address", "match_value": f"alias{i}@{domain}"})
        elif draw < 0.95:
            if i % 100 == 0:
                rows.append({"match_type": "pattern", "match_value": rf"noreply-{i}-[0-9]+@.*"})
            else:
                escaped = domain.replace(".", "\\.")
                rows.append({"match_type": "pattern", "match_value": rf"team{i}-[a-z]+@{escaped}"})
        else:
            rows.append({"match_type": "group", "apply_to": "users",
                         "match_value": f"group{rng.randrange(2, GROUPS)}@{OURS}"})
    return rows


def fill(size: int, probe: str) -> None:
    from casegate.routing.models import Rule

    Rule.objects.all().delete()
    Rule.objects.bulk_create(
        [Rule(position=position, rewrite="recipient", rewrite_value=f"cases@{OURS}",
              **{"apply_to": Rule.APPLY_ALL, **row})
         for position, row in enumerate(rule_rows(size, probe), start=1)],
        batch_size=5000)


def best_per_call(call: Callable[[], object], calls: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,1000,100000")
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    setup(args.database_url)
    from casegate.routing.snapshot import load_table

    company()
    process = psutil.Process()
    print(f"company: {DOMAINS} domains, {ACCOUNTS} accounts, {GROUPS} groups; "
          f"database: {'PostgreSQL' if args.database_url else 'SQLite'}")
    costs: dict[tuple[str, int], float] = {}
    for size in sizes:
        for probe, address in PROBES.items():
            fill(size, probe)
            gc.collect()
            before = process.memory_info().rss
            started = time.perf_counter()
            table = load_table()
            load = time.perf_counter() - started
            grown = process.memory_info().rss - before
            routing = table.route(address)
            assert (routing.rules != ()) == (probe != "none"), (probe, size, routing)
            costs[probe, size] = best_per_call(lambda t=table, a=address: t.route(a), args.calls)
            if probe == "exact":
                # Below some 10,000 rules the growth is within what the allocator keeps.
                memory = (f", memory {grown / 1e6:7.1f} MB ({grown / size:,.0f} bytes per rule)"
                          if size >= 10_000 else "")
                print(f"{size:>7} rules: load_table {load:6.2f} s"
                      + (" (target < 5 s)" if size >= 100_000 else "") + memory)
            del table
    print(f"\nroute() per message, best of 5 x {args.calls:,} calls (ratio against 1 rule):")
    print("  recipient " + "".join(f"{size:>20,} rules" for size in sizes))
    worst = 0.0
    for probe in PROBES:
        base = costs[probe, sizes[0]]
        cells = []
        for size in sizes:
            ratio = costs[probe, size] / base
            if size == sizes[-1]:
                worst = max(worst, ratio)
            cells.append(f"{costs[probe, size] * 1e6:9.2f} us ({ratio:4.2f}x)")
        print(f"  {probe:<9} " + "".join(f"{c:>26}" for c in cells))
    print(f"\nworst ratio at {sizes[-1]:,} rules: {worst:.2f}x (target within 1.2x)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
