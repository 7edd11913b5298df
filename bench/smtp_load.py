"""A lean asyncio SMTP load client, and a discard-only aiosmtpd server to compare against.

``python bench/smtp_load.py discard PORT`` runs the baseline server (accept, discard).
The client is imported by the benchmarks; it opens a new connection per message, as
the peers' figures in docs were measured.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    sent: int = 0
    failed: int = 0
    seconds: float = 0.0
    end_of_data: dict[str, float] = field(default_factory=dict)
    replies: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def make_message(n: int, size: int = 4096, to: str = "help@solarmora.com") -> tuple[str, bytes]:
    msgid = f"<bench-{n}-{time.monotonic_ns()}@load.example.net>"
    head = (f"From: Load Client <load@example.net>\r\nTo: {to}\r\nSubject: bench message {n}\r\n"
            f"Message-ID: {msgid}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n").encode()
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return msgid, head + body


async def _expect(reader: asyncio.StreamReader, code: bytes) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        if line[3:4] != b"-":
            if not line.startswith(code):
                raise RuntimeError(line.decode(errors="replace").strip())
            return line


async def send_one(host: str, port: int, rcpt: str, msgid: str, data: bytes,
                   result: LoadResult) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        await _expect(reader, b"220")
        writer.write(b"EHLO load.example.net\r\n")
        await _expect(reader, b"250")
        writer.write(b"MAIL FROM:<load@example.net>\r\n")
        await _expect(reader, b"250")
        writer.write(f"RCPT TO:<{rcpt}>\r\n".encode())
        await _expect(reader, b"250")
        writer.write(b"DATA\r\n")
        await _expect(reader, b"354")
        writer.write(data + b".\r\n")
        result.end_of_data[msgid] = time.time()
        await _expect(reader, b"250")
        writer.write(b"QUIT\r\n")
        await writer.drain()
        result.sent += 1
    except Exception as exc:
        result.failed += 1
        result.replies.append(str(exc))
    finally:
        writer.close()


async def run_load(host: str, port: int, count: int, sessions: int, rcpts: list[str],
                   rate: float | None = None, size: int = 4096) -> LoadResult:
    """Send ``count`` messages over ``sessions`` parallel sessions (optionally paced)."""
    result = LoadResult()
    messages = [make_message(n, size, rcpts[n % len(rcpts)]) for n in range(count)]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    start = time.perf_counter()

    async def worker() -> None:
        while True:
            try:
                n = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if rate:
                delay = start + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            msgid, data = messages[n]
            await send_one(host, port, rcpts[n % len(rcpts)], msgid, data, result)

    await asyncio.gather(*(worker() for _ in range(sessions)))
    result.seconds = time.perf_counter() - start
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_banner(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(100).startswith(b"220"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answers SMTP on port {port}")


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def smtp_source_load(port: int, count: int, sessions: int, rcpt: str) -> LoadResult:
    """Postfix's smtp-source: 4 KB messages, a new connection for each."""
    started = time.perf_counter()
    done = subprocess.run(
        ["smtp-source", "-s", str(sessions), "-l", "4096", "-m", str(count),
         "-f", "load@example.net", "-t", rcpt, f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=max(600, count),
    )
    result = LoadResult(seconds=time.perf_counter() - started)
    if done.returncode == 0:
        result.sent = count
    else:
        result.failed = count
        result.replies.append(done.stderr.strip()[:300])
    return result


def load(port: int, count: int, sessions: int, rcpts: list[str]) -> LoadResult:
    """smtp-source when installed (one recipient), else the asyncio client."""
    if shutil.which("smtp-source") and len(rcpts) == 1:
        return smtp_source_load(port, count, sessions, rcpts[0])
    return asyncio.run(run_load("127.0.0.1", port, count, sessions, rcpts))


def discard_server(port: int) -> None:
    from aiosmtpd.smtp import SMTP

    class Discard:
        async def handle_DATA(self, server, session, envelope) -> str:
            return "250 2.0.0 Ok: discarded"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(Discard(), enable_SMTPUTF8=True), "127.0.0.1", port)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


if __name__ == "__main__":
    if sys.argv[1] == "discard":
        discard_server(int(sys.argv[2]))
