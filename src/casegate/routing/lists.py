"""Address lists: named sets of addresses and domains that rules skip or are limited to."""

from __future__ import annotations

from django.db import transaction

from casegate.directory.addresses import InvalidAddress, normalize_entry
from casegate.routing.models import AddressList
from casegate.routing.services import RuleError


def _entry(text: str) -> str:
    try:
        return normalize_entry(text)
    except InvalidAddress as exc:
        raise RuleError(f"address list entry {text.strip()!r}: {exc}") from None


def entries_of(texts: list[str]) -> list[str]:
    """Normalised addresses and domains, each once, in the order given."""
    found: list[str] = []
    for text in texts:
        if text.strip() and (entry := _entry(text)) not in found:
            found.append(entry)
    return found


@transaction.atomic
def save_list(name: str, entries: list[str]) -> AddressList:
    """Create the list ``name`` or replace its entries; rules using it see the change on
    the next message."""
    name = name.strip()
    if not name or len(name) > 100:
        raise RuleError("an address list's name is 1 to 100 characters")
    found, _ = AddressList.objects.get_or_create(name=name)
    found.entries = entries_of(entries)
    found.save()
    return found


@transaction.atomic
def remove_list(name: str) -> None:
    found = AddressList.objects.filter(name=name).first()
    if found is None:
        raise RuleError(f"there is no address list {name!r}; see: casegate address-list list")
    if found.sender_rules.exists() or found.recipient_rules.exists():
        raise RuleError(f"rules use the address list {name!r}; change or remove them first")
    found.delete()
