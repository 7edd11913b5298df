"""``casegate serve``: the gateway, the HTTP app and a delivery worker, until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from casegate.config import Config
from casegate.delivery.doorbell import commit_nudge
from casegate.errors import CasegateError
from casegate.filtering.classifiers import load_classifiers
from casegate.gateway.handler import GatewayHandler
from casegate.gateway.server import Gateway
from casegate.gateway.store import DurableStore
from casegate.routing.snapshot import TableCache

log = logging.getLogger("casegate.serve")

WORKER_CHECK = 2.0


def split_hostport(text: str, option: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CasegateError(f"{option} {text!r}: expected HOST:PORT, for example 127.0.0.1:2525")
    return host.strip("[]") or "127.0.0.1", int(port)


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

        self._server = create_server(app, host=host, port=port, threads=4, ident="casegate")
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.close()


def start_worker_process() -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    return subprocess.Popen(
        [sys.executable, "-m", "casegate", "worker", "--parent-pid", str(os.getpid())], env=env
    )


async def _serve(config: Config, smtp: tuple[str, int], http: tuple[str, int] | None,
                 with_worker: bool) -> None:
    tables = TableCache()
    await asyncio.to_thread(tables.reload)
    store = DurableStore(on_commit=commit_nudge(config.home))
    store.start()
    gateway = Gateway(config, GatewayHandler(config, tables, store, load_classifiers()))
    try:
        await gateway.start(*smtp)
        http_server = HttpServer(*http, f"{smtp[0]}:{gateway.port}") if http else None
    except OSError as exc:
        await asyncio.to_thread(store.close)
        raise CasegateError(f"cannot listen: {exc.strerror or exc}") from None
    # What is loaded by now lives as long as the process: keep the collector from walking
    # it again and again (its pauses landed inside console requests).
    gc.freeze()
    if http_server:
        http_server.start()
    worker = start_worker_process() if with_worker else None
    print(f"casegate: SMTP on {smtp[0]}:{gateway.port}"
          + (f", HTTP on http://{http[0]}:{http[1]}/" if http else "")
          + (", delivery worker running" if worker else ""), flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), WORKER_CHECK)
        if worker is not None and worker.poll() is not None and not stop.is_set():
            log.error("the delivery worker exited with status %s; starting another",
                      worker.returncode)
            worker = start_worker_process()
    log.info("stopping: finishing open SMTP sessions")
    await gateway.stop()
    await asyncio.to_thread(store.close)
    tables.close()
    if http_server:
        http_server.stop()
    if worker:
        worker.terminate()
        try:
            await asyncio.to_thread(worker.wait, 60)
        except subprocess.TimeoutExpired:
            worker.kill()


def serve(config: Config, smtp: str, http: str | None, with_worker: bool = True) -> None:
    asyncio.run(
        _serve(config, split_hostport(smtp, "--smtp"),
               split_hostport(http, "--http") if http else None, with_worker)
    )


def run_worker(config: Config, parent_pid: int | None) -> None:
    from casegate.delivery.worker import DeliveryWorker

    worker = DeliveryWorker(config, parent_pid)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    signal.signal(signal.SIGINT, lambda *_: worker.stop())
    worker.run_forever()
