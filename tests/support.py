"""Test helpers: a casegate instance in its own home and database, run as a user would."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP

PG_DSN = os.environ.get("CASEGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent


def wait_for_smtp(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(100).startswith(b"220"):
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing answers SMTP on port {port} after {timeout} s")


def send_until_acknowledged(ports: list[int], messages: list[tuple[str, bytes]],
                            rcpt: str, threads: int = 8, deadline: float = 240.0,
                            acknowledged: list[str] | None = None) -> list[str]:
    """Send every message (to the ports in turn), retrying each until it gets a 250.

    Returns the Message-IDs in the order they were acknowledged; ``acknowledged``, when
    given, is that list, filled as the 250s come (read it from another thread meanwhile).
    """
    acknowledged = [] if acknowledged is None else acknowledged
    lock = threading.Lock()
    pending = list(enumerate(messages))
    stop_at = time.monotonic() + deadline

    def run(lane: int) -> None:
        client: smtplib.SMTP | None = None
        while time.monotonic() < stop_at:
            with lock:
                if not pending:
                    break
                index, (msgid, data) = pending.pop(0)
            port = ports[index % len(ports)]
            while time.monotonic() < stop_at:
                try:
                    if client is None or client._host_port != port:  # type: ignore[attr-defined]
                        if client is not None:
                            client.close()
                        client = smtplib.SMTP("127.0.0.1", port, timeout=20)
                        client._host_port = port  # type: ignore[attr-defined]
                        client.ehlo("load.example.net")
                    client.sendmail("load@example.net", [rcpt], data)
                    with lock:
                        acknowledged.append(msgid)
                    break
                except (OSError, smtplib.SMTPException):
                    if client is not None:
                        client.close()
                    client = None
                    time.sleep(0.05)
        if client is not None:
            client.close()

    workers = [threading.Thread(target=run, args=(lane,)) for lane in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return acknowledged


def gather_statistics() -> None:
    """PostgreSQL plans from the statistics ANALYZE gathers, as its autovacuum would have on
    a database of that size; SQLite plans from its indexes alone."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_unavailable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3):
            return None
    except Exception as exc:  # any failure means: no server to test against
        return f"no PostgreSQL server answers at {PG_DSN}: {exc}"


@contextmanager
def scratch_database(backend: str, home: Path) -> Iterator[str | None]:
    """Yield CASEGATE_DATABASE_URL for a new, empty database (None for SQLite)."""
    if backend == "sqlite":
        yield None
        return
    import psycopg

    name = f"casegate_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Instance:
    """A casegate home with its database; runs CLI commands and ``serve``."""

    home: Path
    env: dict[str, str]
    backend: str
    smtp_port: int = 0
    http_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.home / "serve.log"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "casegate", *args],
            env=self.env, capture_output=True, text=True, timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"casegate {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def start(self, http: bool = False, processes: int | None = None, *extra: str) -> None:
        self.smtp_port = self.smtp_port or free_port()
        command = [sys.executable, "-m", "casegate", "serve",
                   "--smtp", f"127.0.0.1:{self.smtp_port}", *extra]
        if processes is not None:
            command += ["--processes", str(processes)]
        if http:
            self.http_port = self.http_port or free_port()
            command += ["--http", f"127.0.0.1:{self.http_port}"]
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child process
        self.process = subprocess.Popen(command, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT)
        wait_for_smtp(self.smtp_port)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self._wait_worker_gone()
        self.process = None
        return code

    def kill9(self) -> None:
        """SIGKILL the gateway and its delivery worker at once, as a crash would."""
        assert self.process is not None
        import psutil

        victims = [psutil.Process(self.process.pid)]
        victims += victims[0].children(recursive=True)
        for victim in victims:
            victim.kill()
        self.process.wait(timeout=30)
        psutil.wait_procs(victims, timeout=30)
        self.process = None

    def spawn(self, *args: str, name: str) -> subprocess.Popen[bytes]:
        """Start another casegate process (a worker, a second gateway) on this database."""
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        return subprocess.Popen([sys.executable, "-m", "casegate", *args], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)

    def _wait_worker_gone(self) -> None:
        deadline = time.monotonic() + 10
        needle = f"--parent-pid {self.process.pid}" if self.process else ""
        while time.monotonic() < deadline:
            out = subprocess.run(["pgrep", "-f", "--", needle], capture_output=True,
                                 text=True).stdout
            if not out.strip():
                return
            time.sleep(0.1)

    @contextmanager
    def raw_session_in_data(self) -> Iterator[tuple[socket.socket, Any]]:
        """A hand-driven SMTP session to help@, stopped just after the 354 to DATA."""
        with socket.create_connection(("127.0.0.1", self.smtp_port)) as sock:
            reader = sock.makefile("rb")
            reader.readline()
            sock.sendall(b"EHLO client.example.net\r\n")
            while not reader.readline().startswith(b"250 "):
                pass
            sock.sendall(b"MAIL FROM:<a@example.net>\r\nRCPT TO:<help@solarmora.com>\r\nDATA\r\n")
            assert [reader.readline() for _ in range(3)][-1].startswith(b"354")
            try:
                yield sock, reader
            finally:
                reader.close()

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Run a read-only query on the instance's database."""
        url = self.env.get("CASEGATE_DATABASE_URL")
        if url:
            import psycopg

            with psycopg.connect(url) as conn:
                return conn.execute(query).fetchall()
        import sqlite3

        conn = sqlite3.connect(self.home / "casegate.sqlite3")
        try:
            return conn.execute(query).fetchall()
        finally:
            conn.close()

    def blob(self, sha256: str) -> bytes:
        """A stored blob's bytes, from its row (small ones) or the blob store's file."""
        [(data,)] = self.sql(f"SELECT data FROM desk_blob WHERE sha256 = '{sha256}'")
        if data is not None:
            return bytes(data)
        return (self.home / "blobs" / sha256[:2] / sha256).read_bytes()

    def smtp(self, source: str = "127.0.0.1") -> smtplib.SMTP:
        """A session from ``source``, any loopback address (all of 127.0.0.0/8 reaches us)."""
        return smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30, source_address=(source, 0))

    def send(self, sender: str, rcpts: list[str], data: bytes, source: str = "127.0.0.1") -> str:
        with self.smtp(source) as client:
            client.ehlo("client.example.net")
            client.mail(sender)
            for rcpt in rcpts:
                code, reply = client.rcpt(rcpt)
                assert code == 250, (rcpt, code, reply)
            code, reply = client.data(data)
            assert code == 250, (code, reply)
            return reply.decode().rsplit(" ", 1)[-1]

    def wait_for(self, predicate: Any, timeout: float = 20.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def cases(self) -> list[dict[str, Any]]:
        return self.json("cases", "list")

    def case_with(self, message_id: str, timeout: float = 20.0) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            return next((c for c in self.cases() if c["message_id"] == message_id), None)

        return self.wait_for(find, timeout, f"a case for {message_id}")

    def mailbox(self, address: str) -> list[bytes]:
        local, _, domain = address.partition("@")
        folder = self.home / "mailboxes" / domain / local
        return [p.read_bytes() for p in sorted(folder.glob("new/*")) + sorted(folder.glob("cur/*"))]


@contextmanager
def instance(backend: str, **env_overrides: str) -> Iterator[Instance]:
    home = Path(tempfile.mkdtemp(prefix=f"casegate-{backend}-"))
    with scratch_database(backend, home) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASEGATE_")}
        env.update({"CASEGATE_HOME": str(home), "CASEGATE_HOSTNAME": "gw.test",
                    "CASEGATE_RETRY_MIN": "0.3", "CASEGATE_RETRY_MAX": "1",
                    "CASEGATE_WORKER_POLL": "0.02", "PYTHONUNBUFFERED": "1"})
        if url:
            env["CASEGATE_DATABASE_URL"] = url
        env.update(env_overrides)
        inst = Instance(home, env, backend)
        inst.run("init")
        try:
            yield inst
        finally:
            if inst.process is not None:
                inst.process.kill()
                inst.process.wait()
            if inst.log_path.exists():  # shown by pytest when a test failed
                print(f"--- serve log ({backend}) ---\n{inst.log_path.read_text()[-6000:]}")
            shutil.rmtree(home, ignore_errors=True)


class RecordingHandler:
    """A remote SMTP server's handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.received_at: list[float] = []  # time.monotonic() of each message
        self.tls: list[bool] = []
        self.reply: str | None = None
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply:
            return self.reply
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  envelope.original_content))
            self.received_at.append(time.monotonic())
            self.tls.append(session.ssl is not None)
        return "250 2.0.0 Ok: stored"


class SlowFor(RecordingHandler):
    """Stores every message; those containing ``marker`` only after ``delay`` seconds."""

    def __init__(self, marker: bytes, delay: float) -> None:
        super().__init__()
        self.marker = marker
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.marker in envelope.original_content:
            await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


class LocalDNS:
    """A real DNS server on loopback answering from ``zone`` (the internet's DNS is not here).

    ``zone`` maps a name (with the final dot) to {"MX": [...], "TXT": [...]} record texts;
    names not in it are NXDOMAIN. It can be changed while the server runs. Questions about a
    name in ``silent`` go unanswered, as with a name server that hangs, and about one in
    ``failing`` are answered SERVFAIL, as by a broken one; ``asked`` holds the
    names asked about, in order. Answers about a name in ``validated`` carry the AD bit, as
    a validating resolver's do for a DNSSEC-signed zone.
    """

    def __init__(self, zone: dict[str, dict[str, list[str]]], silent: set[str] | None = None,
                 failing: set[str] | None = None) -> None:
        self.zone = zone
        self.silent = silent or set()
        self.failing = failing or set()
        self.validated: set[str] = set()
        self.asked: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._sock.getsockname()[1]}"

    def txt(self, name: bytes, timeout: float = 5) -> bytes | None:
        """dkimpy's dnsfunc, answering from the same zone."""
        records = self.zone.get(name.decode().rstrip(".") + ".", {}).get("TXT", [])
        return "".join(records).encode() if records else None

    def _serve(self) -> None:
        import dns.flags
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset

        while not self._stop.is_set():
            try:
                wire, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text()
            kind = dns.rdatatype.to_text(question.rdtype)
            self.asked.append(name)
            if name in self.silent:
                continue
            if name in self.validated:
                response.flags |= dns.flags.AD
            if name in self.failing:
                response.set_rcode(dns.rcode.SERVFAIL)
            elif name not in self.zone:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif self.zone[name].get(kind):
                texts = self.zone[name][kind]
                if kind == "TXT":  # one record, in strings of at most 255 characters
                    texts = [" ".join(f'"{t[i:i + 255]}"' for i in range(0, len(t), 255))
                             for t in texts]
                response.answer.append(dns.rrset.from_text(name, 60, "IN", kind, *texts))
            self._sock.sendto(response.to_wire(), peer)

    def __enter__(self) -> LocalDNS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


class LMTPController(Controller):
    def factory(self) -> LMTP:
        return LMTP(self.handler, **self.SMTP_kwargs)


@contextmanager
def smtp_sink(port: int | None = None, lmtp: bool = False, tls_context: Any = None,
              handler: RecordingHandler | None = None
              ) -> Iterator[tuple[Controller, RecordingHandler]]:
    """A real SMTP (or LMTP) server on loopback standing in for a remote CRM or mail store."""
    handler = handler or RecordingHandler()
    controller_class = LMTPController if lmtp else Controller
    extra = {"tls_context": tls_context} if tls_context else {}
    controller = controller_class(handler, hostname="127.0.0.1", port=port or free_port(),
                                  **extra)
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()
