"""Every script in bench/ runs to completion at a tiny size, so a change to the schema or an
interface that breaks a benchmark fails here instead of on the day it is next measured.

These runs check that the scripts work, not what they measure (figures come from full runs).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.dovecot_server import dovecot_missing
from tests.support import postgres_unavailable

BENCH = Path(__file__).resolve().parent.parent / "bench"
POSTFIX = Path("/usr/sbin/postfix")

TINY = {
    "backup.py": ["--cases", "50", "--messages", "20", "--sessions", "2"],
    "smtp_throughput.py": ["--messages", "30", "--sessions", "2", "--latency-rate", "20",
                           "--latency-seconds", "0.5"],
    "rules_scale.py": ["--sizes", "1,10", "--calls", "100"],
    "rule_import.py": ["--rules", "30", "--runs", "1", "--calls", "100"],
    "import_mail.py": ["--messages", "30"],
    "case_intake.py": ["--messages", "30", "--sessions", "2", "--thread-cases", "100",
                       "--warmup", "5", "--small-cases", "20", "--timed", "5",
                       "--compare-sla"],
    "reports.py": ["--cases", "100", "--messages-per-case", "2", "--runs", "1"],
    "search.py": ["--small", "40", "--large", "200", "--queries", "2", "--runs", "1"],
    "desk_size.py": ["--cases", "60", "--batches", "2", "--runs", "1"],
    "console_pages.py": ["--cases", "100", "--events", "1000", "--repeat", "1",
                         "--budget", "100000"],
    "relay_vs_postfix.py": ["--messages", "30", "--sessions", "2", "--latency-rate", "20",
                            "--latency-seconds", "0.5"],
    "sender_auth.py": ["--messages", "20", "--runs", "1", "--warmup", "5", "--sessions", "2"],
    "doctor.py": ["--domains", "2", "--runs", "1"],
    "triggers.py": ["--triggers", "30", "--calls", "50", "--messages", "20",
                    "--intake-triggers", "10", "--rounds", "1"],
    "rspamd_intake.py": ["--messages", "30", "--sessions", "2", "--runs", "1", "--warmup", "5",
                         "--latency-rate", "10", "--latency-seconds", "0.5"],
    "imap_fetch.py": ["--messages", "20", "--runs", "1"],
    "automations.py": ["--cases", "300", "--due", "20", "--runs", "1"],
    "webhooks.py": ["--messages", "20", "--rounds", "1", "--events", "40", "--receivers", "2",
                    "--backlog", "50"],
}
NEEDS_POSTGRESQL = {"console_pages.py"}


def test_every_script_has_a_tiny_run() -> None:
    scripts = {p.name for p in BENCH.glob("*.py")} - {"smtp_load.py"}  # a module of the others
    assert scripts == set(TINY)


@pytest.mark.parametrize("script", sorted(TINY))
def test_the_script_runs_to_completion_at_a_tiny_size(script: str) -> None:
    if script in NEEDS_POSTGRESQL and (reason := postgres_unavailable()):
        print(f"SKIP {script}: {reason}")
        pytest.skip(reason)
    if script == "imap_fetch.py" and (reason := dovecot_missing()):
        print(f"SKIP {script}: {reason}")
        pytest.skip(reason)
    if script == "relay_vs_postfix.py" and not POSTFIX.exists():
        print(f"SKIP {script}: Postfix is not installed ({POSTFIX})")
        pytest.skip(f"Postfix is not installed ({POSTFIX})")
    result = subprocess.run([sys.executable, str(BENCH / script), *TINY[script]],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
