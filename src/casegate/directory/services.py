"""Adding and removing domains, accounts and groups, with the checks a user relies on."""

from __future__ import annotations

import re

from django.db import transaction

from casegate.directory.addresses import domain_of, normalize_address, normalize_domain
from casegate.directory.claims import owner_of
from casegate.directory.models import Account, Domain, Group, GroupMember
from casegate.errors import CasegateError

_TRANSPORT = re.compile(r"^(smtp|lmtp):[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")


class DirectoryError(CasegateError):
    """A directory change was refused."""


def company_domain(address: str) -> Domain:
    domain = Domain.objects.filter(name=domain_of(address)).first()
    if domain is None:
        raise DirectoryError(
            f"{domain_of(address)} is not one of the company's domains; "
            f"add it first with: casegate domain add {domain_of(address)}"
        )
    return domain


def add_domain(name: str, mailbox_transport: str = "") -> Domain:
    normalized = normalize_domain(name)
    if mailbox_transport and not _TRANSPORT.match(mailbox_transport):
        raise DirectoryError(
            f"mailbox transport {mailbox_transport!r} must look like "
            "smtp:HOST:PORT or lmtp:HOST:PORT"
        )
    if Domain.objects.filter(name=normalized).exists():
        raise DirectoryError(f"the domain {normalized} exists already")
    return Domain.objects.create(name=normalized, mailbox_transport=mailbox_transport)


def _refuse_if_owned(address: str) -> None:
    owner = owner_of(address)
    if owner is None:
        return
    if owner.forwarding:
        raise DirectoryError(
            f"{address} is {owner}; a forwarding address must not be an account, "
            "mailbox or group (remove the rule first)"
        )
    raise DirectoryError(f"{address} is already {owner}")


@transaction.atomic
def add_account(address: str, display_name: str = "") -> Account:
    normalized = normalize_address(address)
    domain = company_domain(normalized)
    _refuse_if_owned(normalized)
    return Account.objects.create(address=normalized, domain=domain, display_name=display_name)


@transaction.atomic
def add_group(address: str, members: list[str], name: str = "") -> Group:
    normalized = normalize_address(address)
    domain = company_domain(normalized)
    _refuse_if_owned(normalized)
    member_addresses = sorted({normalize_address(m) for m in members})
    if normalized in member_addresses:
        raise DirectoryError(f"the group {normalized} cannot be a member of itself")
    company = set(Domain.objects.values_list("name", flat=True))
    for member in member_addresses:
        owner = owner_of(member)
        if domain_of(member) in company and (owner is None or owner.forwarding):
            raise DirectoryError(
                f"the member {member} is not an account, group or desk intake; mail for the "
                "group would not reach it")
    group = Group.objects.create(address=normalized, domain=domain, name=name)
    GroupMember.objects.bulk_create(GroupMember(group=group, address=m) for m in member_addresses)
    return group


def remove_account(address: str) -> None:
    deleted, _ = Account.objects.filter(address=normalize_address(address)).delete()
    if not deleted:
        raise DirectoryError(f"there is no account {address}")


def remove_group(address: str) -> None:
    deleted, _ = Group.objects.filter(address=normalize_address(address)).delete()
    if not deleted:
        raise DirectoryError(f"there is no group {address}")
