"""``casegate serve``: the gateway, the HTTP app and a delivery worker, until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from casegate import event_loop
from casegate.config import Config
from casegate.errors import CasegateError
from casegate.filtering.classifiers import close_classifiers, load_classifiers
from casegate.filtering.scanners import SCAN_COUNTS
from casegate.gateway.handler import GatewayHandler
from casegate.gateway.server import Gateway
from casegate.mail.hostport import HostPort, HostPortError, parse_hostport
from casegate.routing.snapshot import TableCache
from casegate.spool.store import DurableStore
from casegate.spool.vocabulary import Source

log = logging.getLogger("casegate.serve")

CHILDREN_CHECK = 2.0  # seconds between looks at the delivery worker and the HTTP thread
# Seconds a stopping delivery worker has to record its sends; it cuts them short within a
# few seconds, so only a hung worker is killed (what it held returns when its lease ends).
WORKER_STOP_GRACE = 60.0
# A gateway process finishes its open sessions within 30 s (Gateway.stop), then its commits.
GATEWAY_STOP_GRACE = 45.0
LISTEN_BACKLOG = 1024
# A child that exits with an error this soon after it was started cannot start (a wrong
# setting, say): starting it again would only fail again, so serve stops and says why.
FAILED_AT_START = 5.0
# Descriptors the process holds besides SMTP sessions: database connections, the HTTP
# server's sockets and threads' pipes, log files.
FILES_BESIDE_SESSIONS = 200


def listen_address(text: str, option: str) -> HostPort:
    """Where to listen: ``HOST:PORT``; no host is 127.0.0.1, port 0 any free port."""
    try:
        return parse_hostport(text, default_host="127.0.0.1", any_port=True)
    except HostPortError as exc:
        raise CasegateError(f"{option} {exc}") from None


class HttpServer:
    """The Django app under waitress, in a thread of the serving process.

    Every request carries where this process's gateway listens, for the console's
    "Send test message".
    """

    def __init__(self, host: str, port: int, smtp_listen: str) -> None:
        # Here, not at the top: the gateway processes never load the console's modules.
        from waitress.server import create_server

        from casegate.console.routing_views import SMTP_LISTEN
        from casegate.wsgi import application

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            environ[SMTP_LISTEN] = smtp_listen
            return application(environ, start_response)

        # poll(), not waitress's default select(): SMTP sessions share the process, and
        # select() fails for good once a descriptor number passes 1023.
        self._server = create_server(app, host=host, port=port, threads=4, ident="casegate",
                                     asyncore_use_poll=True)
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    def _run(self) -> None:
        try:
            self._server.run()
        except Exception:
            log.exception("http=failed: the HTTP server stopped")

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.close()


# Names a resolver gives a machine that has no name of its own in the DNS.
UNQUALIFIED_SUFFIXES = ("localhost", "localdomain", "local")


def is_fully_qualified(hostname: str) -> bool:
    labels = hostname.strip(".").lower().split(".")
    return len(labels) > 1 and labels[-1] not in UNQUALIFIED_SUFFIXES


def warn_of_an_unqualified_hostname(config: Config) -> None:
    """Other servers judge mail by the name in our banner, EHLO and Received: fields; the
    machine's own name is often not one they can look up."""
    if not config.is_set("CASEGATE_HOSTNAME") and not is_fully_qualified(config.hostname):
        log.warning("hostname=%s is not a fully qualified domain name; the SMTP banner, EHLO"
                    " and Received: fields use it: set CASEGATE_HOSTNAME (or hostname in"
                    " casegate.toml) to the name of this host in the DNS", config.hostname)


def raise_open_file_limit(sessions: int) -> int:
    """Raise the soft limit on open files to the hard one (each SMTP session holds a
    descriptor); returns the limit in effect."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("open_files=%s cannot raise the limit to %s: %s", soft, hard, exc)
    if sessions and soft != resource.RLIM_INFINITY and soft < sessions + FILES_BESIDE_SESSIONS:
        log.warning("open_files=%s max_sessions=%s: the open-file limit is below what that"
                    " many SMTP sessions need; raise it (ulimit -n, LimitNOFILE=) or lower"
                    " CASEGATE_MAX_SESSIONS", soft, sessions)
    return soft


def start_worker_process() -> subprocess.Popen[bytes]:
    return _child("worker", "--parent-pid", str(os.getpid()))


def start_fetcher_process() -> subprocess.Popen[bytes]:
    return _child("fetch", "--parent-pid", str(os.getpid()))


def start_gateway_process(listen: HostPort, scan_counts: Path) -> subprocess.Popen[bytes]:
    # prometheus_client's multiprocess mode: each process counts its scans in a file there.
    return _child("gateway", "--listen", str(listen), "--parent-pid", str(os.getpid()),
                  env={"PROMETHEUS_MULTIPROC_DIR": str(scan_counts)})


def _child(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "casegate", *args],
                            env={**os.environ, **(env or {})})


def fresh_scan_counts(home: Path, several_processes: bool) -> Path:
    """Where the gateway processes count their scans: emptied at each start; absent when
    the gateway runs in the serving process and counts in memory."""
    counts = home / SCAN_COUNTS
    shutil.rmtree(counts, ignore_errors=True)
    if several_processes:
        counts.mkdir(parents=True)
    return counts


def reserved_port(address: HostPort) -> socket.socket:
    """A socket bound to the SMTP address with SO_REUSEPORT but not listening: it holds the
    port (and names it, when any free port was asked for) for the gateway processes, which
    each listen on it with SO_REUSEPORT. The kernel spreads new connections over their
    sockets, so every process takes its share."""
    family, kind, proto, _, where = socket.getaddrinfo(
        address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    # First without SO_REUSEPORT: a port another program (or another serve) holds is
    # refused, never silently shared. Then the port found is held with it.
    with socket.socket(family, kind, proto) as alone:
        alone.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        alone.bind(where)
        where = (where[0], alone.getsockname()[1], *where[2:])
    reserved = socket.socket(family, kind, proto)
    try:
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserved.bind(where)
    except OSError:
        reserved.close()
        raise
    return reserved


async def wait_until_listening(address: HostPort, children: list[Supervised],
                               stop: asyncio.Event) -> str:
    """Wait until a gateway process takes connections; the failure when one cannot start."""
    while not stop.is_set():
        for child in children:
            failure = child.keep_running()
            if failure:
                return failure
        try:
            _, writer = await asyncio.open_connection(address.host, address.port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return ""
    return ""


class SmtpGateway:
    """One process's gateway: the routing table, the group commit and the SMTP server."""

    def __init__(self, config: Config, source: Source = Source.SMTP) -> None:
        self.tables = TableCache()
        self.store = DurableStore()
        self.classifiers = load_classifiers()
        self.server = Gateway(config, GatewayHandler(config, self.tables, self.store,
                                                     self.classifiers, source))

    async def listen(self, address: str) -> str:
        """Listen on ``HOST:PORT`` or ``unix:PATH``; where it listens."""
        if address.startswith("unix:"):
            await self.server.start_unix(address.removeprefix("unix:"))
            return address
        where = listen_address(address, "--lmtp")
        await self.server.start(where.host, where.port)
        return str(HostPort(where.host, self.server.port))

    async def open(self) -> None:
        await asyncio.to_thread(self.tables.reload)
        self.store.start()

    async def close(self) -> None:
        """Finish open sessions, then what they stored."""
        await self.server.stop()
        await close_classifiers(self.classifiers)
        await asyncio.to_thread(self.store.close)
        self.tables.close()


class Supervised:
    """A child process restarted whenever it exits while the parent is not stopping."""

    def __init__(self, name: str, start: Callable[[], subprocess.Popen[bytes]],
                 give_up_at_start: bool = False) -> None:
        self.name = name
        self._start = start
        self._give_up_at_start = give_up_at_start
        self.process = start()
        self._started = time.monotonic()

    def keep_running(self) -> str:
        """Start it again if it exited; the failure when it cannot even start."""
        if self.process.poll() is None:
            return ""
        if (self._give_up_at_start and self.process.returncode > 0  # not killed by a signal
                and time.monotonic() - self._started < FAILED_AT_START):
            return (f"{self.name} exited with status {self.process.returncode} as it started"
                    " (its error is logged above)")
        log.error("%s=exited status=%s: starting another", self.name, self.process.returncode)
        self.process = self._start()
        self._started = time.monotonic()
        return ""

    async def stop(self, grace: float) -> None:
        self.process.terminate()
        try:
            await asyncio.to_thread(self.process.wait, grace)
        except subprocess.TimeoutExpired:
            log.error("%s=killed: it did not stop within %.0f s", self.name, grace)
            self.process.kill()


def gateway_processes(requested: int | None) -> int:
    """``--processes``: how many processes accept SMTP; by default one per core."""
    count = requested if requested is not None else (os.cpu_count() or 1)
    if count < 1:
        raise CasegateError("--processes must be at least 1")
    return count


async def _serve(config: Config, smtp: HostPort, http: HostPort | None,
                 with_worker: bool, processes: int, lmtp: str = "") -> None:
    warn_of_an_unqualified_hostname(config)
    raise_open_file_limit(config.max_sessions)
    # From the start, so a SIGTERM while the children start still stops them too.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    in_process = processes == 1
    gateway = SmtpGateway(config) if in_process else None
    lmtp_gateway = SmtpGateway(config, Source.LMTP) if lmtp else None
    children: list[Supervised] = []

    def reload_certificates() -> None:
        """SIGHUP: every gateway reads its TLS certificate again (a renewal)."""
        for opened in (gateway, lmtp_gateway):
            if opened is not None:
                opened.server.reload_tls()
        for child in children:
            child.process.send_signal(signal.SIGHUP)

    loop.add_signal_handler(signal.SIGHUP, reload_certificates)
    reserved: socket.socket | None = None
    try:
        if lmtp_gateway is not None:
            await lmtp_gateway.open()
            lmtp = await lmtp_gateway.listen(lmtp)
        if gateway is not None:
            await gateway.open()
            await gateway.server.start(smtp.host, smtp.port)
            listening = HostPort(smtp.host, gateway.server.port)
        else:
            # The gateway processes would each stop on a wrong classifier setting: say it here.
            await close_classifiers(load_classifiers())
            reserved = reserved_port(smtp)
            listening = HostPort(smtp.host, reserved.getsockname()[1])
        http_server = HttpServer(http.host, http.port, str(listening)) if http else None
    except OSError as exc:
        for opened in (gateway, lmtp_gateway):
            if opened is not None:
                await asyncio.to_thread(opened.store.close)
        raise CasegateError(f"cannot listen: {exc.strerror or exc}") from None
    # What is loaded by now lives as long as the process: keep the collector from walking
    # it again and again (its pauses landed inside console requests).
    gc.freeze()
    if http_server:
        http_server.start()
    failure = ""
    if reserved is not None:
        counts = fresh_scan_counts(config.home, several_processes=True)
        children += [Supervised(f"gateway{n}",
                                lambda: start_gateway_process(listening, counts),
                                give_up_at_start=True)
                     for n in range(processes)]
        failure = await wait_until_listening(listening, children, stop)
    else:
        fresh_scan_counts(config.home, several_processes=False)
    worker = Supervised("worker", start_worker_process) if with_worker else None
    # The mailboxes are fetched beside the worker; with none it only looks for new ones.
    fetcher = Supervised("fetcher", start_fetcher_process) if with_worker else None
    helpers = [child for child in (worker, fetcher) if child is not None]
    print(f"casegate: SMTP on {listening}"
          + ("" if in_process else f" ({processes} gateway processes)")
          + (f", LMTP on {lmtp}" if lmtp_gateway else "")
          + (f", HTTP on http://{http}/" if http else "")
          + (", delivery worker and mailbox fetcher running" if worker else ""), flush=True)

    if failure:
        log.error("%s serve=stopping", failure)
        stop.set()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CHILDREN_CHECK)
        if stop.is_set():
            break
        for child in [*children, *helpers]:
            failure = child.keep_running()
            if failure:
                log.error("%s serve=stopping", failure)
                stop.set()
                break
        if http_server is not None and not http_server.running:
            # The console and the API are gone while SMTP looks healthy: end the
            # process, so its supervisor restarts the whole of it.
            failure = "the HTTP server stopped unexpectedly (its error is logged above)"
            log.error("http=stopped serve=stopping")
            stop.set()
    log.info("stopping: finishing open SMTP sessions")
    for opened in (gateway, lmtp_gateway):
        if opened is not None:
            await opened.close()
    await asyncio.gather(*(child.stop(GATEWAY_STOP_GRACE) for child in children))
    if reserved is not None:
        reserved.close()
    if http_server:
        http_server.stop()
    await asyncio.gather(*(child.stop(WORKER_STOP_GRACE) for child in helpers))
    if failure:
        raise CasegateError(failure)


def serve(config: Config, smtp: str, http: str | None, with_worker: bool = True,
          processes: int | None = 1, lmtp: str = "") -> None:
    event_loop.run(
        _serve(config, listen_address(smtp, "--smtp"),
               listen_address(http, "--http") if http else None, with_worker,
               gateway_processes(processes), lmtp)
    )


async def _gateway_process(config: Config, listen: HostPort, parent_pid: int) -> None:
    raise_open_file_limit(config.max_sessions)
    gateway = SmtpGateway(config)
    await gateway.open()
    await gateway.server.start(listen.host, listen.port, reuse_port=True)
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, gateway.server.reload_tls)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CHILDREN_CHECK)
        if os.getppid() != parent_pid:
            log.warning("the serving process is gone; this gateway process stops")
            stop.set()
    await gateway.close()


def run_gateway(config: Config, listen: str, parent_pid: int) -> None:
    """One of ``serve --processes``'s gateway processes, on the port ``serve`` holds."""
    event_loop.run(_gateway_process(config, listen_address(listen, "--listen"), parent_pid))


def run_worker(config: Config, parent_pid: int | None) -> None:
    # Here, not at the top: the gateway processes never load the delivery worker.
    from casegate.delivery.worker import DeliveryWorker

    worker = DeliveryWorker(config, parent_pid)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    signal.signal(signal.SIGINT, lambda *_: worker.stop())
    worker.run_forever()
