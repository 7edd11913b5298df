"""Who owns an address: an account, a group, a desk intake or a routing rule.

One address has one owner. A forwarding address that a rule routes must not also be an
account, a mailbox or a group (the article's requirement), and the reverse.

The directory knows its accounts and groups; the layers above it that own addresses (the
desk's intakes, the routing rules' forwarding addresses) add a :class:`Claimant` when
Django starts (their ``apps.py``), so the directory never imports them. Claimants are asked
in the order of their ``rank``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from casegate.directory.models import Account, Group


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


@dataclass(frozen=True)
class Claimant:
    """One kind of owner: ``find`` says whether it owns an address; ``owned`` lists every
    address it owns when they are mailboxes (None for forwarding addresses)."""

    rank: int
    find: Callable[[str], Claim | None]
    owned: Callable[[], Iterable[str]] | None = None
    # Whether it owns a tagged form of an address (``user+tag@`` of ``user@``), given the
    # delimiter; mail to that form follows the owner's rule, not the address's owner.
    find_tagged: Callable[[str, str], Claim | None] | None = None


_claimants: list[Claimant] = []


def add_claimant(claimant: Claimant) -> None:
    """Called from an app's ``ready()``; adding the same one again changes nothing."""
    if claimant not in _claimants:
        _claimants.append(claimant)
        _claimants.sort(key=lambda c: c.rank)


def _account(address: str) -> Claim | None:
    account = Account.objects.filter(address=address).first()
    if account is None:
        return None
    if account.display_name:
        return Claim("account", _("the account of %(address)s (%(name)s)") % {
            "address": account.address, "name": account.display_name})
    return Claim("account", _("the account of %(address)s") % {"address": account.address})


def _group(address: str) -> Claim | None:
    if Group.objects.filter(address=address).exists():
        return Claim("group", _("the group %(address)s") % {"address": address})
    return None


def _accounts() -> Iterable[str]:
    return Account.objects.values_list("address", flat=True)


def _groups() -> Iterable[str]:
    return Group.objects.values_list("address", flat=True)


add_claimant(Claimant(10, _account, _accounts))
add_claimant(Claimant(20, _group, _groups))


def owner_of(address: str) -> Claim | None:
    """What already owns ``address`` (normalised), or ``None`` when nothing does."""
    for claimant in _claimants:
        claim = claimant.find(address)
        if claim is not None:
            return claim
    return None


def owner_of_tagged(address: str, delimiter: str) -> Claim | None:
    """What owns a tagged form of ``address`` (normalised), or ``None``."""
    for claimant in _claimants:
        claim = claimant.find_tagged(address, delimiter) if claimant.find_tagged else None
        if claim is not None:
            return claim
    return None


def mailbox_addresses() -> set[str]:
    """Every address an account, a group or a desk intake owns (what :func:`owner_of` finds
    before rules), each table read once: for checking many addresses at a time."""
    found: set[str] = set()
    for claimant in _claimants:
        if claimant.owned is not None:
            found.update(claimant.owned())
    return found
