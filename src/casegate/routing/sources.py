"""What the routing table reads from the layers above routing: the desk's intake addresses
and its agents' addresses.

The desk plugs its reader in when Django starts (``desk/apps.py``), with the models whose
changes must reach every process's routing table; routing never imports the desk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DeskAddresses:
    """``intakes``: each intake's address and id; the active agents' own addresses and the
    addresses they answer notifications from."""

    intakes: dict[str, int] = field(default_factory=dict)
    agent_addresses: list[str] = field(default_factory=list)
    agent_reply_addresses: list[str] = field(default_factory=list)


_desk_reader: Callable[[], DeskAddresses] = DeskAddresses


def read_desk_from(reader: Callable[[], DeskAddresses]) -> None:
    global _desk_reader
    _desk_reader = reader


def desk_addresses() -> DeskAddresses:
    """Read inside the transaction that reads the rest of the routing table."""
    return _desk_reader()
