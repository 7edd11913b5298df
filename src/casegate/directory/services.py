"""Adding and removing domains, accounts and groups, with the checks a user relies on."""

from __future__ import annotations

import re

from django.db import transaction

from casegate.config import get_config
from casegate.directory.addresses import (
    domain_of,
    normalize_address,
    normalize_domain,
    strip_extension,
)
from casegate.directory.claims import owner_of, owner_of_tagged
from casegate.directory.models import Account, Domain, Group, GroupMember, OrgUnit
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
    delimiter = get_config().recipient_delimiter
    base = strip_extension(address, delimiter)
    if base != address and (routed := owner_of(base)) is not None and routed.forwarding:
        # Mail to user+tag@ follows user@'s rules: this account would never get any.
        raise DirectoryError(f"{address} is {base} with a tag, and {base} is {routed}; a"
                             " forwarding address must not be an account, mailbox or group")
    if (tagging := owner_of_tagged(address, delimiter)) is not None:
        raise DirectoryError(f"a tagged form of {address} is {tagging}; a forwarding address"
                             " must not be an account, mailbox or group (remove the rule"
                             " first)")
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
def add_account(address: str, display_name: str = "", unit: str = "") -> Account:
    normalized = normalize_address(address)
    domain = company_domain(normalized)
    _refuse_if_owned(normalized)
    return Account.objects.create(address=normalized, domain=domain, display_name=display_name,
                                  org_unit=find_unit(unit))


def _check_member(group: str, member: str, company: set[str]) -> None:
    if member == group:
        raise DirectoryError(f"the group {group} cannot be a member of itself")
    owner = owner_of(member)
    if domain_of(member) in company and (owner is None or owner.forwarding):
        raise DirectoryError(
            f"the member {member} is not an account, group or desk intake; mail for the "
            "group would not reach it")


@transaction.atomic
def add_group(address: str, members: list[str], name: str = "", unit: str = "") -> Group:
    normalized = normalize_address(address)
    domain = company_domain(normalized)
    _refuse_if_owned(normalized)
    member_addresses = sorted({normalize_address(m) for m in members})
    if normalized in member_addresses:
        raise DirectoryError(f"the group {normalized} cannot be a member of itself")
    company = set(Domain.objects.values_list("name", flat=True))
    for member in member_addresses:
        _check_member(normalized, member, company)
    group = Group.objects.create(address=normalized, domain=domain, name=name,
                                 org_unit=find_unit(unit))
    GroupMember.objects.bulk_create(GroupMember(group=group, address=m) for m in member_addresses)
    return group


def _group(address: str) -> Group:
    group = Group.objects.filter(address=normalize_address(address)).first()
    if group is None:
        raise DirectoryError(f"there is no group {address}")
    return group


@transaction.atomic
def add_member(group_address: str, member: str) -> GroupMember:
    """Add ``member`` to a group; rules matching the group's members see it on the next
    message."""
    group = _group(group_address)
    normalized = normalize_address(member)
    _check_member(group.address, normalized, set(Domain.objects.values_list("name", flat=True)))
    if group.members.filter(address=normalized).exists():
        raise DirectoryError(f"{normalized} is already a member of {group.address}")
    return GroupMember.objects.create(group=group, address=normalized)


@transaction.atomic
def remove_member(group_address: str, member: str) -> None:
    group = _group(group_address)
    found = group.members.filter(address=normalize_address(member)).first()
    if found is None:
        raise DirectoryError(f"{member} is not a member of {group.address}")
    found.delete()


def _account(address: str) -> Account:
    account = Account.objects.filter(address=normalize_address(address)).first()
    if account is None:
        raise DirectoryError(f"there is no account {address}")
    return account


def set_suspended(address: str, suspended: bool) -> Account:
    """A suspended account counts as unrecognized: mail for it is refused unless a rule
    for unrecognized addresses routes it."""
    account = _account(address)
    account.suspended = suspended
    account.save(update_fields=["suspended"])
    return account


def set_unit(address: str, unit: str) -> Account | Group:
    """Move an account or a group into the unit at ``unit`` ("/" or "": the top level)."""
    normalized = normalize_address(address)
    owner: Account | Group | None = (Account.objects.filter(address=normalized).first()
                                     or Group.objects.filter(address=normalized).first())
    if owner is None:
        raise DirectoryError(f"there is no account or group {address}")
    owner.org_unit = find_unit(unit)
    owner.save(update_fields=["org_unit"])
    return owner


def unit_paths() -> dict[int, str]:
    """Every unit's path (``/Sales/EMEA``) by id, in one query."""
    rows = {pk: (parent, name) for pk, parent, name
            in OrgUnit.objects.values_list("id", "parent_id", "name")}
    paths: dict[int, str] = {}

    def path(pk: int) -> str:
        if pk not in paths:
            parent, name = rows[pk]
            paths[pk] = (path(parent) if parent else "") + "/" + name
        return paths[pk]

    for pk in rows:
        path(pk)
    return paths


def find_unit(path: str) -> OrgUnit | None:
    """The unit at ``/Sales/EMEA``; ``None`` for the top level ("" or "/")."""
    names = [name for name in path.strip().split("/") if name.strip()]
    unit: OrgUnit | None = None
    for depth, name in enumerate(names, start=1):
        unit = OrgUnit.objects.filter(parent=unit, name=name.strip()).first()
        if unit is None:
            raise DirectoryError(
                f"there is no unit /{'/'.join(names[:depth])}; add it with: casegate unit add "
                f"/{'/'.join(names[:depth])}")
    return unit


@transaction.atomic
def add_unit(path: str) -> OrgUnit:
    """Create the unit at ``path``; its parent must exist (the top level always does)."""
    names = [name.strip() for name in path.strip().split("/") if name.strip()]
    if not names:
        raise DirectoryError("give the unit's path, such as /Sales or /Sales/EMEA")
    if any(len(name) > 100 for name in names):
        raise DirectoryError("a unit's name is at most 100 characters")
    parent = find_unit("/".join(names[:-1]))
    if OrgUnit.objects.filter(parent=parent, name=names[-1]).exists():
        raise DirectoryError(f"the unit /{'/'.join(names)} exists already")
    return OrgUnit.objects.create(parent=parent, name=names[-1])


@transaction.atomic
def remove_unit(path: str) -> None:
    unit = find_unit(path)
    if unit is None:
        raise DirectoryError("the top level cannot be removed")
    if (unit.children.exists() or unit.accounts.exists() or unit.groups.exists()
            or unit.rules.exists()):
        raise DirectoryError(f"the unit {unit.path} still holds sub-units, accounts, groups or "
                             "rules; move or remove them first")
    unit.delete()


def remove_account(address: str) -> None:
    deleted, _ = Account.objects.filter(address=normalize_address(address)).delete()
    if not deleted:
        raise DirectoryError(f"there is no account {address}")


def remove_group(address: str) -> None:
    deleted, _ = Group.objects.filter(address=normalize_address(address)).delete()
    if not deleted:
        raise DirectoryError(f"there is no group {address}")
