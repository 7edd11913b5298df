"""What sender authentication (SPF, DKIM, DMARC, ARC) costs the gateway per message.

    .venv/bin/python bench/sender_auth.py [--messages 1000] [--runs 5] [--sessions 4]
                                          [--slice 100] [--profile 0]

Two gateways (``casegate serve --no-worker --processes 1``: the gateway runs in the serving
process, whose CPU time is read; each with the demo company in its own SQLite home) behind
one name server on loopback (``LocalDNS``), the client's address untrusted: one with
``CASEGATE_SENDER_AUTH=on``, the other ``off``. Each message is about 4 KB, to
help@solarmora.com, DKIM-signed (rsa-sha256, relaxed/relaxed) by example.net, whose SPF
allows the client and whose DMARC policy is p=reject: every check passes and every lookup
is answered. After a warm-up that fills the DNS caches, each run sends ``--messages``
messages to both gateways, ``--slice`` messages at a time to one then the other (so that
both see the same load from the rest of a shared machine), and reads the CPU time (user +
system) of each gateway process over its slices. Printed per run: CPU ms per message off
and on, the difference (what the checks add) and the ratio; then the median of the runs.
Target: at most 0.5 ms added per message.

``--profile N`` then makes the checks of N of the messages in this process with warm caches
(``SenderAuthentication.authenticate``: the checks, the policy and the header, without the
hand-off around them) under cProfile, and prints the functions that cost the most.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dkim
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' name server
from tests.e2e.test_forwarding import rsa_key
from tests.support import LocalDNS

from smtp_load import LoadResult, free_port, make_message, send_one, wait_banner

PY = sys.executable
RCPT = "help@solarmora.com"
TARGET_ADDED_MS = 0.5
PROFILED_FUNCTIONS = 15


def signed_messages(count: int, key: bytes, tag: str) -> list[tuple[str, bytes]]:
    messages = []
    for n in range(count):
        msgid, data = make_message(n)
        msgid = msgid.replace("bench-", f"bench-{tag}-")
        data = data.replace(b"<bench-", f"<bench-{tag}-".encode(), 1)
        signature = dkim.sign(data, b"s1", b"example.net", key,
                              canonicalize=(b"relaxed", b"relaxed"))
        messages.append((msgid, signature + data))
    return messages


async def send_all(port: int, messages: list[tuple[str, bytes]], sessions: int) -> LoadResult:
    result = LoadResult()
    pending = iter(messages)

    async def worker() -> None:
        for msgid, data in pending:
            await send_one("127.0.0.1", port, RCPT, msgid, data, result)

    await asyncio.gather(*(worker() for _ in range(sessions)))
    return result


class Gateway:
    """``casegate serve --no-worker --processes 1`` in its own home, its CPU time read from
    outside."""

    def __init__(self, auth: str, dns: str) -> None:
        self.auth = auth
        self.home = Path(tempfile.mkdtemp(prefix=f"casegate-auth-bench-{auth}-"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CASEGATE_")}
        self.env.update(CASEGATE_HOME=str(self.home), CASEGATE_HOSTNAME="bench.test",
                        CASEGATE_TRUSTED_NETWORKS="192.0.2.0/24", CASEGATE_DNS_SERVERS=dns,
                        CASEGATE_SENDER_AUTH=auth, PYTHONUNBUFFERED="1")
        for words in (["init"], ["demo"]):
            subprocess.run([PY, "-m", "casegate", *words], env=self.env, check=True,
                           capture_output=True, text=True)
        self.port = free_port()
        self.log = self.home / "serve.log"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [PY, "-m", "casegate", "serve", "--smtp", f"127.0.0.1:{self.port}",
                 "--no-worker", "--processes", "1"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_banner(self.port)
        self.ps = psutil.Process(self.process.pid)

    def cpu(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def batch(self, messages: list[tuple[str, bytes]], sessions: int) -> float:
        """CPU seconds for receiving ``messages``."""
        before = self.cpu()
        result = asyncio.run(send_all(self.port, messages, sessions))
        if result.failed:
            raise SystemExit(f"auth={self.auth}: {result.failed} messages failed:"
                             f" {result.replies[:3]}")
        return self.cpu() - before

    def results_of_one(self) -> str:
        import sqlite3

        conn = sqlite3.connect(self.home / "casegate.sqlite3")
        try:
            row = conn.execute("SELECT auth_results FROM gateway_message ORDER BY queue_id"
                               " DESC LIMIT 1").fetchone()
        finally:
            conn.close()
        return row[0] if row else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.home, ignore_errors=True)


def compare(off: Gateway, on: Gateway, messages: list[tuple[str, bytes]], sessions: int,
            slice_size: int) -> tuple[float, float]:
    """CPU ms per message of each gateway receiving ``messages``, a slice to one then the
    same slice to the other."""
    seconds = {off: 0.0, on: 0.0}
    for start in range(0, len(messages), slice_size):
        for gateway in (off, on):
            seconds[gateway] += gateway.batch(messages[start:start + slice_size], sessions)
    return seconds[off] * 1000 / len(messages), seconds[on] * 1000 / len(messages)


def profile(messages: list[tuple[str, bytes]], dns: str, warmup: int) -> None:
    """The checks of ``messages`` in this process, after ``warmup`` of them filled the caches,
    under cProfile; the most costly functions, by their own time."""
    os.environ.update(CASEGATE_DNS_SERVERS=dns, CASEGATE_HOSTNAME="bench.test")
    from casegate.config import get_config
    from casegate.filtering.sender_auth import SenderAuthentication

    checks = SenderAuthentication(get_config())

    def check_all(batch: list[tuple[str, bytes]]) -> None:
        for _, raw in batch:
            checks.authenticate(raw, "127.0.0.1", "load@example.net", "load.example.net",
                                frozenset({"solarmora.com"}))

    check_all(messages[:warmup])
    profiler = cProfile.Profile()
    profiler.enable()
    check_all(messages[warmup:])
    profiler.disable()
    print(f"the checks of {len(messages) - warmup} messages in this process, by own time:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(PROFILED_FUNCTIONS)


@contextmanager
def gateways(dns: str) -> Iterator[tuple[Gateway, Gateway]]:
    started: list[Gateway] = []
    try:
        for auth in ("off", "on"):
            started.append(Gateway(auth, dns))
        yield started[0], started[1]
    finally:
        for gateway in started:
            gateway.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000, help="per run and gateway")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--slice", type=int, default=100,
                        help="messages sent to one gateway before the other's turn")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="then profile the checks of N messages in this process")
    args = parser.parse_args()
    key, record = rsa_key()
    zone = {"s1._domainkey.example.net.": {"TXT": [record]},
            "example.net.": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]},
            "_dmarc.example.net.": {"TXT": ["v=DMARC1; p=reject"]}}
    total = args.warmup + args.runs * args.messages
    print(f"signing {total} messages of ~4 KB (each sent to both gateways)...", flush=True)
    messages = signed_messages(total, key, os.urandom(4).hex())
    warm, timed = messages[:args.warmup], messages[args.warmup:]
    with LocalDNS(zone) as dns, gateways(dns.address) as (off, on):
        compare(off, on, warm, args.sessions, args.slice)
        print(f"the checks record: {on.results_of_one()}")
        print(f"gateway CPU per message, {args.messages} messages a run, {args.sessions}"
              f" sessions, slices of {args.slice} (ms):")
        added, ratios = [], []
        for run in range(args.runs):
            batch = timed[run * args.messages:(run + 1) * args.messages]
            cost_off, cost_on = compare(off, on, batch, args.sessions, args.slice)
            added.append(cost_on - cost_off)
            ratios.append(cost_on / cost_off)
            print(f"  run {run + 1}: off {cost_off:5.2f}  on {cost_on:5.2f}"
                  f"  added {cost_on - cost_off:5.2f}  ({cost_on / cost_off:4.2f}x)", flush=True)
        median = statistics.median(added)
        verdict = "met" if median <= TARGET_ADDED_MS else "NOT met"
        print(f"median added: {median:.2f} ms per message ({statistics.median(ratios):.2f}x);"
              f" target at most {TARGET_ADDED_MS} ms: {verdict}", flush=True)
        if args.profile:
            profile(warm + timed[:args.profile], dns.address, len(warm))


if __name__ == "__main__":
    main()
