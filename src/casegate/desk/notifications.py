"""Telling agents about customer mail, in a way they can answer by mail.

Each new customer message on a case is mailed to its assignee, or else to the agents of
its team, or else to every agent (those with notifications on). The notification comes
from the address the customer wrote to, carries the conversation's signed Message-ID, and
has the agent's own reply address as Reply-To (see :mod:`casegate.desk.authorship`): an
agent's answer to it comes back to the desk alone and is sent to the customer as their
reply (or kept as an internal note when it begins with ``#note``). Notifications leave
from the null sender with ``Auto-Submitted: auto-generated``.
"""

from __future__ import annotations

from casegate.desk.arrivals import Filed
from casegate.desk.authorship import reply_address
from casegate.desk.models import Agent, Case, Lead
from casegate.desk.outgoing import about, tag_of
from casegate.desk.vocabulary import Direction
from casegate.routing.engine import RoutingTable
from casegate.spool.messages import AcceptedMessage, generated_message

FOOTER = ("-- \nReply to this message to answer {requester} (your reply is mailed to them).\n"
          "Begin your reply with #note to add an internal note instead.\n")


def _recipients(conversation: Case | Lead, agents: list[Agent]) -> list[Agent]:
    if isinstance(conversation, Case):
        if conversation.assignee_id is not None:
            return [a for a in agents if a.user_id == conversation.assignee_id]
        team = [a for a in agents if conversation.team and conversation.team in a.teams]
        if team:
            return team
    return agents


def compose(filed: Filed, agent: Agent, hostname: str) -> tuple[bytes, str]:
    conversation = filed.conversation
    assert conversation is not None
    mail = filed.arrival.mail
    # It refers to the customer's message, so an answer to it says what its agent had read.
    message = about(conversation, agent.user.email, f"{tag_of(conversation)} {mail.subject}",
                    hostname, mail.message_id)
    message["Reply-To"] = reply_address(agent.pk)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    who = f"{mail.sender_name} <{mail.sender}>" if mail.sender_name else mail.sender
    message.set_content(f"{who} wrote:\n\n{mail.new_text or mail.text}\n\n"
                        + FOOTER.format(requester=conversation.requester))
    return message.as_bytes(), message["Message-ID"]


def notifications(filed: list[Filed], table: RoutingTable, hostname: str
                  ) -> list[AcceptedMessage]:
    news = [f for f in filed if f.message is not None and f.message.direction == Direction.INBOUND
            and not f.message.automated and not f.arrival.quiet]
    if not news:
        return []
    agents = list(Agent.objects.filter(notify=True, user__is_active=True)
                  .exclude(user__email="").select_related("user"))
    if not agents:
        return []
    outgoing = []
    for item in news:
        assert item.conversation is not None
        for agent in _recipients(item.conversation, agents):
            address = agent.user.email
            targets = table.destinations(address.lower())
            if targets:
                data, message_id = compose(item, agent, hostname)
                outgoing.append(generated_message({address: targets}, data, hostname, message_id))
    return outgoing
