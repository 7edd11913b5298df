"""Routed-to-case throughput and latency of casegate against a discard-only aiosmtpd.

    .venv/bin/python bench/smtp_throughput.py [--messages 3000] [--sessions 10]

It runs, in one go and with the same load client (4 KB messages, a new connection per
message, M parallel sessions):

1. a discard-only aiosmtpd server: the Python SMTP ceiling on this machine (baseline);
2. casegate ``serve`` on SQLite (durable: WAL, synchronous=FULL) with the demo company:
   N messages to help@ (each opens a case), then N to a rule that forwards to a remote
   SMTP sink;
3. a paced run at 100 msg/s offered, measuring end of DATA → case visible in the database.

The load client is Postfix's ``smtp-source`` when it is installed (``apt-get install
postfix``; it is what the peers' figures were measured with), otherwise the asyncio client
in ``smtp_load.py``. It prints accepted messages/s, the ratio to the baseline, CPU ms
per message (gateway and worker processes), and latency percentiles. Durability stays on
throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smtp_load import LoadResult, free_port, load, percentile, run_load, wait_banner

PY = sys.executable


def start_discard(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([PY, str(Path(__file__).with_name("smtp_load.py")), "discard",
                             str(port)], stdout=subprocess.DEVNULL)
    wait_banner(port)
    return proc


def cpu_seconds(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


class CaseWatcher:
    """Polls the database and records when each Message-ID's case became visible."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._last_id = 0

    def __enter__(self) -> CaseWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self.db)
        while not self._stop.is_set():
            rows = conn.execute("SELECT id, message_id FROM desk_case WHERE id > ? ORDER BY id",
                                (self._last_id,)).fetchall()
            now = time.time()
            for row_id, message_id in rows:
                self.seen.setdefault(message_id, now)
                self._last_id = row_id
            self._stop.wait(0.002)
        conn.close()


def count_cases(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM desk_case").fetchone()[0]
    finally:
        conn.close()


def report(name: str, result: LoadResult) -> None:
    print(f"  {name}: {result.sent} accepted, {result.failed} failed in {result.seconds:.2f} s"
          f" = {result.rate:,.0f} msg/s")
    if result.failed:
        print(f"    first failures: {result.replies[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--latency-rate", type=float, default=100.0)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    args = parser.parse_args()
    n, m = args.messages, args.sessions
    client = "smtp-source" if shutil.which("smtp-source") else "the asyncio client"
    print(f"casegate SMTP benchmark: {n} messages of 4 KB, {m} sessions, new connection each;"
          f" {os.cpu_count()} CPUs; load client: {client}")

    port = free_port()
    baseline_proc = start_discard(port)
    try:
        load(port, 200, m, ["x@example.com"])  # warm-up
        base_cpu0 = cpu_seconds(psutil.Process(baseline_proc.pid))
        baseline = load(port, n, m, ["help@solarmora.com"])
        base_cpu = cpu_seconds(psutil.Process(baseline_proc.pid)) - base_cpu0
    finally:
        baseline_proc.terminate()
        baseline_proc.wait()
    print("baseline (aiosmtpd, accept and discard):")
    report("discard", baseline)
    print(f"    server CPU {1000 * base_cpu / max(1, baseline.sent):.2f} ms/message")

    home = Path(tempfile.mkdtemp(prefix="casegate-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEGATE_")}
    # Every message comes from one load client: without a loop limit each opens its case.
    env.update(CASEGATE_HOME=str(home), CASEGATE_HOSTNAME="bench.test", CASEGATE_LOOP_LIMIT="0")
    sink_port, smtp_port = free_port(), free_port()
    sink = start_discard(sink_port)

    def cli(*words: str) -> str:
        return subprocess.run([PY, "-m", "casegate", *words], env=env, check=True,
                              capture_output=True, text=True).stdout

    serve = None
    try:
        cli("init")
        cli("demo")
        cli("transport", "add", "my-crm.com", f"127.0.0.1:{sink_port}")
        cli("rule", "add", "--match", "crm@solarmora.com", "--replace-recipient",
            "support@my-crm.com")
        serve = subprocess.Popen([PY, "-m", "casegate", "serve", "--smtp",
                                  f"127.0.0.1:{smtp_port}"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_banner(smtp_port)
        db = home / "casegate.sqlite3"
        proc = psutil.Process(serve.pid)
        load(smtp_port, 200, m, ["help@solarmora.com"])
        while count_cases(db) < 200:
            time.sleep(0.05)

        print("casegate (SQLite, durable), routed to case:")
        cpu0 = cpu_seconds(proc)
        before = count_cases(db)
        t0 = time.perf_counter()
        routed = load(smtp_port, n, m, ["help@solarmora.com"])
        report("help@ -> case", routed)
        while count_cases(db) < before + routed.sent:
            time.sleep(0.01)
        drained = time.perf_counter() - t0
        cpu = cpu_seconds(proc) - cpu0
        print(f"    all {routed.sent} cases stored after {drained:.2f} s"
              f" = {routed.sent / drained:,.0f} cases/s end to end")
        print(f"    CPU {1000 * cpu / max(1, routed.sent):.2f} ms/message"
              " (gateway + delivery worker, until every case was stored)")
        ratio = routed.rate / baseline.rate
        print(f"  ratio to the discard baseline: {ratio:.2f}"
              f" (target >= 0.70: {'met' if ratio >= 0.7 else 'NOT met'})")

        forwarded = load(smtp_port, n, m, ["crm@solarmora.com"])
        report("crm@ -> remote SMTP sink (a discard server)", forwarded)
        print(f"  ratio to the discard baseline: {forwarded.rate / baseline.rate:.2f}")

        total = int(args.latency_rate * args.latency_seconds)
        print(f"latency at {args.latency_rate:.0f} msg/s offered ({total} messages):")
        with CaseWatcher(db) as watcher:
            paced = asyncio.run(run_load("127.0.0.1", smtp_port, total, m,
                                         ["help@solarmora.com"], rate=args.latency_rate))
            deadline = time.time() + 30
            while (any(k not in watcher.seen for k in paced.end_of_data)
                   and time.time() < deadline):
                time.sleep(0.01)
        latencies = [1000 * (watcher.seen[k] - t) for k, t in paced.end_of_data.items()
                     if k in watcher.seen]
        report("paced", paced)
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        print(f"  end of DATA -> case visible: p50 {p50:.1f} ms, p99 {p99:.1f} ms,"
              f" max {max(latencies):.1f} ms, mean {statistics.fmean(latencies):.1f} ms"
              f" over {len(latencies)} cases (target p99 < 50 ms:"
              f" {'met' if p99 < 50 else 'NOT met'})")
        rss = sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
        print(f"memory: gateway + worker RSS {rss / 2**20:.0f} MiB")
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait()
        sink.terminate()
        sink.wait()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
