"""The desk's intakes own their addresses (see :mod:`casegate.directory.claims`), and the
routing table reads them, with the agents' addresses, from here (see
:mod:`casegate.routing.sources`); both are plugged in when Django starts (``apps.py``)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _

from casegate.desk.authorship import reply_address
from casegate.desk.models import Agent, Intake
from casegate.desk.vocabulary import IntakeKind
from casegate.directory.claims import Claim, Claimant
from casegate.routing.sources import DeskAddresses


def _intake(address: str) -> Claim | None:
    intake = Intake.objects.filter(address=address).first()
    if intake is None:
        return None
    text = (_("the lead intake #%(id)s of the desk") if intake.kind == IntakeKind.LEAD
            else _("the case intake #%(id)s of the desk"))
    return Claim("intake", text % {"id": intake.pk})


def _intakes() -> Iterable[str]:
    return Intake.objects.values_list("address", flat=True)


INTAKES = Claimant(30, _intake, _intakes)


def desk_addresses() -> DeskAddresses:
    """The intakes (address to id) and the active agents' addresses, for routing."""
    agents = list(Agent.objects.filter(user__is_active=True).values_list("id", "user__email"))
    return DeskAddresses(
        intakes=dict(Intake.objects.values_list("address", "id")),
        agent_addresses=[email for _, email in agents if email],
        agent_reply_addresses=[reply_address(agent_id) for agent_id, _ in agents],
    )
