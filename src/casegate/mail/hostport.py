"""Host and port, as the command line, the settings and the database write them."""

from __future__ import annotations

from typing import NamedTuple

from casegate.errors import CasegateError
from casegate.text import whole_number


class HostPortError(CasegateError):
    """Text that is not ``HOST:PORT``."""


class HostPort(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_hostport(text: str, *, default_host: str = "", default_port: int = 0,
                   any_port: bool = False, example: str = "127.0.0.1:2525") -> HostPort:
    """``HOST:PORT`` or ``[IPv6]:PORT``.

    ``default_host`` stands for a host left out (``:2525``), ``default_port`` for a port left
    out (``HOST``, ``[IPv6]`` or a bare IPv6 address); ``any_port`` admits port 0, which
    asks the system for a free one when listening.
    """
    stripped = text.strip()
    host, sep, port = stripped.rpartition(":")
    bare_ipv6 = stripped.count(":") > 1 and not stripped.startswith("[")
    if default_port and (not sep or bare_ipv6 or stripped.endswith("]")):
        host, port = stripped, str(default_port)
    elif not sep:
        host = ""
    host = host.strip("[]") or default_host
    lowest = 0 if any_port else 1
    number = whole_number(port)
    if not host or (bare_ipv6 and not default_port) or number is None \
            or not lowest <= number <= 65535:
        raise HostPortError(f"{text!r} must look like HOST:PORT, for example {example}")
    return HostPort(host, number)
