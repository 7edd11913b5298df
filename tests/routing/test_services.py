"""Saving routing rules: validation a user can act on, positions, versions, the table."""

from __future__ import annotations

import pytest

from casegate.desk.services import add_intake
from casegate.desk.vocabulary import IntakeKind
from casegate.directory.services import add_account, add_domain, add_group
from casegate.routing.engine import Target, TargetKind, Verdict
from casegate.routing.models import RoutingVersion, Rule
from casegate.routing.services import (
    RuleError,
    RuleSpec,
    add_rule,
    remove_rule,
    rule_as_dict,
    set_enabled,
)
from casegate.routing.snapshot import load_table

pytestmark = pytest.mark.django_db

OURS = "solarmora.com"
ANN = f"ann@{OURS}"
TEAM = f"team@{OURS}"
CASES = f"cases@{OURS}"
HELP = f"help@{OURS}"
SALES = f"sales@{OURS}"
CRM = "inbound@crm.example"


@pytest.fixture
def company() -> dict[str, int]:
    add_domain(OURS)
    add_account(ANN, "Ann Lee")
    add_group(TEAM, [ANN])
    intake = add_intake(IntakeKind.CASE, address=CASES)
    return {"intake": intake.pk}


def forward(address: str, to: str = CRM, **kwargs: object) -> Rule:
    return add_rule(RuleSpec("address", address, rewrite="recipient", rewrite_value=to, **kwargs))


def version() -> int:
    row = RoutingVersion.objects.filter(pk=1).first()
    return row.version if row else 0


def positions() -> list[tuple[str, int]]:
    return list(Rule.objects.order_by("position").values_list("description", "position"))


# --- what a forwarding address may be ------------------------------------------------------


def test_forwarding_address_to_intake_is_saved(company: dict[str, int]) -> None:
    saved = forward(HELP, CASES)
    assert saved.match_value == HELP
    assert saved.rewrite_value == CASES
    assert saved.position == 1
    assert saved.apply_to == Rule.APPLY_ALL


def test_rule_addresses_are_normalised(company: dict[str, int]) -> None:
    saved = add_rule(RuleSpec("address", "Help@SolarMora.COM", rewrite="recipient",
                              rewrite_value="Cases@SolarMora.com",
                              also_deliver=["ANN@solarmora.com"]))
    assert (saved.match_value, saved.rewrite_value, saved.also_deliver) == (HELP, CASES, [ANN])


def test_forwarding_address_that_is_an_account_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError) as info:
        forward(ANN)
    message = str(info.value)
    assert message.startswith(f"{ANN} is the account of {ANN} (Ann Lee)")
    assert "a forwarding address must not be an account, mailbox or group" in message


def test_forwarding_address_that_an_account_recognises_with_a_tag_is_refused(
        company: dict[str, int]) -> None:
    with pytest.raises(RuleError) as info:
        forward(ANN.replace("@", "+crm@"))
    assert f"is the account of {ANN}" in str(info.value)


def test_forwarding_address_that_is_a_group_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="must not be an account, mailbox or group") as info:
        forward(TEAM)
    assert f"the group {TEAM}" in str(info.value)


def test_forwarding_address_that_is_an_intake_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="must not be an account, mailbox or group") as info:
        forward(CASES)
    assert f"the case intake #{company['intake']} of the desk" in str(info.value)


def test_account_address_is_compared_case_insensitively(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="must not be an account, mailbox or group"):
        forward("ANN@SolarMora.com")


def test_forwarding_address_outside_company_domains_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError) as info:
        forward("help@other.example")
    assert str(info.value) == (
        "other.example is not one of the company's domains; "
        "add it first with: casegate domain add other.example"
    )


def test_second_rule_on_the_same_forwarding_address_is_allowed(company: dict[str, int]) -> None:
    forward(HELP, CASES)
    also = add_rule(RuleSpec("address", HELP, also_deliver=[CRM]))
    assert also.position == 2


def test_invalid_match_address_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="is not a mail address"):
        forward("help")


def test_unknown_match_type_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="unknown match type 'regex'"):
        add_rule(RuleSpec("regex", "x", also_deliver=[ANN]))


# --- patterns -----------------------------------------------------------------------------


def test_invalid_regular_expression_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match=r"'help\(' is not a valid regular expression"):
        add_rule(RuleSpec("pattern", "help(", also_deliver=[ANN]))


def test_empty_pattern_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="the pattern must be 1 to 1000 characters long"):
        add_rule(RuleSpec("pattern", "", also_deliver=[ANN]))


def test_too_long_pattern_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="the pattern must be 1 to 1000 characters long"):
        add_rule(RuleSpec("pattern", "a" * 1001, also_deliver=[ANN]))


def test_pattern_rule_is_saved_as_written(company: dict[str, int]) -> None:
    saved = add_rule(RuleSpec("pattern", r"Help-.*@solarmora\.com", rewrite="recipient",
                              rewrite_value=CASES))
    assert saved.match_value == r"Help-.*@solarmora\.com"


# --- where a rule may send mail ------------------------------------------------------------


def test_new_recipient_at_our_domain_must_be_recognized(company: dict[str, int]) -> None:
    with pytest.raises(RuleError) as info:
        forward(HELP, f"ghost@{OURS}")
    assert f"the new recipient ghost@{OURS} is not an account, group or desk intake" in str(
        info.value
    )


def test_new_recipient_that_is_another_forwarding_address_is_refused(
    company: dict[str, int],
) -> None:
    forward(SALES, CASES)
    with pytest.raises(RuleError, match="is not an account, group or desk intake"):
        forward(HELP, SALES)


def test_new_recipient_may_be_an_account_or_a_group(company: dict[str, int]) -> None:
    assert forward(HELP, ANN).rewrite_value == ANN
    assert forward(SALES, TEAM).rewrite_value == TEAM


def test_new_recipient_at_another_domain_is_allowed(company: dict[str, int]) -> None:
    assert forward(HELP, "Inbound@CRM.example").rewrite_value == CRM


def test_also_deliver_at_our_domain_must_be_recognized(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match=f"the also-deliver address nobody@{OURS} is not an"):
        add_rule(RuleSpec("address", HELP, also_deliver=[CASES, f"nobody@{OURS}"]))


def test_also_deliver_addresses_are_deduplicated(company: dict[str, int]) -> None:
    saved = add_rule(RuleSpec("address", HELP, also_deliver=[CRM, ANN, "Inbound@crm.example"]))
    assert saved.also_deliver == [CRM, ANN]


def test_replace_user_must_give_a_recognized_address(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match=f"ghost@{OURS} is not an account"):
        add_rule(RuleSpec("address", HELP, rewrite="user", rewrite_value="ghost"))


def test_replace_user_to_an_account_is_saved_lower_case(company: dict[str, int]) -> None:
    assert add_rule(RuleSpec("address", HELP, rewrite="user", rewrite_value="Ann")).rewrite_value \
        == "ann"


def test_replace_domain_is_saved_as_a_labels(company: dict[str, int]) -> None:
    saved = add_rule(RuleSpec("address", HELP, rewrite="domain", rewrite_value="Bücher.Example"))
    assert saved.rewrite_value == "xn--bcher-kva.example"


def test_replace_domain_into_our_domain_must_be_recognized(company: dict[str, int]) -> None:
    add_domain("solarmora.net")
    with pytest.raises(RuleError, match=r"help@solarmora\.net is not an account"):
        add_rule(RuleSpec("address", HELP, rewrite="domain", rewrite_value="solarmora.net"))


def test_routing_a_forwarding_address_to_itself_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match=HELP):
        forward(HELP, HELP)
    assert not Rule.objects.exists()


def test_replace_domain_with_the_same_domain_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match=f"the rule would route {HELP} to itself"):
        add_rule(RuleSpec("address", HELP, rewrite="domain", rewrite_value="SolarMora.com"))


def test_empty_new_recipient_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="the new envelope recipient, username or domain is empty"):
        add_rule(RuleSpec("address", HELP, rewrite="recipient", rewrite_value=""))


def test_unknown_recipient_change_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="unknown recipient change 'mailbox'"):
        add_rule(RuleSpec("address", HELP, rewrite="mailbox", rewrite_value=ANN))


def test_invalid_new_recipient_is_refused_as_a_rule_error(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="is not a mail address"):
        forward(HELP, "crm")


def test_rule_that_changes_nothing_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="the rule changes nothing"):
        add_rule(RuleSpec("address", HELP))


def test_bypass_spam_alone_still_changes_nothing(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="the rule changes nothing"):
        add_rule(RuleSpec("address", HELP, bypass_spam=True))


# --- apply-to -----------------------------------------------------------------------------


def test_match_all_defaults_to_unrecognized(company: dict[str, int]) -> None:
    saved = add_rule(RuleSpec("all", rewrite="recipient", rewrite_value=CASES))
    assert saved.apply_to == Rule.APPLY_UNRECOGNIZED
    assert saved.match_value == ""


def test_apply_to_can_be_chosen(company: dict[str, int]) -> None:
    saved = add_rule(RuleSpec("all", also_deliver=[CRM], apply_to="recognized"))
    assert saved.apply_to == Rule.APPLY_RECOGNIZED


def test_unknown_apply_to_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="the account types to affect are users, groups"):
        add_rule(RuleSpec("all", also_deliver=[CRM], apply_to="everyone"))


# --- positions ------------------------------------------------------------------------------


def _three_rules() -> list[Rule]:
    return [
        add_rule(RuleSpec("pattern", rf"r{i}@.*", also_deliver=[CRM], description=f"r{i}"))
        for i in (1, 2, 3)
    ]


def test_rules_are_appended_by_default(company: dict[str, int]) -> None:
    _three_rules()
    assert positions() == [("r1", 1), ("r2", 2), ("r3", 3)]


def test_inserting_at_a_position_shifts_the_others_down(company: dict[str, int]) -> None:
    _three_rules()
    add_rule(RuleSpec("pattern", "new@.*", also_deliver=[CRM], description="new", position=2))
    assert positions() == [("r1", 1), ("new", 2), ("r2", 3), ("r3", 4)]


def test_inserting_at_position_one_takes_the_highest_priority(company: dict[str, int]) -> None:
    _three_rules()
    add_rule(RuleSpec("pattern", "new@.*", also_deliver=[CRM], description="new", position=1))
    assert positions() == [("new", 1), ("r1", 2), ("r2", 3), ("r3", 4)]


def test_position_past_the_end_is_appended(company: dict[str, int]) -> None:
    _three_rules()
    saved = add_rule(RuleSpec("pattern", "new@.*", also_deliver=[CRM], position=99))
    assert saved.position == 4


def test_position_zero_is_refused_and_nothing_moves(company: dict[str, int]) -> None:
    _three_rules()
    with pytest.raises(RuleError, match="the position must be 1 or more"):
        add_rule(RuleSpec("pattern", "new@.*", also_deliver=[CRM], position=0))
    assert positions() == [("r1", 1), ("r2", 2), ("r3", 3)]


def test_remove_rule_renumbers_the_rules_below(company: dict[str, int]) -> None:
    rules = _three_rules()
    remove_rule(rules[0].pk)
    assert positions() == [("r2", 1), ("r3", 2)]


def test_remove_last_rule_leaves_the_others(company: dict[str, int]) -> None:
    rules = _three_rules()
    remove_rule(rules[2].pk)
    assert positions() == [("r1", 1), ("r2", 2)]


def test_remove_unknown_rule_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="there is no rule #12345; see: casegate rule list"):
        remove_rule(12345)


def test_removed_forwarding_address_can_become_an_account(company: dict[str, int]) -> None:
    saved = forward(HELP, CASES)
    remove_rule(saved.pk)
    assert add_account(HELP).address == HELP


def test_set_enabled_switches_a_rule_off_and_on(company: dict[str, int]) -> None:
    saved = forward(HELP, CASES)
    set_enabled(saved.pk, False)
    assert Rule.objects.get(pk=saved.pk).enabled is False
    set_enabled(saved.pk, True)
    assert Rule.objects.get(pk=saved.pk).enabled is True


def test_set_enabled_on_unknown_rule_is_refused(company: dict[str, int]) -> None:
    with pytest.raises(RuleError, match="there is no rule #999"):
        set_enabled(999, True)


def test_rule_as_dict(company: dict[str, int]) -> None:
    saved = add_rule(RuleSpec("address", SALES, rewrite="recipient", rewrite_value=CASES,
                              also_deliver=[ANN], bypass_spam=True, description="sales"))
    assert rule_as_dict(saved) == {
        "id": saved.pk,
        "position": 1,
        "description": "sales",
        "enabled": True,
        "match": "address",
        "match_value": SALES,
        "change_recipient": "recipient",
        "change_value": CASES,
        "bypass_spam": True,
        "also_deliver": [ANN],
        "apply_to": "users,groups,unrecognized",
        "action": "modify",
        "reject_text": None,
        "org_unit": "/",
        "sender_list": None,
        "sender_list_mode": None,
        "recipient_list": None,
        "recipient_list_mode": None,
        "original_recipient_header": None,
        "spam_headers": False,
        "custom_headers": [],
        "subject_prefix": None,
        "route": None,
        "remove_attachments": False,
        "require_tls": False,
        "rate_limit": None,
    }


# --- the routing version ------------------------------------------------------------------


def test_version_row_exists_after_migrations() -> None:
    assert RoutingVersion.objects.filter(pk=1).exists()


def test_adding_a_rule_bumps_the_version(company: dict[str, int]) -> None:
    before = version()
    forward(HELP, CASES)
    assert version() > before


def test_refused_rule_does_not_bump_the_version(company: dict[str, int]) -> None:
    before = version()
    with pytest.raises(RuleError):
        forward(ANN)
    assert version() == before


def test_removing_a_rule_bumps_the_version(company: dict[str, int]) -> None:
    saved = forward(HELP, CASES)
    before = version()
    remove_rule(saved.pk)
    assert version() > before


def test_disabling_and_enabling_a_rule_bump_the_version(company: dict[str, int]) -> None:
    saved = forward(HELP, CASES)
    before = version()
    set_enabled(saved.pk, False)
    disabled = version()
    set_enabled(saved.pk, True)
    assert before < disabled < version()


# --- the in-memory table --------------------------------------------------------------------


def test_load_table_reflects_the_directory(company: dict[str, int]) -> None:
    add_domain("relayed.example", mailbox_transport="lmtp:127.0.0.1:24")
    table = load_table()
    assert table.version == version()
    assert table.domains == frozenset({OURS, "relayed.example"})
    assert table.accounts == frozenset({ANN})
    assert table.groups == {TEAM: (ANN,)}
    assert table.intakes == {CASES: company["intake"]}
    assert table.mailbox_relays == {"relayed.example": "lmtp:127.0.0.1:24"}


def test_load_table_sorts_enabled_rules_by_kind(company: dict[str, int]) -> None:
    exact = forward(HELP, CASES)
    pattern = add_rule(RuleSpec("pattern", r"sales-.*", also_deliver=[CRM]))
    catch_all = add_rule(RuleSpec("all", rewrite="recipient", rewrite_value=TEAM))
    disabled = forward(SALES, CASES, enabled=False)
    table = load_table()
    assert [r.id for r in table.exact_rules[HELP]] == [exact.pk]
    assert SALES not in table.exact_rules
    assert [r.id for r in table.pattern_rules.matching("sales-x@solarmora.com")] == [pattern.pk]
    assert table.pattern_rules.size == 1
    assert [r.id for r in table.match_all_rules] == [catch_all.pk]
    assert disabled.pk not in {r.id for r in table.match_all_rules}


def test_loaded_table_routes_by_the_saved_rules(company: dict[str, int]) -> None:
    add_rule(RuleSpec("address", SALES, rewrite="recipient", rewrite_value=CASES,
                      also_deliver=[ANN]))
    routing = load_table().route(SALES)
    assert routing.verdict is Verdict.ACCEPT
    assert routing.targets == (
        Target(CASES, TargetKind.DESK, company["intake"]),
        Target(ANN, TargetKind.MAILBOX),
    )


def test_loaded_table_sees_a_rule_change_at_once(company: dict[str, int]) -> None:
    saved = forward(HELP, CASES)
    first = load_table()
    set_enabled(saved.pk, False)
    second = load_table()
    assert first.route(HELP).verdict is Verdict.ACCEPT
    assert second.route(HELP).verdict is Verdict.UNKNOWN_USER
    assert second.version > first.version


def test_loaded_table_relays_accounts_of_a_relayed_domain() -> None:
    add_domain("relayed.example", mailbox_transport="smtp:mail.internal:2525")
    add_account("zoe@relayed.example")
    routing = load_table().route("zoe@relayed.example")
    assert routing.targets == (
        Target("zoe@relayed.example", TargetKind.REMOTE, relay="smtp:mail.internal:2525"),
    )


def test_move_rule_reorders_and_renumbers() -> None:
    from casegate.routing.models import Rule
    from casegate.routing.services import RuleError, move_rule

    add_domain(OURS)
    add_account(ANN)
    ids = [add_rule(RuleSpec(match_type="address", match_value=f"r{n}@{OURS}",
                             rewrite="recipient", rewrite_value=ANN)).pk for n in range(3)]
    move_rule(ids[2], 1)
    assert list(Rule.objects.order_by("position").values_list("id", flat=True)) == [
        ids[2], ids[0], ids[1]]
    assert list(Rule.objects.order_by("position").values_list("position", flat=True)) == [1, 2, 3]
    with pytest.raises(RuleError, match="from 1 to 3"):
        move_rule(ids[0], 4)
