"""The SMTP port: it greets with 220."""

from __future__ import annotations

import socket

from casegate.doctor.base import Finding, Host
from casegate.doctor.vocabulary import CheckStatus

NAME = "SMTP port"
TIMEOUT = 5.0


def check(host: Host) -> Finding:
    try:
        with socket.create_connection(host.smtp, timeout=TIMEOUT) as sock:
            greeting = sock.makefile("rb").readline().decode("utf-8", "replace").strip()
            sock.sendall(b"QUIT\r\n")
    except OSError as exc:
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"nothing answers at {host.smtp}: {exc} (is casegate serve running,"
                       " with --smtp there?)")
    if not greeting.startswith("220"):
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"{host.smtp} greets with {greeting!r}, not 220")
    return Finding(NAME, host.name, CheckStatus.OK, f"{host.smtp} greets: {greeting}")
