"""casegate's intake with rspamd classifying every message, against rspamd alone.

    .venv/bin/python bench/rspamd_intake.py [--messages 2000] [--sessions 10] [--runs 5]
        [--latency-rate 50] [--latency-seconds 10]

Debian's rspamd runs from the tests' configuration (tests/rspamd: no internet, its name
server a LocalDNS on loopback, as in the test suite), and ``casegate serve`` on SQLite
(durable) with the demo company and ``CASEGATE_RSPAMD_URL`` pointing at it. Each run, on the
same 4 KB messages to help@ (each opens a case):

1. rspamd alone: the messages posted to its ``/checkv2`` with their envelope (the same
   headers casegate sends) over M parallel connections: scans per second;
2. casegate with rspamd: the messages over SMTP (a new connection per message, M parallel
   sessions): accepted per second (each scanned by rspamd before its 250) and cases per
   second end to end (first send until every case is stored); the ratio of the accepted
   rate to rspamd's own rate (target >= 0.5);
3. a paced run at 50 msg/s offered: end of DATA -> case visible (target p99 < 100 ms).

It prints each run and, over the runs, the range and median of the rates and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.spam_filters
from tests.spam_filters import running_rspamd
from tests.support import LocalDNS, free_port

from smtp_load import make_message, percentile, run_load, wait_banner
from smtp_throughput import CaseWatcher, count_cases

PY = sys.executable
RCPT = "help@solarmora.com"
ENVELOPE = [("Helo", "load.example.net"), ("From", "load@example.net"), ("IP", "127.0.0.1"),
            ("Rcpt", RCPT)]
TARGET_RATIO = 0.5
TARGET_P99_MS = 100.0


async def rspamd_alone(url: str, count: int, sessions: int) -> tuple[float, int]:
    """Scans per second of rspamd's /checkv2 over ``sessions`` parallel connections, and
    how many failed."""
    import aiohttp

    messages = [make_message(n)[1] for n in range(count)]
    failed = 0
    next_message = iter(messages)
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            nonlocal failed
            for raw in next_message:
                async with session.post(f"{url}/checkv2", data=raw,
                                        headers=ENVELOPE) as response:
                    answer = await response.json()
                    failed += response.status != 200 or "action" not in answer

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(sessions)))
        return count / (time.perf_counter() - start), failed


def spread(label: str, values: list[float], unit: str = "") -> str:
    return (f"{label} {min(values):,.2f}-{max(values):,.2f}{unit}"
            f" (median {statistics.median(values):,.2f}{unit})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--latency-rate", type=float, default=50.0)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    args = parser.parse_args()
    n, m = args.messages, args.sessions
    print(f"rspamd intake benchmark: {n} messages of 4 KB, {m} sessions, {args.runs} runs;"
          f" {os.cpu_count()} CPUs")

    home = Path(tempfile.mkdtemp(prefix="casegate-bench-rspamd-"))
    serve = None
    with LocalDNS({}) as dns, running_rspamd(dns.address) as rspamd:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASEGATE_")}
        # Every message opens a case, though one sender sends them all.
        env.update(CASEGATE_HOME=str(home), CASEGATE_HOSTNAME="bench.test",
                   CASEGATE_RSPAMD_URL=rspamd.url, CASEGATE_LOOP_LIMIT="0")
        try:
            for words in (["init"], ["demo"]):
                subprocess.run([PY, "-m", "casegate", *words], env=env, check=True,
                               capture_output=True)
            port = free_port()
            log = open(home / "serve.log", "ab")  # noqa: SIM115 - owned by the child
            serve = subprocess.Popen([PY, "-m", "casegate", "serve", "--smtp",
                                      f"127.0.0.1:{port}"], env=env, stdout=log,
                                     stderr=subprocess.STDOUT)
            wait_banner(port)
            db = home / "casegate.sqlite3"
            asyncio.run(rspamd_alone(rspamd.url, args.warmup, m))
            warm = asyncio.run(run_load("127.0.0.1", port, args.warmup, m, [RCPT]))
            while count_cases(db) < warm.sent:
                time.sleep(0.05)

            alone_rates, accepted_rates, case_rates, ratios, p99s = [], [], [], [], []
            for run in range(1, args.runs + 1):
                alone, alone_failed = asyncio.run(rspamd_alone(rspamd.url, n, m))
                before = count_cases(db)
                t0 = time.perf_counter()
                result = asyncio.run(run_load("127.0.0.1", port, n, m, [RCPT]))
                while count_cases(db) < before + result.sent:
                    time.sleep(0.01)
                cases_rate = result.sent / (time.perf_counter() - t0)
                ratio = result.rate / alone

                total = max(1, int(args.latency_rate * args.latency_seconds))
                with CaseWatcher(db) as watcher:
                    paced = asyncio.run(run_load("127.0.0.1", port, total, m, [RCPT],
                                                 rate=args.latency_rate))
                    deadline = time.time() + 30
                    while (any(k not in watcher.seen for k in paced.end_of_data)
                           and time.time() < deadline):
                        time.sleep(0.01)
                latencies = [1000 * (watcher.seen[k] - t) for k, t in paced.end_of_data.items()
                             if k in watcher.seen]
                p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
                print(f"run {run}: rspamd alone {alone:,.0f} scans/s ({alone_failed} failed);"
                      f" casegate with rspamd {result.rate:,.0f} accepted/s"
                      f" ({result.failed} failed), {cases_rate:,.0f} cases/s end to end;"
                      f" ratio {ratio:.2f}; at {args.latency_rate:.0f} msg/s end of DATA ->"
                      f" case p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(latencies)} cases)",
                      flush=True)
                alone_rates.append(alone)
                accepted_rates.append(result.rate)
                case_rates.append(cases_rate)
                ratios.append(ratio)
                p99s.append(p99)

            print(f"over {args.runs} runs: {spread('rspamd alone', alone_rates, ' scans/s')};"
                  f" {spread('casegate accepted', accepted_rates, '/s')};"
                  f" {spread('cases', case_rates, '/s')}")
            ratio = statistics.median(ratios)
            p99 = statistics.median(p99s)
            print(f"  {spread('ratio accepted / rspamd alone', ratios)}"
                  f" (target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")
            print(f"  {spread('p99 end of DATA -> case', p99s, ' ms')}"
                  f" (target < {TARGET_P99_MS:.0f} ms:"
                  f" {'met' if p99 < TARGET_P99_MS else 'NOT met'})")
            scans = [line for line in (home / "serve.log").read_text().splitlines()
                     if "unavailable=" in line or " ERROR " in line]
            print(f"  scans rspamd did not answer, errors in the serve log: {len(scans)}")
        finally:
            if serve is not None:
                serve.terminate()
                serve.wait()
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
