"""``casegate serve``: the gateway, the HTTP app and a delivery worker, until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
from typing import Any

from casegate.config import Config
from casegate.errors import CasegateError
from casegate.filtering.classifiers import close_classifiers, load_classifiers
from casegate.gateway.handler import GatewayHandler
from casegate.gateway.server import Gateway
from casegate.mail.hostport import HostPort, HostPortError, parse_hostport
from casegate.routing.snapshot import TableCache
from casegate.spool.store import DurableStore

log = logging.getLogger("casegate.serve")

CHILDREN_CHECK = 2.0  # seconds between looks at the delivery worker and the HTTP thread
# Seconds a stopping delivery worker has to record its sends; it cuts them short within a
# few seconds, so only a hung worker is killed (what it held returns when its lease ends).
WORKER_STOP_GRACE = 60.0
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
    env = dict(os.environ)
    return subprocess.Popen(
        [sys.executable, "-m", "casegate", "worker", "--parent-pid", str(os.getpid())], env=env
    )


async def _serve(config: Config, smtp: HostPort, http: HostPort | None,
                 with_worker: bool) -> None:
    raise_open_file_limit(config.max_sessions)
    tables = TableCache()
    await asyncio.to_thread(tables.reload)
    store = DurableStore()
    store.start()
    classifiers = load_classifiers()
    gateway = Gateway(config, GatewayHandler(config, tables, store, classifiers))
    try:
        await gateway.start(smtp.host, smtp.port)
        listening = HostPort(smtp.host, gateway.port)
        http_server = HttpServer(http.host, http.port, str(listening)) if http else None
    except OSError as exc:
        await asyncio.to_thread(store.close)
        raise CasegateError(f"cannot listen: {exc.strerror or exc}") from None
    # What is loaded by now lives as long as the process: keep the collector from walking
    # it again and again (its pauses landed inside console requests).
    gc.freeze()
    if http_server:
        http_server.start()
    worker = start_worker_process() if with_worker else None
    print(f"casegate: SMTP on {listening}"
          + (f", HTTP on http://{http}/" if http else "")
          + (", delivery worker running" if worker else ""), flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    failure = ""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CHILDREN_CHECK)
        if worker is not None and worker.poll() is not None and not stop.is_set():
            log.error("the delivery worker exited with status %s; starting another",
                      worker.returncode)
            worker = start_worker_process()
        if http_server is not None and not http_server.running and not stop.is_set():
            # The console and the API are gone while SMTP looks healthy: end the
            # process, so its supervisor restarts the whole of it.
            failure = "the HTTP server stopped unexpectedly (its error is logged above)"
            log.error("http=stopped serve=stopping")
            stop.set()
    log.info("stopping: finishing open SMTP sessions")
    await gateway.stop()
    await close_classifiers(classifiers)
    await asyncio.to_thread(store.close)
    tables.close()
    if http_server:
        http_server.stop()
    if worker:
        worker.terminate()
        try:
            await asyncio.to_thread(worker.wait, WORKER_STOP_GRACE)
        except subprocess.TimeoutExpired:
            log.error("worker=killed: it did not stop within %.0f s; the deliveries it held"
                      " return to the queue when their lease ends", WORKER_STOP_GRACE)
            worker.kill()
    if failure:
        raise CasegateError(failure)


def serve(config: Config, smtp: str, http: str | None, with_worker: bool = True) -> None:
    asyncio.run(
        _serve(config, listen_address(smtp, "--smtp"),
               listen_address(http, "--http") if http else None, with_worker)
    )


def run_worker(config: Config, parent_pid: int | None) -> None:
    from casegate.delivery.worker import DeliveryWorker

    worker = DeliveryWorker(config, parent_pid)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    signal.signal(signal.SIGINT, lambda *_: worker.stop())
    worker.run_forever()
