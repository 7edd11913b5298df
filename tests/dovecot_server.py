"""A real Dovecot for the mailbox tests and the IMAP benchmark: Debian's ``dovecot-imapd``
and ``dovecot-pop3d`` run unprivileged in the foreground from the repository's configuration
(tests/dovecot), on free loopback ports, with its state and Maildirs in a temporary folder.

Users log in with a password (a passwd-file) or with an OAuth2 token, which Dovecot checks
against :class:`TokenIntrospection`, a small HTTP endpoint here that knows the tokens the
test hands out.
"""

from __future__ import annotations

import imaplib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from string import Template

from tests.support import ROOT, free_port

DOVECOT = Path("/usr/sbin/dovecot")
CONFIG = ROOT / "tests" / "dovecot"
START_TIMEOUT = 30.0
MAIL_UID = 65534  # nobody: Dovecot refuses to run mail processes as root


class TokenIntrospection:
    """Answers Dovecot's ``introspection_mode = auth`` request (the token as a Bearer
    authorization) with the user it belongs to, or 401 for a token it does not know."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        tokens = self.tokens

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
                user = tokens.get(token)
                # An unknown token is answered as an inactive one: Dovecot then refuses
                # the login for good, as a provider's expired token is refused.
                body = json.dumps({"username": user or "unknown",
                                   "active": "true" if user else "false"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/me"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Dovecot:
    """A running Dovecot: where it listens, its Maildirs and its users."""

    state: Path
    imap_port: int
    pop3_port: int
    introspection: TokenIntrospection
    process: subprocess.Popen[bytes] | None = None
    users: dict[str, str] = field(default_factory=dict)

    @property
    def mail(self) -> Path:
        return self.state / "mail"

    @property
    def log(self) -> Path:
        return self.state / "run" / "dovecot.log"

    def add_user(self, name: str, password: str) -> None:
        """A new user; returns once Dovecot lets it log in (it reads the file again when it
        sees the file change, which a write within the same second can hide)."""
        self.users[name] = password
        passwd = self.state / "run" / "passwd"
        written = passwd.with_suffix(".new")
        written.write_text(
            "".join(f"{user}:{{PLAIN}}{secret}::::::\n" for user, secret in self.users.items()))
        written.replace(passwd)
        if self.process is None:
            return
        deadline = time.monotonic() + 10
        while True:
            try:
                self.imap(name).logout()
                return
            except imaplib.IMAP4.error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
                os.utime(passwd)

    def token_for(self, user: str) -> str:
        token = f"token-{user}-{len(self.introspection.tokens)}"
        self.introspection.tokens[token] = user
        return token

    def imap(self, user: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=30)
        client.login(user, self.users[user])
        return client

    def append(self, user: str, messages: list[bytes], folder: str = "INBOX") -> None:
        client = self.imap(user)
        try:
            for message in messages:
                typ, data = client.append(folder, "", None, message)
                assert typ == "OK", data
        finally:
            client.logout()

    def write_maildir(self, user: str, messages: list[bytes]) -> None:
        """Put ``messages`` in the user's INBOX as files, in order (faster than APPEND, and
        takes what APPEND would refuse)."""
        new = self.mail / user / "new"
        for folder in ("new", "cur", "tmp"):
            (self.mail / user / folder).mkdir(parents=True, exist_ok=True)
        stamp = int(time.time())
        for number, message in enumerate(messages):
            path = new / f"{stamp}.M{number:06d}P{os.getpid()}.casegate-tests"
            path.write_bytes(message)
        for path in (self.mail / user).rglob("*"):
            os.chown(path, MAIL_UID, MAIL_UID)
        os.chown(self.mail / user, MAIL_UID, MAIL_UID)

    def start(self) -> None:
        output = open(self.state / "stderr.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(self.state / "dovecot.conf")],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        output.close()
        deadline = time.monotonic() + START_TIMEOUT
        for port in (self.imap_port, self.pop3_port):
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"dovecot exited with status {self.process.returncode}"
                                         f" at start:\n{self._tail()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"dovecot did not listen on {port}:\n"
                                             f"{self._tail()}") from None
                    time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
        # Its login and mail processes may outlive the master by a moment.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._listening():
            time.sleep(0.05)

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.imap_port), timeout=1).close()
        except OSError:
            return False
        return True

    def _tail(self) -> str:
        texts = [path.read_text(errors="replace")[-3000:]
                 for path in (self.log, self.state / "stderr.log") if path.exists()]
        return "\n".join(texts) or "(no log)"


def dovecot_missing() -> str | None:
    if not DOVECOT.exists():
        return (f"Dovecot is not installed ({DOVECOT}); scripts/test.sh installs Debian's"
                " dovecot-imapd and dovecot-pop3d")
    return None


@contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    """Dovecot from tests/dovecot on free loopback ports, with a user ``desk`` (password
    ``desk-secret``); fails with the reason when it cannot start."""
    missing = dovecot_missing()
    if missing:
        raise AssertionError(missing)
    state = Path(tempfile.mkdtemp(prefix="casegate-dovecot-"))
    os.chmod(state, 0o755)
    introspection = TokenIntrospection()
    server = Dovecot(state, free_port(), free_port(), introspection)
    (state / "run").mkdir()
    server.mail.mkdir()
    os.chown(server.mail, MAIL_UID, MAIL_UID)
    values = {"run": state / "run", "mail": server.mail, "imap_port": server.imap_port,
              "pop3_port": server.pop3_port, "mail_uid": MAIL_UID, "mail_gid": MAIL_UID,
              "login_user": "nobody", "login_group": "nogroup",
              "introspection_url": introspection.url}
    for name, target in (("dovecot.conf", state / "dovecot.conf"),
                         ("oauth2.conf", state / "run" / "oauth2.conf")):
        target.write_text(Template((CONFIG / name).read_text()).substitute(values))
    server.add_user("desk", "desk-secret")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        introspection.close()
        shutil.rmtree(state, ignore_errors=True)
