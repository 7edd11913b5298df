"""Reading what filing a batch needs, before the writing transaction starts."""

from __future__ import annotations

import logging

from django.db.models import Q

from casegate.desk.arrivals import DeskArrival
from casegate.desk.authorship import ActiveAgents, agent_of_reply_address, judge
from casegate.desk.filing.batch import Prefetched
from casegate.desk.filing.suspension import suspension_facts
from casegate.desk.filing.threads import answers_ours, existing_conversations
from casegate.desk.models import Agent, Contact, DeskMessage
from casegate.desk.threading import ThreadHint
from casegate.maillog import address_text

log = logging.getLogger("casegate.desk")


def prefetch(arrivals: list[DeskArrival]) -> Prefetched:
    """Also decides who wrote each arrival, checking DKIM signatures of agents' answers (DNS
    lookups, so before the writing transaction), and reads what deciding to suspend needs."""
    seen = set(DeskMessage.objects.filter(
        message_id__in=[a.mail.message_id for a in arrivals if a.mail.message_id]
    ).values_list("message_id", "sender", "subject"))
    hints, found = existing_conversations(arrivals)
    senders = list({a.mail.sender for a in arrivals if a.mail.sender})
    contacts = Contact.objects.in_bulk(senders, field_name="address")
    agents = _active_agents(arrivals, hints, senders)
    unanswered: set[bytes] = set()
    authorship = [judge(arrival, answers_ours(hint, found), agents, unanswered)
                  for arrival, hint in zip(arrivals, hints, strict=True)]
    for arrival, decided in zip(arrivals, authorship, strict=True):
        if decided.author is not None:
            log.info("queue=%s agent=%s proof=%r", arrival.queue_id,
                     decided.author.get_username(), decided.proof)
        elif decided.refused:
            log.warning("queue=%s sender=%s agent-answer=refused reason=%r", arrival.queue_id,
                        address_text(arrival.mail.sender), decided.refused)
    return Prefetched(seen, hints, found, contacts, authorship, suspension_facts(arrivals))


def _active_agents(arrivals: list[DeskArrival], hints: list[ThreadHint], senders: list[str]
                   ) -> ActiveAgents:
    """The agents an arrival may be the answer of: its sender, or its reply address's."""
    reply_ids = {agent_of_reply_address(a.original_recipient) for a in arrivals} - {None}
    if not reply_ids and not any(h.signed for h in hints):
        return ActiveAgents()
    agents = Agent.objects.filter(user__is_active=True).filter(
        Q(user__email__in=senders) | Q(pk__in=reply_ids)).select_related("user")
    return ActiveAgents({a.user.email.lower(): a for a in agents}, {a.pk: a for a in agents})
