"""Real spam filters for the tests and benchmarks: Debian's rspamd and SpamAssassin's spamd,
each run in the foreground from the repository's configuration, on free loopback ports,
with its state in a temporary directory.

rspamd's configuration (tests/rspamd/local.d) needs no internet: modules that fetch remote
lists or maps are off, and its name server is the tests' own (LocalDNS), so no scan waits
on a lookup. It compiles its Hyperscan databases once (about 18 s) into
~/.cache/casegate-tests, where later runs find them.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.support import ROOT, free_port

RSPAMD = Path("/usr/bin/rspamd")
RSPAMD_CONFIG = ROOT / "tests" / "rspamd"
HYPERSCAN_CACHE = Path.home() / ".cache" / "casegate-tests" / "rspamd-hyperscan"
REDIS = "127.0.0.1:6379"  # Bayes statistics, for learning
SPAMD = Path("/usr/sbin/spamd")
START_TIMEOUT = 120.0  # seconds; the first start compiles Hyperscan databases


@dataclass
class Rspamd:
    url: str  # the normal worker: /checkv2
    controller_url: str  # /learnham, /learnspam, /stat
    password: str
    log: Path

    def stat(self) -> dict[str, object]:
        import json

        request = urllib.request.Request(f"{self.controller_url}/stat",
                                         headers={"Password": self.password})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a filter started by :func:`_start` and every process it forked."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with status {process.returncode} at start:\n"
                                 f"{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{what} did not answer at {url} within {START_TIMEOUT:.0f} s:\n"
                         f"{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"


@contextmanager
def running_rspamd(dns_server: str) -> Iterator[Rspamd]:
    """Debian's rspamd with the repository's configuration, asking ``dns_server``
    (``IP:PORT``) for every name; fails with the reason when it cannot start."""
    if not RSPAMD.exists():
        raise AssertionError(f"rspamd is not installed ({RSPAMD}); scripts/test.sh installs "
                             "Debian's rspamd package: apt-get install -y rspamd")
    state = Path(tempfile.mkdtemp(prefix="casegate-rspamd-"))
    HYPERSCAN_CACHE.mkdir(parents=True, exist_ok=True)
    for folder in ("run", "db", "log"):
        (state / folder).mkdir()
    normal, controller = free_port(), free_port()
    password = "casegate-tests"
    variables = {
        "LOCAL_CONFDIR": RSPAMD_CONFIG, "RUNDIR": state / "run", "DBDIR": state / "db",
        "LOGDIR": state / "log", "HS_CACHE_DIR": HYPERSCAN_CACHE, "DNS_SERVER": dns_server,
        "NORMAL_SOCKET": f"127.0.0.1:{normal}", "CONTROLLER_SOCKET": f"127.0.0.1:{controller}",
        "CONTROLLER_PASSWORD": password, "REDIS_SERVER": REDIS,
    }
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    log = state / "log" / "rspamd.log"
    output = open(state / "log" / "stderr.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(RSPAMD), "-f", "-u", user, "-g", group, "-c", "/etc/rspamd/rspamd.conf",
         *(f"--var={name}={value}" for name, value in variables.items())],
        stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_http(f"http://127.0.0.1:{normal}/ping", process, log, "rspamd")
        yield Rspamd(f"http://127.0.0.1:{normal}", f"http://127.0.0.1:{controller}", password,
                     log)
    finally:
        _stop(process)
        output.close()
        shutil.rmtree(state, ignore_errors=True)


def spamd_missing() -> str | None:
    """Why SpamAssassin's spamd cannot be run here, or None."""
    if not SPAMD.exists():
        return f"SpamAssassin's spamd is not installed ({SPAMD}; apt-get install -y spamd)"
    return None


@contextmanager
def running_spamd() -> Iterator[tuple[str, int]]:
    """spamd with local tests only (no network lookups), on a free port: its address."""
    state = Path(tempfile.mkdtemp(prefix="casegate-spamd-"))
    port = free_port()
    log = state / "spamd.log"
    output = open(log, "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(SPAMD), "--local", "--listen", f"127.0.0.1:{port}", "--max-children", "1",
         "--syslog", "stderr", "--pidfile", str(state / "spamd.pid"), "--username", "nobody",
         "--nouser-config"],
        stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError(f"spamd exited with status {process.returncode}:\n"
                                     f"{_tail(log)}")
            if b"server started on" in log.read_bytes():
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"spamd did not start within {START_TIMEOUT:.0f} s:\n"
                                     f"{_tail(log)}")
            time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        _stop(process)
        output.close()
        shutil.rmtree(state, ignore_errors=True)
