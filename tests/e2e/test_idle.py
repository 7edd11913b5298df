"""An idle ``serve`` sleeps: no mail, next to no CPU, and mail still leaves at once."""

from __future__ import annotations

import time
from contextlib import ExitStack

import psutil

from tests.mails import mail
from tests.support import Instance, instance, postgres_unavailable

IDLE_SECONDS = 30
MOST_CPU_SHARE = 0.01  # of one core
WOKEN_WITHIN = 3.0  # seconds; the idle worker's own next look is 5 s away
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def tree_cpu_seconds(pid: int) -> float:
    processes = [psutil.Process(pid)]
    processes += processes[0].children(recursive=True)
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def test_an_idle_serve_uses_under_one_percent_of_a_core_and_still_delivers_at_once() -> None:
    backends = ["sqlite"] + ([] if postgres_unavailable() else ["postgresql"])
    with ExitStack() as stack:
        # The default idle wait, not the test suite's quick polling.
        running: list[Instance] = [
            stack.enter_context(instance(backend, CASEGATE_WORKER_POLL="5"))
            for backend in backends
        ]
        for inst in running:
            inst.run("demo")
            inst.start()
        time.sleep(3)  # start-up: migrations check, the worker's first looks
        before = {inst.backend: tree_cpu_seconds(inst.process.pid) for inst in running}
        time.sleep(IDLE_SECONDS)
        used = {inst.backend: tree_cpu_seconds(inst.process.pid) - before[inst.backend]
                for inst in running}
        for backend, seconds in used.items():
            assert seconds / IDLE_SECONDS < MOST_CPU_SHARE, (backend, used)
        for inst in running:  # woken by the doorbell or NOTIFY, not by the next poll
            data, msgid = mail(subject="after a long sleep")
            inst.send("someone@example.net", ["help@solarmora.com"], data)
            inst.case_with(msgid, timeout=WOKEN_WITHIN)
            # An operator's release queues mail too.
            data, msgid = mail(subject="held, then released", body=GTUBE)
            queue_id = inst.send("someone@example.net", ["help@solarmora.com"], data)
            held = next(q for q in inst.json("quarantine", "list") if q["queue_id"] == queue_id)
            inst.run("quarantine", "release", str(held["id"]))
            inst.case_with(msgid, timeout=WOKEN_WITHIN)
