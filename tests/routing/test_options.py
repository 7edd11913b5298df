"""Every rule option in the engine, and how options of several rules combine."""

from __future__ import annotations

from casegate.routing.engine import Edits, TargetKind, Verdict
from tests.routing.test_engine import (
    ANN,
    BOB,
    CAROL,
    CASES,
    CRM,
    HELP,
    OURS,
    TEAM,
    mailbox,
    rule,
    table,
)

ENG = f"eng@{OURS}"  # a group holding TEAM (nested)
SALES_UNIT, EMEA_UNIT = 1, 2


def test_group_rules_match_direct_and_nested_members_only() -> None:
    t = table(rules=[rule(1, match="group", value=ENG, also=[CRM])],
              groups={TEAM: (ANN,), ENG: (TEAM, BOB)})
    assert t.route(ANN).targets == (mailbox(ANN), (t.targets_for(CRM)[0]))  # nested member
    assert t.route(BOB).rules == (1,)  # direct member
    assert t.route(CAROL).rules == ()  # not a member
    assert t.route(ENG).rules == ()  # the group itself is not its own member


def test_account_types_users_groups_and_unrecognized() -> None:
    rules = [rule(1, match="all", also=[CRM], apply_to="groups")]
    t = table(rules=rules, groups={TEAM: (ANN,)})
    assert t.route(TEAM).rules == (1,) and t.route(ANN).rules == ()
    t = table(rules=[rule(1, match="all", rewrite="recipient", to=CASES,
                          apply_to="users,unrecognized")], groups={TEAM: (ANN,)})
    assert t.route(ANN).rules == (1,) and t.route(TEAM).rules == ()
    assert t.route(f"nobody@{OURS}").rules == (1,)


def test_a_suspended_account_counts_as_unrecognized() -> None:
    catch = rule(1, match="all", rewrite="recipient", to=CASES, apply_to="unrecognized")
    active = table(rules=[catch])
    assert active.route(CAROL).targets == (mailbox(CAROL),)
    suspended = table(rules=[catch], accounts=(ANN, BOB))  # the loader leaves CAROL out
    routing = suspended.route(CAROL)
    assert routing.recognized is False
    assert routing.targets[0].kind is TargetKind.DESK
    assert table(accounts=(ANN, BOB)).route(CAROL).verdict is Verdict.UNKNOWN_USER


def test_a_sub_unit_rule_overrides_the_top_level_for_its_accounts_only() -> None:
    top = rule(1, match="all", rewrite="user", to="everyone", apply_to="users",
               subject_prefix="[Top]")
    sub = rule(2, match="all", rewrite="user", to="emea", apply_to="users", unit=EMEA_UNIT,
               subject_prefix="[EMEA]")
    t = table(rules=[top, sub], accounts=(ANN, BOB, CAROL, f"everyone@{OURS}", f"emea@{OURS}"),
              unit_of={ANN: EMEA_UNIT, BOB: SALES_UNIT},
              unit_parents={SALES_UNIT: None, EMEA_UNIT: SALES_UNIT})
    emea = t.route(ANN)
    assert emea.targets == (mailbox(f"emea@{OURS}"),) and emea.edits.subject_prefix == "[EMEA]"
    assert emea.rules == (2, 1)  # both apply; the deeper unit's comes first
    sales = t.route(BOB)
    assert sales.targets == (mailbox(f"everyone@{OURS}"),) and sales.rules == (1,)
    assert t.route(CAROL).rules == (1,)  # top level


def test_address_lists_bypass_or_limit_a_rule_by_sender_or_recipient() -> None:
    lists = {7: ["partner.example", "boss@solarmora.com"]}
    skip = rule(1, value=HELP, rewrite="recipient", to=CASES, sender_list=7,
                sender_list_mode="bypass")
    only = rule(2, value=f"vip@{OURS}", rewrite="recipient", to=CASES, sender_list=7,
                sender_list_mode="only")
    t = table(rules=[skip, only], address_lists=lists)
    assert t.route(HELP, sender="dana@customer.example").rules == (1,)
    assert t.route(HELP, sender="joe@mail.partner.example").verdict is Verdict.UNKNOWN_USER
    assert t.route(f"vip@{OURS}", sender="Boss@Solarmora.com").rules == (2,)
    assert t.route(f"vip@{OURS}", sender="dana@customer.example").rules == ()
    by_recipient = rule(3, match="all", apply_to="all", subject_prefix="[x]",
                        recipient_list=7, recipient_list_mode="only")
    t = table(rules=[by_recipient], address_lists={7: [ANN]})
    assert t.route(ANN).edits.subject_prefix == "[x]" and t.route(BOB).rules == ()


def test_single_valued_settings_come_from_the_highest_priority_rule() -> None:
    first = rule(1, match="pattern", value=r"help.*@solarmora\.com", rewrite="recipient",
                 to=ANN, subject_prefix="[First]", route="smtp:first.example:25",
                 original_recipient_header="X-First", custom_headers=[("X-A", "1")])
    second = rule(2, value=HELP, rewrite="recipient", to=BOB, subject_prefix="[Second]",
                  route="smtp:second.example:25", original_recipient_header="X-Second",
                  custom_headers=[("X-B", "2"), ("X-A", "1")], also=[CAROL],
                  remove_attachments=True, require_tls=True, spam_headers=True)
    routing = table(rules=[first, second]).route(HELP)
    assert routing.rules == (1, 2)
    assert routing.targets[0].address == ANN and routing.targets[0].relay == (
        "smtp:first.example:25")
    assert routing.targets[1:] == (mailbox(CAROL),)  # added recipients accumulate
    assert routing.edits == Edits((("X-A", "1"), ("X-B", "2")), "X-First", True, "[First]",
                                  True, True)


def test_a_reject_rule_placed_last_still_rejects() -> None:
    t = table(rules=[rule(1, value=HELP, rewrite="recipient", to=CASES, bypass=True),
                     rule(9, match="pattern", value=".*@solarmora\\.com", action="reject",
                          reject_text="Closed")])
    routing = t.route(HELP)
    assert routing.verdict is Verdict.REJECT and routing.reason == "Closed"


def test_added_recipients_are_not_matched_again() -> None:
    t = table(rules=[rule(1, value=HELP, also=[f"copy@{OURS}"], rewrite="recipient", to=ANN),
                     rule(2, value=f"copy@{OURS}", rewrite="recipient", to=BOB)],
              accounts=(ANN, BOB, f"copy@{OURS}"))
    assert [t.address for t in t.route(HELP).targets] == [ANN, f"copy@{OURS}"]


def test_written_edits_hold_the_original_recipient_and_the_verdicts() -> None:
    edits = Edits((("X-Team", "support"),), "X-Original-Rcpt", True, "[Ext]", True, True)
    written = edits.written(HELP, spam=True, spam_reason="GTUBE", phishing="shown name")
    assert written.to_json() == {
        "headers": [["X-Team", "support"], ["X-Original-Rcpt", HELP],
                    ["X-Casegate-Spam", "yes"], ["X-Casegate-Spam-Reason", "GTUBE"],
                    ["X-Casegate-Phishing", "yes"],
                    ["X-Casegate-Phishing-Reason", "shown name"]],
        "subject_prefix": "[Ext]", "remove_attachments": True, "require_tls": True}
    assert Edits().written(HELP, spam=False).to_json() == {}


def test_rate_limit_comes_from_the_first_rule_that_sets_one() -> None:
    t = table(rules=[rule(1, value=HELP, rewrite="recipient", to=CASES),
                     rule(2, match="all", rate_limit=5, also=[CRM], apply_to="users")])
    assert t.route(HELP).rate_limit is None  # the second rule is for users only
    t = table(rules=[rule(1, value=HELP, rewrite="recipient", to=CASES, rate_limit=30)])
    assert t.route(HELP).rate_limit == 30


def test_address_lists_compare_addresses_as_routing_does() -> None:
    lists = {7: ["xn--bcher-kva.example", f"ann@{OURS}"]}
    skip = rule(1, match="all", apply_to="all", subject_prefix="[x]", sender_list=7,
                sender_list_mode="bypass")
    only = rule(2, match="all", apply_to="all", subject_prefix="[y]", recipient_list=7,
                recipient_list_mode="only")
    t = table(rules=[skip, only], address_lists=lists)
    assert t.route(BOB, sender="a@Bücher.example").rules == ()  # the list names its A-label
    assert t.route(f"ann+news@{OURS}", sender="x@example.net").rules == (1, 2)
