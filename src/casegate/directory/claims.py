"""Who owns an address: an account, a group, a desk intake or a routing rule.

One address has one owner. A forwarding address that a rule routes must not also be an
account, a mailbox or a group (the article's requirement), and the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from casegate.desk.vocabulary import IntakeKind
from casegate.routing.vocabulary import MatchType


@dataclass(frozen=True)
class Claim:
    """What owns an address; ``str()`` describes it for a message."""

    kind: str  # account, group, intake or rule
    description: str

    @property
    def forwarding(self) -> bool:
        """The address is only a rule's forwarding address (no mailbox behind it)."""
        return self.kind == "rule"

    def __str__(self) -> str:
        return self.description


def owner_of(address: str) -> Claim | None:
    """What already owns ``address`` (normalised), or ``None`` when nothing does."""
    from casegate.desk.models import Intake
    from casegate.directory.models import Account, Group
    from casegate.routing.models import Rule

    account = Account.objects.filter(address=address).first()
    if account is not None:
        if account.display_name:
            return Claim("account", _("the account of %(address)s (%(name)s)") % {
                "address": account.address, "name": account.display_name})
        return Claim("account", _("the account of %(address)s") % {"address": account.address})
    if Group.objects.filter(address=address).exists():
        return Claim("group", _("the group %(address)s") % {"address": address})
    intake = Intake.objects.filter(address=address).first()
    if intake is not None:
        text = (_("the lead intake #%(id)s of the desk") if intake.kind == IntakeKind.LEAD
                else _("the case intake #%(id)s of the desk"))
        return Claim("intake", text % {"id": intake.pk})
    rule = Rule.objects.filter(match_type=MatchType.ADDRESS, match_value=address).first()
    if rule is not None:
        return Claim("rule", _("the forwarding address of rule #%(id)s") % {"id": rule.pk})
    return None


def mailbox_addresses() -> set[str]:
    """Every address an account, a group or a desk intake owns (what :func:`owner_of` finds
    before rules), each table read once: for checking many addresses at a time."""
    from casegate.desk.models import Intake
    from casegate.directory.models import Account, Group

    found = set(Account.objects.values_list("address", flat=True))
    found.update(Group.objects.values_list("address", flat=True))
    found.update(Intake.objects.values_list("address", flat=True))
    return found
