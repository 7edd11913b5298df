"""What the gateway decides during one mail transaction, from MAIL FROM to the end of DATA.

aiosmtpd's envelope keeps what the client sent (sender, recipients, content); a
:class:`Transaction` keeps what the handler made of it. The SMTP session holds at most one
(:class:`SessionState`) and drops it whenever aiosmtpd starts a new envelope: after DATA,
at RSET, HELO or EHLO, and on a new or STARTTLS connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from casegate.routing.engine import Routing, RoutingTable


@dataclass(slots=True)
class Transaction:
    """The routing table read at MAIL FROM (every recipient is routed by the same one),
    the DSN parameters of MAIL FROM, and each accepted recipient's routing and DSN
    parameters, in the order of the envelope's recipients."""

    table: RoutingTable
    ret: str = ""  # DSN RET: FULL, HDRS or empty
    envid: str = ""  # DSN ENVID
    routings: list[Routing] = field(default_factory=list)
    notices: list[tuple[str, str]] = field(default_factory=list)  # DSN NOTIFY and ORCPT

    def accept(self, routing: Routing, notify: str, orcpt: str) -> None:
        """Record a recipient the gateway said 250 to."""
        self.routings.append(routing)
        self.notices.append((notify, orcpt))


class SessionState(Protocol):
    """What the handler reads from and keeps on an SMTP session
    (:class:`casegate.gateway.server.GatewaySMTP`)."""

    dsn_parameters: dict[str, str]  # those of the MAIL or RCPT command being answered
    transaction: Transaction | None  # from an accepted MAIL FROM to the end of DATA
    # The DNS block list zone that lists the client ("" none), once asked (None before).
    client_listing: str | None
    # A client in the trusted networks, or the company's mail server on LMTP's Unix socket:
    # its sender is not authenticated again, nor rate limited, nor held to the error limit.
    trusted: bool
