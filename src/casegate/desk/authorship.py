"""Whether a message at the desk is an agent's answer, and how that is proven.

An agent answers a notification by mail. Neither the From address nor the conversation's
signed Message-ID proves who wrote it: anyone can write the From line, and the signed
Message-ID of an agent's reply reaches the customer and everyone they copied. So a message
from an agent's address that answers one of our Message-IDs is the agent's only with a
proof, one of:

* it was sent to the agent's own reply address, the Reply-To of the notifications they
  get (``reply+<agent>.<HMAC>@<desk domain>``), which no customer ever sees;
* it came from a trusted network (``CASEGATE_TRUSTED_NETWORKS``);
* a DKIM signature of the sender's domain (or a parent of it) verifies and signs what
  makes the message an answer (:mod:`casegate.desk.dkim_proof`).

Anything else is customer mail, kept on the conversation with a note saying why it was not
taken as the agent's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

from casegate.config import get_config
from casegate.desk.dkim_proof import dkim_signer
from casegate.directory.addresses import InvalidAddress, domain_of, normalize_domain

if TYPE_CHECKING:
    from casegate.desk.arrivals import DeskArrival
    from casegate.desk.models import Agent

_REPLY_ADDRESS = re.compile(r"^reply\+(\d{1,12})\.([0-9a-f]{20})@(.+)$")


def _reply_signature(agent_id: int) -> str:
    key = hmac.new(settings.SECRET_KEY.encode(), b"casegate-agent-reply", hashlib.sha256).digest()
    return hmac.new(key, str(agent_id).encode(), hashlib.sha256).hexdigest()[:20]


def desk_domain() -> str:
    """``CASEGATE_DESK_DOMAIN`` as addresses hold it (A-labels, lower case)."""
    try:
        return normalize_domain(get_config().desk_domain)
    except InvalidAddress:
        return get_config().desk_domain.lower()


def reply_address(agent_id: int) -> str:
    """The agent's own address for answering notifications, at the desk domain."""
    return f"reply+{agent_id}.{_reply_signature(agent_id)}@{desk_domain()}"


def agent_of_reply_address(address: str) -> int | None:
    """The agent id behind one of our reply addresses; None for any other address."""
    found = _REPLY_ADDRESS.match(address.lower())
    if not found or found[3] != desk_domain():
        return None
    agent_id = int(found[1])
    if not hmac.compare_digest(found[2], _reply_signature(agent_id)):
        return None
    return agent_id


@dataclass(frozen=True)
class Authorship:
    """Who wrote an arrival: an agent (``author``, with the ``proof``) or the customer.

    ``refused`` says why a message sent as an agent's answer is kept as customer mail.
    """

    author: Any = None
    proof: str = ""
    refused: str = ""


@dataclass
class ActiveAgents:
    """The active agents a batch of arrivals may come from, by address and by id."""

    by_address: dict[str, Agent] = field(default_factory=dict)
    by_id: dict[int, Agent] = field(default_factory=dict)


def judge(arrival: DeskArrival, answers_ours: bool, agents: ActiveAgents,
          unanswered: set[bytes]) -> Authorship:
    """Whether ``arrival`` is an agent's answer. ``answers_ours``: it answers one of our
    signed Message-IDs of an existing conversation. ``unanswered``: the DKIM domains whose
    key lookups timed out earlier in the batch (see :func:`dkim_signer`)."""
    sender = arrival.mail.sender
    reply_to_agent = agent_of_reply_address(arrival.original_recipient)
    via_reply_address = ""
    if reply_to_agent is not None:
        owner = agents.by_id.get(reply_to_agent)
        if owner is None:
            via_reply_address = "sent to the reply address of an agent who is no longer active"
        elif not answers_ours:
            via_reply_address = (f"sent to the reply address of agent {owner.user.get_username()}"
                                 " but answers none of our messages")
        elif owner.user.email.lower() != sender:
            via_reply_address = (f"sent to the reply address of agent {owner.user.get_username()}"
                                 f" from {sender or 'no sender'}, not from the agent's address")
        else:
            return Authorship(owner.user, "the agent's reply address")
    agent = agents.by_address.get(sender) if sender else None
    if agent is None or not answers_ours:
        return Authorship(refused=via_reply_address)
    if get_config().is_trusted(arrival.peer):
        return Authorship(agent.user, f"trusted network ({arrival.peer})")
    signer, why_not = dkim_signer(arrival.raw, domain_of(sender), unanswered)
    if signer:
        return Authorship(agent.user, f"DKIM signature of {signer}")
    client = f"client {arrival.peer}" if arrival.peer else "the client"
    return Authorship(refused=(
        f"sent as agent {agent.user.get_username()} but not authenticated: {client} is not on a"
        f" trusted network, it was not sent to the agent's reply address, and {why_not}"))
