"""Relay throughput of casegate against a private Postfix instance, both into the same sink.

    .venv/bin/python bench/relay_vs_postfix.py [--messages 3000] [--sessions 10]

The scenario is a forwarding address: ``crm@solarmora.com`` is rewritten to
``support@my-crm.com``, whose next hop (a transport map entry) is a local sink standing in
for a remote CRM. Both systems get the same load from Postfix's ``smtp-source`` (4 KB
messages, a new connection per message, M parallel sessions) and relay into Postfix's
``smtp-sink`` (or, without it, the discard server of ``smtp_load.py``):

1. casegate ``serve`` on SQLite (durable defaults: WAL, synchronous=FULL), with
   ``transport add my-crm.com`` and ``rule add --match crm@solarmora.com
   --replace-recipient support@my-crm.com``;
2. a private Postfix instance (its own config, queue and data directories in a temporary
   directory, smtpd on a free loopback port, no chroot, no DNS, logging to a file there)
   with the same rewrite as ``virtual_alias_maps`` and the same ``transport_maps`` entry.
   Postfix keeps its defaults otherwise, including fsync of every queue file.

For each it prints accepted msg/s (the client's view), relayed msg/s (start of the load
until the sink has received every message), CPU ms per message (every process of the
system, until the last message reached the sink), and end-to-end latency at 100 msg/s
offered (end of DATA at the client -> arrival at a Python sink that records each
Message-ID). Without Postfix it prints the casegate figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.postfix
from tests.postfix import POSTFIX, PostfixInstance

from smtp_load import LoadResult, free_port, load, percentile, run_load, wait_banner

PY = sys.executable
RCPT = "crm@solarmora.com"
WARMUP = 200


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


# -- the sinks -----------------------------------------------------------------------------


class CountingSink:
    """Postfix's smtp-sink (``-c``: running counters on stdout), or the Python discard server.

    ``count()`` is the number of messages received (smtp-sink's ``mesg=`` counter); with the
    discard server it is read from its log of ``250`` replies on stdout.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.kind = "smtp-sink" if shutil.which("smtp-sink") else "discard server (aiosmtpd)"
        self._count = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> CountingSink:
        if self.kind == "smtp-sink":
            command = ["smtp-sink", "-c"]
            if os.geteuid() == 0:
                command += ["-u", "root"]  # it insists on a user to switch to when root
            command += [f"127.0.0.1:{self.port}", "1000"]
        else:
            command = [PY, "-u", "-c", _COUNTING_DISCARD, str(self.port)]
        self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        wait_banner(self.port)
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        tail = b""
        pattern = re.compile(rb"mesg=(\d+)")
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            tail = (tail + chunk)[-200:]
            found = pattern.findall(tail)
            if found:
                self._count = max(self._count, int(found[-1]))

    def count(self) -> int:
        return self._count

    def wait_for(self, target: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._count >= target:
                return True
            time.sleep(0.002)
        return self._count >= target

    def stop(self) -> None:
        stop_process(self._proc)
        if self._thread is not None:
            self._thread.join(5)


_COUNTING_DISCARD = """
import asyncio, sys
from aiosmtpd.smtp import SMTP
count = 0
class Discard:
    async def handle_DATA(self, server, session, envelope):
        global count
        count += 1
        print(f"mesg={count}", flush=True)
        return "250 2.0.0 Ok: discarded"
async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Discard()), "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


class ArrivalSink:
    """An aiosmtpd sink in this process that records ``time.time()`` per Message-ID."""

    MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)

    def __init__(self, port: int) -> None:
        from aiosmtpd.controller import Controller

        self.port = port
        self.seen: dict[str, float] = {}
        sink = self

        class Record:
            async def handle_DATA(self, server, session, envelope) -> str:
                now = time.time()
                content = envelope.original_content or envelope.content or b""
                head = content.split(b"\r\n\r\n", 1)[0]
                found = sink.MESSAGE_ID.search(head)
                if found:
                    sink.seen.setdefault(found[1].decode(errors="replace"), now)
                return "250 2.0.0 Ok: recorded"

        self._controller = Controller(Record(), hostname="127.0.0.1", port=port)

    def __enter__(self) -> ArrivalSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


# -- load and measurements -----------------------------------------------------------------


def cpu_seconds(pids: Callable[[], list[int]]) -> float:
    """CPU (user + system) of a process tree, including its children that already exited.

    Each process's ``children_user``/``children_system`` hold the CPU of the children it
    has reaped (Postfix's master reaps smtpd, cleanup, smtp… when they exit), so the total
    only grows while the tree works.
    """
    total = 0.0
    for pid in pids():
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def tree(root_pid: int) -> list[int]:
    try:
        root = psutil.Process(root_pid)
        return [root_pid, *(p.pid for p in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


@dataclass
class SystemResult:
    name: str
    accepted: LoadResult
    relayed: int = 0
    relay_seconds: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    latency_failed: int = 0

    @property
    def relay_rate(self) -> float:
        return self.relayed / self.relay_seconds if self.relay_seconds else 0.0


def measure(name: str, smtp_port: int, sink: CountingSink, pids: Callable[[], list[int]],
            n: int, sessions: int, drain_timeout: float) -> SystemResult:
    """Warm up, then send N messages and wait until the sink has all of them."""
    before = sink.count()
    load(smtp_port, WARMUP, sessions, [RCPT])
    if not sink.wait_for(before + WARMUP, drain_timeout):
        raise RuntimeError(f"{name}: warm-up: only {sink.count() - before} of {WARMUP}"
                           " messages reached the sink")
    before = sink.count()
    cpu0 = cpu_seconds(pids)
    t0 = time.perf_counter()
    accepted = load(smtp_port, n, sessions, [RCPT])
    sink.wait_for(before + accepted.sent, drain_timeout)
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds(pids) - cpu0
    return SystemResult(name, accepted, relayed=sink.count() - before, relay_seconds=seconds,
                        cpu=cpu)


def measure_latency(result: SystemResult, smtp_port: int, sink: ArrivalSink, sessions: int,
                    rate: float, seconds: float) -> None:
    total = max(1, int(rate * seconds))
    paced = asyncio.run(run_load("127.0.0.1", smtp_port, total, sessions, [RCPT], rate=rate))
    deadline = time.monotonic() + 60
    while (any(k not in sink.seen for k in paced.end_of_data)
           and time.monotonic() < deadline):
        time.sleep(0.01)
    result.latencies = [1000 * (sink.seen[k] - t) for k, t in paced.end_of_data.items()
                        if k in sink.seen]
    result.latency_failed = paced.failed + sum(1 for k in paced.end_of_data
                                               if k not in sink.seen)


# -- casegate ------------------------------------------------------------------------------


@contextlib.contextmanager
def casegate_server(sink_port: int) -> Iterator[tuple[int, int, Callable[[int], None]]]:
    """Yield (SMTP port, serve pid, retarget(port)) for a casegate on a temporary home."""
    home = Path(tempfile.mkdtemp(prefix="casegate-relay-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEGATE_")}
    env.update(CASEGATE_HOME=str(home), CASEGATE_HOSTNAME="bench.test")
    smtp_port = free_port()
    serve = None

    def cli(*words: str) -> None:
        done = subprocess.run([PY, "-m", "casegate", *words], env=env, capture_output=True,
                              text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"casegate {' '.join(words)}: {done.stderr.strip()}")

    def retarget(port: int) -> None:
        cli("transport", "remove", "my-crm.com")
        cli("transport", "add", "my-crm.com", f"127.0.0.1:{port}")

    try:
        cli("init")
        cli("domain", "add", "solarmora.com")
        cli("transport", "add", "my-crm.com", f"127.0.0.1:{sink_port}")
        cli("rule", "add", "--match", RCPT, "--replace-recipient", "support@my-crm.com")
        serve = subprocess.Popen([PY, "-m", "casegate", "serve", "--smtp",
                                  f"127.0.0.1:{smtp_port}"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_banner(smtp_port)
        yield smtp_port, serve.pid, retarget
    finally:
        stop_process(serve, 60)
        shutil.rmtree(home, ignore_errors=True)


# -- report --------------------------------------------------------------------------------


def print_result(r: SystemResult, n: int) -> None:
    a = r.accepted
    print(f"{r.name}:")
    print(f"  accepted: {a.sent} of {n} in {a.seconds:.2f} s = {a.rate:,.0f} msg/s"
          + (f"  ({a.failed} failed: {a.replies[:2]})" if a.failed else ""))
    print(f"  relayed:  {r.relayed} of {a.sent} at the sink {r.relay_seconds:.2f} s after the"
          f" load started = {r.relay_rate:,.0f} msg/s end to end")
    print(f"  CPU: {r.cpu:.2f} s = {1000 * r.cpu / max(1, r.relayed):.2f} ms/message"
          " (every process of the system, until the last message reached the sink)")
    if r.latencies:
        print(f"  latency end of DATA -> sink: p50 {percentile(r.latencies, 50):.1f} ms,"
              f" p99 {percentile(r.latencies, 99):.1f} ms, max {max(r.latencies):.1f} ms"
              f" over {len(r.latencies)} messages"
              + (f" ({r.latency_failed} failed or lost)" if r.latency_failed else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--latency-rate", type=float, default=100.0)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--drain-timeout", type=float, default=300.0,
                        help="longest wait for the sink to receive every message (s)")
    args = parser.parse_args()
    n, m = args.messages, args.sessions
    # SIGTERM unwinds like an error, so every finally block stops its processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("relay_vs_postfix: terminated"))
    have_postfix = Path(POSTFIX).exists()
    client = "smtp-source" if shutil.which("smtp-source") else "the asyncio client"
    sink_kind = "smtp-sink" if shutil.which("smtp-sink") else "discard server (aiosmtpd)"
    print(f"relay benchmark: {RCPT} -> support@my-crm.com -> {sink_kind};"
          f" {n} messages of 4 KB, {m} sessions, new connection each; load client: {client};"
          f" {os.cpu_count()} CPUs")

    results: list[SystemResult] = []

    sink = CountingSink(free_port()).start()
    try:
        with casegate_server(sink.port) as (smtp_port, serve_pid, retarget):
            result = measure("casegate (SQLite, durable)", smtp_port, sink,
                             lambda: tree(serve_pid), n, m, args.drain_timeout)
            results.append(result)
            arrival_port = free_port()
            with ArrivalSink(arrival_port) as arrivals:
                retarget(arrival_port)
                measure_latency(result, smtp_port, arrivals, m, args.latency_rate,
                                args.latency_seconds)
    finally:
        sink.stop()
    print_result(results[0], n)

    if not have_postfix:
        print(f"Postfix is not installed ({POSTFIX} is missing): casegate figures only.")
        return
    if os.geteuid() != 0:
        print("Postfix: skipped, a private instance needs root (queue ownership).")
        return

    sink = CountingSink(free_port()).start()
    # The same forwarding address as casegate's rule, and the same next hop.
    instance = PostfixInstance(
        free_port(),
        {"virtual": f"{RCPT} support@my-crm.com\n",
         "transport": f"my-crm.com smtp:[127.0.0.1]:{sink.port}\n"},
        main="virtual_alias_domains = solarmora.com\n"
             "virtual_alias_maps = texthash:{config}/virtual\n")
    try:
        instance.start()
        version = subprocess.run(["postconf", "-c", str(instance.config), "-h", "mail_version"],
                                 capture_output=True, text=True).stdout.strip()
        result = measure(f"Postfix {version} (private instance, defaults, fsync on)",
                         instance.smtp_port, sink, instance.pids, n, m, args.drain_timeout)
        results.append(result)
        arrival_port = free_port()
        with ArrivalSink(arrival_port) as arrivals:
            instance.rewrite("transport", f"my-crm.com smtp:[127.0.0.1]:{arrival_port}\n")
            time.sleep(1.0)  # qmgr and trivial-rewrite restart with the new map
            measure_latency(result, instance.smtp_port, arrivals, m, args.latency_rate,
                            args.latency_seconds)
        warnings = instance.warnings()
        print_result(result, n)
        if result.relayed < result.accepted.sent or warnings:
            print(f"  Postfix log ({len(warnings)} warnings or fatal errors), last lines:\n"
                  f"{instance.log_tail()}")
    finally:
        instance.close()
        sink.stop()

    ours, theirs = results
    accepted_ratio = ours.accepted.rate / theirs.accepted.rate if theirs.accepted.rate else 0
    relayed_ratio = ours.relay_rate / theirs.relay_rate if theirs.relay_rate else 0
    print("casegate / Postfix:")
    for label, ratio in (("accepted", accepted_ratio), ("relayed", relayed_ratio)):
        print(f"  {label} msg/s ratio {ratio:.2f} (target: >= 1.5 in the median of five"
              f" runs, >= 1.2 in every run; this run {'is' if ratio >= 1.2 else 'is NOT'}"
              " >= 1.2)")
    if theirs.cpu and ours.relayed and theirs.relayed:
        per = (ours.cpu / ours.relayed) / (theirs.cpu / theirs.relayed)
        print(f"  CPU per message ratio {per:.2f} (lower is better)")


if __name__ == "__main__":
    main()
