"""``casegate rule import`` of a large rule set, against Postfix's ``postmap`` building a map
of the same size, and routing cost with that rule set against one rule.

    .venv/bin/python bench/rule_import.py [--rules 100000] [--runs 5] [--calls 20000]
        [--database-url postgresql://...]

A scratch ``$CASEGATE_HOME`` (SQLite unless ``--database-url``) gets the company of
``rules_scale.py`` (500 domains, 5,000 accounts, 2,000 nested groups, an intake) and a rule
file of N rules in its mix (80% single-recipient, 15% pattern, 5% group-membership rules),
each sending mail to the intake. Each run times, as a user would run them (wall clock, and
the CPU time the command used: on a busy machine the two part):

1. ``casegate rule import FILE`` into an empty rule set (a process of its own: reading the
   file, checking every rule against the directory, saving them as one version, printing
   the diff), then ``casegate rule import`` of an empty file (removing them all);
2. ``postmap hash:FILE`` on the equivalent Postfix map (one ``key value`` line per rule),
   when ``/usr/sbin/postmap`` exists.

Every run is printed, then the median ratio. Last, routing: ``RoutingTable.route()`` with
the imported rules, for a recipient matched by a single-recipient rule, by a pattern, by
group membership and by nothing, against a table holding only that recipient's rule, the
two measured in turn (best of 25 x ``--calls`` calls). Target: within 1.2x.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rules_scale import OURS, PROBES, best_per_call, company, rule_rows, setup

POSTMAP = "/usr/sbin/postmap"
TARGET = f"cases@{OURS}"


def file_rules(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Rules of ``rules_scale.rule_rows`` as the file writes them, each sending mail to the
    intake."""
    return [{"match": row["match_type"], "value": row["match_value"],
             **({"apply_to": row["apply_to"]} if "apply_to" in row else {}),
             "change": "recipient", "to": TARGET} for row in rows]


def rule_set(size: int) -> list[dict[str, str]]:
    """``size`` rules: the probe rules of each kind (single recipient, pattern, group), then
    fillers."""
    probes = [row for kind in ("exact", "pattern", "group") for row in rule_rows(1, kind)]
    return file_rules(probes + rule_rows(size - 2, "none")[1:])


def yaml_text(rules: list[dict[str, str]]) -> str:
    import yaml

    return yaml.dump({"rules": rules}, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                     sort_keys=False)


def casegate(*args: str) -> tuple[float, float]:
    """Seconds one ``casegate`` command takes, and the CPU seconds it used; its output is
    discarded."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "casegate", *args], check=True, env=os.environ,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime


def postmap(path: Path) -> float:
    Path(f"{path}.db").unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run([POSTMAP, f"hash:{path}"], check=True)
    return time.perf_counter() - started


def routing_costs(work: Path, size: int, calls: int) -> None:
    """Each probe recipient routed by the table of ``size`` rules and by a table holding
    only its own rule, the two measured in turn (so that a busy moment of the machine
    weighs on both)."""
    from casegate.routing.ruleset import import_rules
    from casegate.routing.snapshot import load_table

    alone = {}
    for kind in ("exact", "pattern", "group"):
        import_rules(yaml_text(file_rules(rule_rows(1, kind))))
        alone[kind] = load_table()
    import_rules((work / "rules.yaml").read_text())
    full = load_table()
    costs: dict[tuple[str, str], float] = {}
    for probe, address in PROBES.items():
        small = alone["exact" if probe == "none" else probe]
        for table in (small, full):
            assert (table.route(address).rules != ()) == (probe != "none"), (probe, address)
        for _ in range(5):
            for label, table in (("alone", small), ("full", full)):
                cost = best_per_call(lambda t=table, a=address: t.route(a), calls)
                costs[probe, label] = min(cost, costs.get((probe, label), cost))
    print(f"\nroute() per recipient, best of 25 x {calls:,} calls, in turn:")
    worst = 0.0
    for probe in PROBES:
        ratio = costs[probe, "full"] / costs[probe, "alone"]
        worst = max(worst, ratio)
        print(f"  {probe:<8} its rule alone {costs[probe, 'alone'] * 1e6:6.2f} us, "
              f"{size:,} rules {costs[probe, 'full'] * 1e6:6.2f} us ({ratio:.2f}x)")
    print(f"worst ratio at {size:,} rules: {worst:.2f}x (target within 1.2x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    setup(args.database_url)
    company()
    work = Path(tempfile.mkdtemp(prefix="casegate-rule-import-"))
    try:
        rules = work / "rules.yaml"
        rule_list = rule_set(args.rules)
        rules.write_text(yaml_text(rule_list))
        empty = work / "empty.yaml"
        empty.write_text("rules: []\n")
        postfix_map = work / "virtual"
        postfix_map.write_text("".join(
            f"{rule['value'] if rule['match'] == 'address' else f'rule{n}@{OURS}'} {TARGET}\n"
            for n, rule in enumerate(rule_list)))
        has_postmap = Path(POSTMAP).exists()
        print(f"{args.rules:,} rules, database: "
              f"{'PostgreSQL' if args.database_url else 'SQLite'}"
              + ("" if has_postmap else f"; {POSTMAP} is missing: casegate figures only"))
        ratios = []
        for run in range(1, args.runs + 1):
            imported, cpu = casegate("rule", "import", str(rules))
            removed, _ = casegate("rule", "import", str(empty))
            line = (f"run {run}: rule import {imported:6.2f} s (CPU {cpu:5.2f} s; removing "
                    f"them all {removed:5.2f} s)")
            if has_postmap:
                built = postmap(postfix_map)
                ratios.append(imported / built)
                line += f"; postmap {built:5.2f} s; ratio {ratios[-1]:5.1f}x"
            print(line, flush=True)
        if ratios:
            print(f"import / postmap: median {statistics.median(ratios):.1f}x "
                  f"(runs {min(ratios):.1f}-{max(ratios):.1f}x)")
        routing_costs(work, args.rules, args.calls)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
