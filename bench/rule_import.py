"""``casegate rule import`` of a large rule set, against Postfix's ``postmap`` building a map
of the same size, and routing cost with that rule set against one rule.

    .venv/bin/python bench/rule_import.py [--rules 100000] [--runs 5] [--calls 20000]
        [--database-url postgresql://...]

A scratch ``$CASEGATE_HOME`` (SQLite unless ``--database-url``) gets the company of
``rules_scale.py`` (500 domains, 5,000 accounts, 2,000 nested groups, an intake) and a rule
file of N rules in its mix (80% single-recipient, 15% pattern, 5% group-membership rules),
each sending mail to the intake. Each run times, as a user would run them:

1. ``casegate rule import FILE`` into an empty rule set (a process of its own: reading the
   file, checking every rule against the directory, saving them as one version, printing
   the diff), then ``casegate rule import`` of an empty file (removing them all);
2. ``postmap hash:FILE`` on the equivalent Postfix map (one ``key value`` line per rule),
   when ``/usr/sbin/postmap`` exists.

Every run is printed, then the median ratio. Last, routing: ``RoutingTable.route()`` after
the import, for a recipient matched by a single-recipient rule, by a pattern, by group
membership and by nothing, against a table holding only that recipient's rule (best of 5 x
``--calls`` calls). Target: within 1.2x.
"""

from __future__ import annotations

import argparse
import os
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


def file_rules(size: int, probe: str) -> list[dict[str, str]]:
    """``size`` rules as the file writes them: the probe rule of one kind, then fillers."""
    return [{"match": row["match_type"], "value": row["match_value"],
             **({"apply_to": row["apply_to"]} if "apply_to" in row else {}),
             "change": "recipient", "to": TARGET}
            for row in rule_rows(size, probe)]


def write_rules(path: Path, rules: list[dict[str, str]]) -> None:
    import yaml

    path.write_text(yaml.dump({"rules": rules}, Dumper=getattr(yaml, "CSafeDumper",
                                                               yaml.SafeDumper),
                              sort_keys=False))


def casegate(*args: str) -> float:
    """Seconds one ``casegate`` command takes, its output discarded."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "casegate", *args], check=True, env=os.environ,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def postmap(path: Path) -> float:
    Path(f"{path}.db").unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run([POSTMAP, f"hash:{path}"], check=True)
    return time.perf_counter() - started


def routing_costs(work: Path, size: int, calls: int) -> None:
    from casegate.routing.ruleset import import_rules
    from casegate.routing.snapshot import load_table

    costs: dict[tuple[str, int], float] = {}
    kinds = {probe: "exact" if probe == "none" else probe for probe in PROBES}
    for probe, address in PROBES.items():
        for rules in (1, size):
            import_rules(Path(work / f"{kinds[probe]}-{rules}.yaml").read_text())
            table = load_table()
            routing = table.route(address)
            assert (routing.rules != ()) == (probe != "none"), (probe, rules, routing)
            costs[probe, rules] = best_per_call(lambda t=table, a=address: t.route(a), calls)
    print(f"\nroute() per recipient, best of 5 x {calls:,} calls:")
    worst = 0.0
    for probe in PROBES:
        ratio = costs[probe, size] / costs[probe, 1]
        worst = max(worst, ratio)
        print(f"  {probe:<8} 1 rule {costs[probe, 1] * 1e6:6.2f} us, {size:,} rules "
              f"{costs[probe, size] * 1e6:6.2f} us ({ratio:.2f}x)")
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
        for kind in ("exact", "pattern", "group"):
            for size in (1, args.rules):
                write_rules(work / f"{kind}-{size}.yaml", file_rules(size, kind))
        rules = work / f"exact-{args.rules}.yaml"
        empty = work / "empty.yaml"
        empty.write_text("rules: []\n")
        postfix_map = work / "virtual"
        postfix_map.write_text("".join(
            f"{rule['value'] if rule['match'] == 'address' else f'rule{n}@{OURS}'} {TARGET}\n"
            for n, rule in enumerate(file_rules(args.rules, "exact"))))
        has_postmap = Path(POSTMAP).exists()
        print(f"{args.rules:,} rules, database: "
              f"{'PostgreSQL' if args.database_url else 'SQLite'}"
              + ("" if has_postmap else f"; {POSTMAP} is missing: casegate figures only"))
        ratios = []
        for run in range(1, args.runs + 1):
            imported = casegate("rule", "import", str(rules))
            removed = casegate("rule", "import", str(empty))
            line = (f"run {run}: rule import {imported:6.2f} s (removing them all "
                    f"{removed:5.2f} s)")
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
