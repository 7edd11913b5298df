"""A webhook receiver on loopback: real HTTP, answering with the statuses it is told."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result

    def signed_with(self, secret: str) -> bool:
        """What a receiver checks: the HMAC of the timestamp, a dot and the body, and a
        timestamp of the last five minutes."""
        timestamp = self.headers["X-Casegate-Timestamp"]
        expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + self.body,
                                        hashlib.sha256).hexdigest()
        return (hmac.compare_digest(expected, self.headers["X-Casegate-Signature"])
                and abs(time.time() - int(timestamp)) < 300)


@dataclass
class Receiver:
    """Answers the statuses of ``answers`` in turn, then ``then`` (each answer's request is
    kept, whatever the status)."""

    answers: list[int] = field(default_factory=list)
    then: int = 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/casegate?from=test"

    def answer(self) -> int:
        return self.answers.pop(0) if self.answers else self.then


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.received.append(Received(dict(self.headers.items()), body))
            time.sleep(receiver.delay)
            status = receiver.answer()
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
