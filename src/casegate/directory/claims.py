"""Who owns an address: an account, a group, a desk intake or a routing rule.

One address has one owner. A forwarding address that a rule routes must not also be an
account, a mailbox or a group (the article's requirement), and the reverse.
"""

from __future__ import annotations


def owner_of(address: str) -> str | None:
    """Describe what already owns ``address`` (normalised), or ``None`` when nothing does."""
    from casegate.desk.models import Intake
    from casegate.directory.models import Account, Group
    from casegate.routing.models import Rule

    account = Account.objects.filter(address=address).first()
    if account is not None:
        who = f" ({account.display_name})" if account.display_name else ""
        return f"the account of {account.address}{who}"
    if Group.objects.filter(address=address).exists():
        return f"the group {address}"
    intake = Intake.objects.filter(address=address).first()
    if intake is not None:
        return f"the {intake.kind} intake #{intake.pk} of the desk"
    rule = Rule.objects.filter(match_type=Rule.MATCH_ADDRESS, match_value=address).first()
    if rule is not None:
        return f"the forwarding address of rule #{rule.pk}"
    return None
