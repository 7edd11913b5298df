"""Domains, accounts and groups: what is refused, what is stored, the routing version."""

from __future__ import annotations

import re

import pytest

from casegate.desk.changes import DeskError
from casegate.desk.services import add_intake
from casegate.desk.vocabulary import IntakeKind
from casegate.directory.addresses import InvalidAddress
from casegate.directory.claims import owner_of
from casegate.directory.models import Account, Domain, Group, GroupMember
from casegate.directory.services import (
    DirectoryError,
    add_account,
    add_domain,
    add_group,
    company_domain,
    remove_account,
    remove_group,
)
from casegate.routing.models import RoutingVersion
from casegate.routing.services import RuleSpec, add_rule

pytestmark = pytest.mark.django_db

OURS = "solarmora.com"
ANN = f"ann@{OURS}"
BOB = f"bob@{OURS}"
TEAM = f"team@{OURS}"
HELP = f"help@{OURS}"
CASES = f"cases@{OURS}"


def version() -> int:
    row = RoutingVersion.objects.filter(pk=1).first()
    return row.version if row else 0


@pytest.fixture
def domain() -> Domain:
    return add_domain(OURS)


@pytest.fixture
def members(domain: Domain) -> None:
    """Ann and Bob have accounts, so they can be group members."""
    add_account(ANN)
    add_account(BOB)


@pytest.fixture
def routed(domain: Domain) -> str:
    add_intake(IntakeKind.CASE, address=CASES)
    add_rule(RuleSpec("address", HELP, rewrite="recipient", rewrite_value=CASES))
    return HELP


# --- domains -------------------------------------------------------------------------------


def test_domain_is_stored_lower_case() -> None:
    assert add_domain("SolarMora.COM").name == OURS


def test_idn_domain_is_stored_as_a_labels() -> None:
    assert add_domain("Bücher.Example").name == "xn--bcher-kva.example"


def test_same_domain_in_u_labels_is_a_duplicate() -> None:
    add_domain("xn--bcher-kva.example")
    with pytest.raises(DirectoryError, match=r"the domain xn--bcher-kva\.example exists already"):
        add_domain("bücher.example")


def test_invalid_domain_is_refused() -> None:
    with pytest.raises(InvalidAddress, match="is not a valid domain name"):
        add_domain("localhost")
    assert not Domain.objects.exists()


@pytest.mark.parametrize("transport", ["smtp:mail.internal:25", "lmtp:127.0.0.1:24",
                                       "smtp:[::1]:2525"])
def test_mailbox_transport_is_stored(transport: str) -> None:
    assert add_domain(OURS, mailbox_transport=transport).mailbox_transport == transport


@pytest.mark.parametrize("transport", ["mail.internal:25", "smtp:mail.internal",
                                       "http:mail.internal:80", "smtp:mail internal:25"])
def test_malformed_mailbox_transport_is_refused(transport: str) -> None:
    with pytest.raises(DirectoryError, match="must look like smtp:HOST:PORT or lmtp:HOST:PORT"):
        add_domain(OURS, mailbox_transport=transport)


def test_company_domain_names_the_command_to_add_a_missing_domain() -> None:
    with pytest.raises(DirectoryError) as info:
        company_domain("ann@other.example")
    assert str(info.value) == (
        "other.example is not one of the company's domains; "
        "add it first with: casegate domain add other.example"
    )


# --- accounts ------------------------------------------------------------------------------


def test_account_is_stored_normalised(domain: Domain) -> None:
    account = add_account("Ann@SolarMora.COM", "Ann Lee")
    assert (account.address, account.display_name, account.domain) == (ANN, "Ann Lee", domain)


def test_account_at_idn_domain_is_stored_with_a_labels() -> None:
    add_domain("bücher.example")
    assert add_account("Anna@Bücher.Example").address == "anna@xn--bcher-kva.example"


def test_account_at_unknown_domain_is_refused(domain: Domain) -> None:
    with pytest.raises(DirectoryError, match=r"casegate domain add other\.example$"):
        add_account("ann@other.example")


def test_duplicate_account_is_refused(domain: Domain) -> None:
    add_account(ANN, "Ann Lee")
    expected = re.escape(f"{ANN} is already the account of {ANN} (Ann Lee)")
    with pytest.raises(DirectoryError, match=expected):
        add_account("ANN@solarmora.com")


def test_account_on_a_group_address_is_refused(domain: Domain, members: None) -> None:
    add_group(TEAM, [ANN])
    with pytest.raises(DirectoryError, match=f"{TEAM} is already the group {TEAM}"):
        add_account(TEAM)


def test_account_on_an_intake_address_is_refused(domain: Domain) -> None:
    intake = add_intake(IntakeKind.CASE, address=CASES)
    with pytest.raises(DirectoryError, match=f"is already the case intake #{intake.pk}"):
        add_account(CASES)


def test_account_on_a_routed_address_is_refused(routed: str) -> None:
    with pytest.raises(DirectoryError) as info:
        add_account(routed)
    message = str(info.value)
    assert message.startswith(f"{routed} is the forwarding address of rule #")
    assert "a forwarding address must not be an account, mailbox or group" in message
    assert "(remove the rule first)" in message
    assert not Account.objects.filter(address=routed).exists()
    tagged = routed.replace("@", "+billing@")  # its mail would follow the rule: none for it
    with pytest.raises(DirectoryError) as tag_info:
        add_account(tagged)
    assert str(tag_info.value).startswith(f"{tagged} is {routed} with a tag")


def test_an_account_group_or_intake_whose_tagged_form_is_routed_is_refused(
        domain: Domain) -> None:
    add_intake(IntakeKind.CASE, address=CASES)
    routed = ANN.replace("@", "+crm@")
    add_rule(RuleSpec("address", routed, rewrite="recipient", rewrite_value=CASES))
    expected = re.escape(f"a tagged form of {ANN} is the forwarding address of rule #")
    with pytest.raises(DirectoryError, match=expected):
        add_account(ANN)  # mail to ann+crm@ would follow the rule, never reach it
    with pytest.raises(DirectoryError, match=expected):
        add_group(ANN, [])
    with pytest.raises(DeskError, match=expected):
        add_intake(IntakeKind.CASE, address=ANN)


def test_remove_account(domain: Domain) -> None:
    add_account(ANN)
    remove_account("Ann@SolarMora.com")
    assert not Account.objects.exists()
    assert owner_of(ANN) is None


def test_remove_unknown_account_is_refused(domain: Domain) -> None:
    with pytest.raises(DirectoryError, match=f"there is no account {ANN}"):
        remove_account(ANN)


# --- groups ----------------------------------------------------------------------------------


def test_group_members_are_normalised_and_deduplicated(domain: Domain, members: None) -> None:
    group = add_group("Team@SolarMora.com", [BOB, "ANN@solarmora.com", ANN, "x@Partner.Example"],
                      name="Team")
    assert group.address == TEAM
    assert list(group.members.values_list("address", flat=True)) == [
        ANN, BOB, "x@partner.example",
    ]


def test_group_cannot_be_a_member_of_itself(domain: Domain) -> None:
    with pytest.raises(DirectoryError, match=f"the group {TEAM} cannot be a member of itself"):
        add_group(TEAM, [ANN, "TEAM@solarmora.com"])
    assert not Group.objects.exists()


def test_group_on_a_routed_address_is_refused(routed: str) -> None:
    with pytest.raises(DirectoryError, match="must not be an account, mailbox or group"):
        add_group(routed, [ANN])
    assert not Group.objects.filter(address=routed).exists()


def test_group_on_an_account_address_is_refused(domain: Domain) -> None:
    add_account(ANN)
    with pytest.raises(DirectoryError, match=f"{ANN} is already the account of {ANN}"):
        add_group(ANN, [BOB])


def test_group_at_unknown_domain_is_refused(domain: Domain) -> None:
    with pytest.raises(DirectoryError, match="is not one of the company's domains"):
        add_group("team@other.example", [ANN])


def test_invalid_group_member_is_refused(domain: Domain) -> None:
    with pytest.raises(InvalidAddress):
        add_group(TEAM, ["not an address"])
    assert not Group.objects.exists()


def test_remove_group_removes_its_members(domain: Domain, members: None) -> None:
    add_group(TEAM, [ANN, BOB])
    remove_group(TEAM)
    assert not Group.objects.exists()
    assert not GroupMember.objects.exists()


def test_remove_unknown_group_is_refused(domain: Domain) -> None:
    with pytest.raises(DirectoryError, match=f"there is no group {TEAM}"):
        remove_group(TEAM)


# --- owner_of ------------------------------------------------------------------------------


def test_owner_of_unknown_address_is_none(domain: Domain) -> None:
    assert owner_of(ANN) is None


def test_owner_of_names_the_rule(routed: str) -> None:
    owner = owner_of(routed)
    assert owner is not None
    assert owner.forwarding and str(owner).startswith("the forwarding address of rule #")


# --- the routing version --------------------------------------------------------------------


def test_adding_a_domain_bumps_the_version() -> None:
    before = version()
    add_domain(OURS)
    assert version() > before


def test_adding_an_account_bumps_the_version(domain: Domain) -> None:
    before = version()
    add_account(ANN)
    assert version() > before


def test_removing_an_account_bumps_the_version(domain: Domain) -> None:
    add_account(ANN)
    before = version()
    remove_account(ANN)
    assert version() > before


def test_adding_a_group_bumps_the_version(domain: Domain, members: None) -> None:
    before = version()
    add_group(TEAM, [ANN])
    assert version() > before


def test_removing_a_group_bumps_the_version(domain: Domain, members: None) -> None:
    add_group(TEAM, [ANN])
    before = version()
    remove_group(TEAM)
    assert version() > before


def test_adding_an_intake_bumps_the_version() -> None:
    before = version()
    add_intake(IntakeKind.LEAD, domain="desk.example")
    assert version() > before


def test_refused_account_does_not_bump_the_version(domain: Domain) -> None:
    add_account(ANN)
    before = version()
    with pytest.raises(DirectoryError):
        add_account(ANN)
    assert version() == before


def test_every_change_moves_the_version_forward(domain: Domain) -> None:
    seen = [version()]
    add_account(ANN)
    seen.append(version())
    add_group(TEAM, [ANN])
    seen.append(version())
    add_intake(IntakeKind.CASE, address=CASES)
    seen.append(version())
    add_rule(RuleSpec("address", HELP, rewrite="recipient", rewrite_value=CASES))
    seen.append(version())
    remove_group(TEAM)
    seen.append(version())
    assert seen == sorted(set(seen))


def test_a_local_member_that_is_nobody_is_refused(domain: Domain) -> None:
    with pytest.raises(DirectoryError, match="is not an account, group or desk intake"):
        add_group(TEAM, ["ghost@solarmora.com"])
