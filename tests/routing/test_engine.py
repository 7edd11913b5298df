"""The pure routing engine: tables built by hand, one envelope recipient at a time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from casegate.routing.engine import (
    CompiledRule,
    RoutingTable,
    Target,
    TargetKind,
    Verdict,
    build_table,
    compile_rule,
)

OURS = "solarmora.com"
ANN = f"ann@{OURS}"
BOB = f"bob@{OURS}"
CAROL = f"carol@{OURS}"
TEAM = f"team@{OURS}"
HELP = f"help@{OURS}"
SALES = f"sales@{OURS}"
CASES = f"cases@{OURS}"
CRM = "inbound@crm.example"
PARTNER = "desk@partner.example"
DESK_INTAKE = "support@v1su0245ewejzhe7.case.desk.casegate.localhost"


def rule(
    id: int,
    *,
    position: int | None = None,
    match: str = "address",
    value: str = "",
    rewrite: str = "",
    to: str = "",
    bypass: bool = False,
    also: Iterable[str] = (),
    apply_to: str = "all",
    **options: Any,
) -> CompiledRule:
    return compile_rule(
        id=id,
        position=id if position is None else position,
        match_type=match,
        match_value=value,
        rewrite=rewrite,
        rewrite_value=to,
        bypass_spam=bypass,
        also_deliver=list(also),
        apply_to=apply_to,
        **options,
    )


def table(
    *,
    rules: Iterable[CompiledRule] = (),
    domains: Iterable[str] = (OURS,),
    accounts: Iterable[str] = (ANN, BOB, CAROL),
    groups: dict[str, tuple[str, ...]] | None = None,
    intakes: dict[str, int] | None = None,
    relays: dict[str, str] | None = None,
    delimiter: str = "+",
    **directory: Any,
) -> RoutingTable:
    return build_table(
        version=1,
        domains=domains,
        accounts=accounts,
        groups={TEAM: (ANN, BOB)} if groups is None else groups,
        intakes={CASES: 1} if intakes is None else intakes,
        rules=rules,
        mailbox_relays=relays,
        delimiter=delimiter,
        **directory,
    )


def mailbox(address: str) -> Target:
    return Target(address, TargetKind.MAILBOX)


def remote(address: str, relay: str = "") -> Target:
    return Target(address, TargetKind.REMOTE, relay=relay)


def desk(address: str, intake_id: int) -> Target:
    return Target(address, TargetKind.DESK, intake_id)


# --- what the gateway accepts at all ---------------------------------------------------


def test_foreign_domain_is_relay_denied() -> None:
    routing = table().route("someone@elsewhere.example")
    assert routing.verdict is Verdict.RELAY_DENIED
    assert routing.targets == ()


def test_foreign_domain_is_relay_denied_even_when_a_match_all_rule_exists() -> None:
    t = table(rules=[rule(1, match="all", rewrite="recipient", to=ANN)])
    assert t.route("someone@elsewhere.example").verdict is Verdict.RELAY_DENIED


def test_unknown_user_at_our_domain_is_refused() -> None:
    routing = table().route(f"nobody@{OURS}")
    assert routing.verdict is Verdict.UNKNOWN_USER
    assert routing.recognized is False
    assert routing.reason


def test_invalid_recipient_is_reported_invalid() -> None:
    routing = table().route("not an address")
    assert routing.verdict is Verdict.INVALID
    assert "not a mail address" in routing.reason


def test_recipient_is_normalised_before_routing() -> None:
    routing = table().route("<Ann@SolarMora.COM>")
    assert routing.recipient == ANN
    assert routing.targets == (mailbox(ANN),)


def test_idn_domain_is_compared_as_a_labels() -> None:
    t = table(domains=["xn--bcher-kva.example"], accounts=["ann@xn--bcher-kva.example"])
    routing = t.route("Ann@Bücher.Example")
    assert routing.verdict is Verdict.ACCEPT
    assert routing.targets == (mailbox("ann@xn--bcher-kva.example"),)


# --- recognized addresses --------------------------------------------------------------


def test_account_is_delivered_to_its_mailbox() -> None:
    routing = table().route(ANN)
    assert routing.verdict is Verdict.ACCEPT
    assert routing.recognized is True
    assert routing.targets == (mailbox(ANN),)
    assert routing.junk is False


def test_group_is_delivered_to_each_member() -> None:
    routing = table().route(TEAM)
    assert routing.recognized is True
    assert routing.targets == (mailbox(ANN), mailbox(BOB))


def test_intake_is_delivered_to_the_desk() -> None:
    routing = table(intakes={CASES: 7}).route(CASES)
    assert routing.recognized is True
    assert routing.targets == (desk(CASES, 7),)


def test_intake_outside_our_domains_is_accepted() -> None:
    routing = table(intakes={DESK_INTAKE: 3}).route(DESK_INTAKE)
    assert routing.verdict is Verdict.ACCEPT
    assert routing.targets == (desk(DESK_INTAKE, 3),)


def test_user_plus_tag_reaches_the_account() -> None:
    routing = table().route(f"ann+invoices@{OURS}")
    assert routing.verdict is Verdict.ACCEPT
    assert routing.recognized is True
    assert routing.targets == (mailbox(ANN),)


def test_user_plus_tag_reaches_the_intake() -> None:
    routing = table(intakes={CASES: 4}).route(f"cases+vip@{OURS}")
    assert routing.targets == (desk(CASES, 4),)


def test_user_plus_tag_reaches_the_group() -> None:
    assert table().route(f"team+x@{OURS}").targets == (mailbox(ANN), mailbox(BOB))


def test_custom_delimiter_is_used_for_tags() -> None:
    t = table(delimiter="-")
    assert t.route(f"ann-invoices@{OURS}").targets == (mailbox(ANN),)
    assert t.route(f"ann+invoices@{OURS}").verdict is Verdict.UNKNOWN_USER


def test_unknown_user_with_tag_is_refused() -> None:
    assert table().route(f"nobody+x@{OURS}").verdict is Verdict.UNKNOWN_USER


# --- groups ----------------------------------------------------------------------------


def test_nested_groups_are_expanded() -> None:
    inner = f"inner@{OURS}"
    t = table(groups={TEAM: (ANN, inner), inner: (BOB, CAROL)})
    assert t.route(TEAM).targets == (mailbox(ANN), mailbox(BOB), mailbox(CAROL))


def test_group_cycle_terminates_and_delivers_each_member_once() -> None:
    other = f"other@{OURS}"
    t = table(groups={TEAM: (ANN, other), other: (BOB, TEAM)})
    assert t.route(TEAM).targets == (mailbox(ANN), mailbox(BOB))
    assert t.route(other).targets == (mailbox(BOB), mailbox(ANN))


def test_group_member_in_two_nested_groups_is_delivered_once() -> None:
    a, b = f"a@{OURS}", f"b@{OURS}"
    t = table(groups={TEAM: (a, b), a: (ANN,), b: (ANN, BOB)})
    assert t.route(TEAM).targets == (mailbox(ANN), mailbox(BOB))


def test_group_member_can_be_remote_or_an_intake() -> None:
    t = table(groups={TEAM: (ANN, PARTNER, CASES)}, intakes={CASES: 2})
    assert t.route(TEAM).targets == (mailbox(ANN), remote(PARTNER), desk(CASES, 2))


def test_unknown_local_group_member_is_skipped() -> None:
    t = table(groups={TEAM: (ANN, f"gone@{OURS}")})
    assert t.route(TEAM).targets == (mailbox(ANN),)


def test_group_without_deliverable_members_is_unknown_user() -> None:
    t = table(groups={TEAM: (f"gone@{OURS}",)})
    assert t.route(TEAM).verdict is Verdict.UNKNOWN_USER


def test_group_members_are_expanded_once_per_group() -> None:
    t = table()
    assert t.group_members(TEAM) is t.group_members(TEAM)


# --- matching ----------------------------------------------------------------------------


def test_forwarding_address_is_rewritten_to_the_intake() -> None:
    t = table(rules=[rule(1, value=HELP, rewrite="recipient", to=CASES)], intakes={CASES: 9})
    routing = t.route(HELP)
    assert routing.verdict is Verdict.ACCEPT
    assert routing.recognized is False
    assert routing.rules == (1,)
    assert routing.targets == (desk(CASES, 9),)


def test_forwarding_address_to_remote_crm() -> None:
    t = table(rules=[rule(1, value=HELP, rewrite="recipient", to=CRM)])
    assert t.route(HELP).targets == (remote(CRM),)


def test_exact_rule_matches_the_tagged_address() -> None:
    t = table(rules=[rule(1, value=HELP, rewrite="recipient", to=CRM)])
    routing = t.route(f"help+billing@{OURS}")
    assert routing.rules == (1,)
    assert routing.targets == (remote(CRM),)


def test_pattern_rule_must_match_the_whole_address() -> None:
    t = table(rules=[rule(1, match="pattern", value=r"help", rewrite="recipient", to=CRM)])
    assert t.route(HELP).verdict is Verdict.UNKNOWN_USER


def test_pattern_rule_matches_case_insensitively() -> None:
    t = table(
        rules=[rule(1, match="pattern", value=r"HELP-[A-Z]+@SOLARMORA\.COM", rewrite="recipient",
                    to=CRM)]
    )
    routing = t.route(f"help-de@{OURS}")
    assert routing.rules == (1,)
    assert routing.targets == (remote(CRM),)


def test_pattern_rule_does_not_match_other_addresses() -> None:
    t = table(rules=[rule(1, match="pattern", value=r"help-.*@solarmora\.com",
                          rewrite="recipient", to=CRM)])
    assert t.route(f"sales-de@{OURS}").verdict is Verdict.UNKNOWN_USER


def test_match_all_rule_catches_unknown_addresses() -> None:
    t = table(rules=[rule(1, match="all", rewrite="recipient", to=CASES,
                          apply_to="unrecognized")])
    routing = t.route(f"whoever@{OURS}")
    assert routing.verdict is Verdict.ACCEPT
    assert routing.targets == (desk(CASES, 1),)


def test_match_all_unrecognized_leaves_accounts_alone() -> None:
    t = table(rules=[rule(1, match="all", rewrite="recipient", to=CASES,
                          apply_to="unrecognized")])
    routing = t.route(ANN)
    assert routing.rules == ()
    assert routing.targets == (mailbox(ANN),)


def test_apply_to_recognized_skips_unknown_addresses() -> None:
    t = table(rules=[rule(1, match="all", also=[CRM], apply_to="recognized")])
    assert t.route(f"whoever@{OURS}").verdict is Verdict.UNKNOWN_USER
    routing = t.route(ANN)
    assert routing.rules == (1,)
    assert routing.targets == (mailbox(ANN), remote(CRM))


def test_apply_to_all_applies_to_both() -> None:
    t = table(rules=[rule(1, match="pattern", value=r".*@solarmora\.com", also=[CRM])])
    assert t.route(ANN).targets == (mailbox(ANN), remote(CRM))
    assert t.route(f"whoever@{OURS}").targets == (remote(CRM),)


def test_all_matching_rules_apply_in_position_order() -> None:
    t = table(
        rules=[
            rule(5, position=3, match="all", also=[CAROL]),
            rule(6, position=1, value=HELP, also=[ANN]),
            rule(7, position=2, match="pattern", value=r"help@.*", also=[BOB]),
        ]
    )
    routing = t.route(HELP)
    assert routing.rules == (6, 7, 5)
    assert routing.targets == (mailbox(ANN), mailbox(BOB), mailbox(CAROL))


def test_equal_positions_are_ordered_by_id() -> None:
    t = table(rules=[rule(9, position=1, match="all", also=[ANN]),
                     rule(3, position=1, value=HELP, also=[BOB])])
    assert t.route(HELP).rules == (3, 9)


def test_higher_priority_rewrite_wins() -> None:
    t = table(
        rules=[
            rule(1, position=2, value=HELP, rewrite="recipient", to=ANN),
            rule(2, position=1, match="pattern", value=r"help@.*", rewrite="recipient", to=BOB),
        ]
    )
    routing = t.route(HELP)
    assert routing.rules == (2, 1)
    assert routing.targets == (mailbox(BOB),)


def test_lower_priority_rewrite_still_adds_its_also_deliver() -> None:
    t = table(
        rules=[
            rule(1, value=HELP, rewrite="recipient", to=ANN),
            rule(2, match="pattern", value=r"help@.*", rewrite="recipient", to=BOB,
                 also=[CRM]),
        ]
    )
    assert t.route(HELP).targets == (mailbox(ANN), remote(CRM))


def test_also_deliver_accumulates_over_rules() -> None:
    t = table(
        rules=[
            rule(1, value=SALES, rewrite="recipient", to=CASES, also=[ANN]),
            rule(2, match="pattern", value=r"sales@.*", also=[CRM, BOB]),
        ]
    )
    assert t.route(SALES).targets == (desk(CASES, 1), mailbox(ANN), remote(CRM), mailbox(BOB))


def test_also_deliver_is_deduplicated() -> None:
    t = table(
        rules=[
            rule(1, value=SALES, also=[ANN, CRM]),
            rule(2, match="pattern", value=r"sales@.*", also=["Ann@SolarMora.com", CRM]),
        ]
    )
    assert t.route(SALES).targets == (mailbox(ANN), remote(CRM))


def test_also_deliver_equal_to_the_new_recipient_is_delivered_once() -> None:
    t = table(rules=[rule(1, value=SALES, rewrite="recipient", to=ANN, also=[ANN])])
    assert t.route(SALES).targets == (mailbox(ANN),)


def test_recognized_address_with_also_deliver_keeps_its_own_copy() -> None:
    t = table(rules=[rule(1, match="pattern", value=r"ann@.*", also=[CRM])])
    assert t.route(ANN).targets == (mailbox(ANN), remote(CRM))


def test_unrecognized_address_with_only_also_deliver_is_not_kept() -> None:
    t = table(rules=[rule(1, value=SALES, also=[ANN, CRM])])
    routing = t.route(SALES)
    assert routing.verdict is Verdict.ACCEPT
    assert routing.targets == (mailbox(ANN), remote(CRM))


def test_replace_user_keeps_the_domain() -> None:
    t = table(rules=[rule(1, value=HELP, rewrite="user", to="Ann")])
    assert t.route(HELP).targets == (mailbox(ANN),)


def test_replace_domain_keeps_the_user() -> None:
    t = table(rules=[rule(1, value=HELP, rewrite="domain", to="CRM.Example")])
    assert t.route(HELP).targets == (remote("help@crm.example"),)


def test_replace_domain_with_idn_uses_a_labels() -> None:
    t = table(rules=[rule(1, value=HELP, rewrite="domain", to="Bücher.Example")])
    assert t.route(HELP).targets == (remote("help@xn--bcher-kva.example"),)


def test_replace_domain_on_pattern_rule_keeps_each_user() -> None:
    t = table(rules=[rule(1, match="pattern", value=r"(help|sales)@solarmora\.com",
                          rewrite="domain", to="crm.example")])
    assert t.route(SALES).targets == (remote("sales@crm.example"),)
    assert t.route(HELP).targets == (remote("help@crm.example"),)


def test_rewrite_to_unknown_local_address_is_unknown_user() -> None:
    t = table(rules=[rule(1, value=HELP, rewrite="recipient", to=f"ghost@{OURS}")])
    assert t.route(HELP).verdict is Verdict.UNKNOWN_USER


def test_rewrite_to_a_group_expands_the_group() -> None:
    t = table(rules=[rule(1, value=HELP, rewrite="recipient", to=TEAM)])
    assert t.route(HELP).targets == (mailbox(ANN), mailbox(BOB))


# --- rules are not applied again --------------------------------------------------------


def test_rewritten_recipient_is_not_matched_by_rules_again() -> None:
    t = table(
        rules=[
            rule(1, value=HELP, rewrite="recipient", to=ANN),
            rule(2, match="pattern", value=r"ann@.*", rewrite="recipient", to=CRM),
        ]
    )
    routing = t.route(HELP)
    assert routing.rules == (1,)
    assert routing.targets == (mailbox(ANN),)


def test_rewrite_into_another_forwarding_address_does_not_chain() -> None:
    t = table(
        rules=[
            rule(1, value=HELP, rewrite="recipient", to=SALES),
            rule(2, value=SALES, rewrite="recipient", to=HELP),
        ]
    )
    routing = t.route(HELP)
    assert routing.verdict is Verdict.UNKNOWN_USER
    assert routing.rules == (1,)


def test_also_deliver_address_is_not_matched_by_rules_again() -> None:
    t = table(
        rules=[
            rule(1, value=SALES, rewrite="recipient", to=CASES, also=[BOB]),
            rule(2, match="pattern", value=r"bob@.*", also=[CRM]),
        ]
    )
    assert t.route(SALES).targets == (desk(CASES, 1), mailbox(BOB))


# --- mailbox relays ----------------------------------------------------------------------


def test_account_on_relayed_domain_becomes_a_remote_target() -> None:
    t = table(relays={OURS: "lmtp:127.0.0.1:24"})
    routing = t.route(ANN)
    assert routing.verdict is Verdict.ACCEPT
    assert routing.targets == (remote(ANN, relay="lmtp:127.0.0.1:24"),)


def test_rewrite_to_account_on_relayed_domain_is_relayed() -> None:
    t = table(relays={OURS: "smtp:mail.internal:25"},
              rules=[rule(1, value=HELP, rewrite="recipient", to=ANN)])
    assert t.route(HELP).targets == (remote(ANN, relay="smtp:mail.internal:25"),)


def test_relay_applies_only_to_its_domain() -> None:
    other = "other.example"
    t = table(domains=[OURS, other], accounts=[ANN, f"zoe@{other}"],
              relays={other: "smtp:mail.internal:25"})
    assert t.route(ANN).targets == (mailbox(ANN),)
    assert t.route(f"zoe@{other}").targets == (remote(f"zoe@{other}", "smtp:mail.internal:25"),)


def test_intake_is_not_relayed() -> None:
    t = table(relays={OURS: "smtp:mail.internal:25"}, intakes={CASES: 5})
    assert t.route(CASES).targets == (desk(CASES, 5),)


# --- spam ----------------------------------------------------------------------------------


def test_spam_for_an_account_goes_to_junk() -> None:
    routing = table().route(ANN, spam=True)
    assert routing.verdict is Verdict.ACCEPT
    assert routing.junk is True
    assert routing.targets == (mailbox(ANN),)


def test_spam_for_a_tagged_account_goes_to_junk() -> None:
    routing = table().route(f"ann+news@{OURS}", spam=True)
    assert routing.junk is True
    assert routing.targets == (mailbox(ANN),)


def test_spam_for_an_account_skips_rules_without_bypass() -> None:
    t = table(rules=[rule(1, match="pattern", value=r"ann@.*", also=[CRM])])
    routing = t.route(ANN, spam=True)
    assert routing.junk is True
    assert routing.rules == ()
    assert routing.targets == (mailbox(ANN),)


def test_spam_to_a_forwarding_address_is_quarantined() -> None:
    t = table(rules=[rule(1, value=HELP, rewrite="recipient", to=CASES)])
    routing = t.route(HELP, spam=True)
    assert routing.verdict is Verdict.QUARANTINE
    assert routing.targets == ()
    assert "spam" in routing.reason


def test_spam_to_a_group_is_quarantined() -> None:
    assert table().route(TEAM, spam=True).verdict is Verdict.QUARANTINE


def test_spam_to_an_intake_is_quarantined() -> None:
    assert table().route(CASES, spam=True).verdict is Verdict.QUARANTINE


def test_spam_to_an_unknown_user_is_still_refused() -> None:
    assert table().route(f"nobody@{OURS}", spam=True).verdict is Verdict.UNKNOWN_USER


def test_spam_with_a_bypass_rule_is_routed_normally() -> None:
    t = table(rules=[rule(1, value=HELP, rewrite="recipient", to=CASES, bypass=True)])
    routing = t.route(HELP, spam=True)
    assert routing.verdict is Verdict.ACCEPT
    assert routing.junk is False
    assert routing.rules == (1,)
    assert routing.targets == (desk(CASES, 1),)


def test_spam_uses_only_the_bypass_rules() -> None:
    t = table(
        rules=[
            rule(1, value=HELP, rewrite="recipient", to=ANN),
            rule(2, match="pattern", value=r"help@.*", rewrite="recipient", to=CRM,
                 bypass=True),
        ]
    )
    assert t.route(HELP).targets == (mailbox(ANN),)
    routing = t.route(HELP, spam=True)
    assert routing.rules == (2,)
    assert routing.targets == (remote(CRM),)


def test_not_spam_ignores_the_bypass_flag() -> None:
    t = table(rules=[rule(1, value=HELP, rewrite="recipient", to=CASES, bypass=True)])
    routing = t.route(HELP)
    assert routing.verdict is Verdict.ACCEPT
    assert routing.junk is False


# --- compile_rule ----------------------------------------------------------------------------


def test_compile_rule_normalises_addresses() -> None:
    r = rule(1, value=HELP, rewrite="recipient", to="Ann@SolarMora.COM",
             also=["<Bob@SolarMora.com>"])
    assert r.rewrite_value == ANN
    assert r.also_deliver == (BOB,)


def test_compile_rule_lower_cases_the_new_user() -> None:
    assert rule(1, value=HELP, rewrite="user", to="Ann").rewrite_value == "ann"


def test_compile_rule_stores_the_domain_as_a_labels() -> None:
    r = rule(1, value=HELP, rewrite="domain", to="Bücher.Example")
    assert r.rewrite_value == "xn--bcher-kva.example"


def test_tagged_intake_outside_the_company_domains_reaches_the_desk() -> None:
    table = build_table(
        version=1, domains={"solarmora.com"}, accounts=(), groups={},
        intakes={"support@tok.case.desk.casegate.localhost": 7}, rules=())
    routing = table.route("support+vip@tok.case.desk.casegate.localhost")
    assert routing.verdict is Verdict.ACCEPT
    assert routing.targets[0].intake_id == 7


# --- postmaster and abuse (RFC 5321 4.5.1) ---------------------------------------------


def test_postmaster_without_a_domain_goes_to_the_postmaster_address() -> None:
    t = table(role_addresses={"postmaster": ANN, "abuse": "Admin@Elsewhere.example"})
    for written in ("postmaster", "Postmaster", "POSTMASTER"):
        routing = t.route(written)
        assert routing.verdict is Verdict.ACCEPT and routing.targets == (mailbox(ANN),)
    assert t.route(f"postmaster@{OURS}").targets == (mailbox(ANN),)
    assert t.route(f"Abuse@{OURS}").targets == (remote("admin@elsewhere.example"),)
    assert t.destinations(f"postmaster@{OURS}") == (mailbox(ANN),)


def test_an_account_or_rule_for_postmaster_keeps_precedence() -> None:
    own = table(accounts=(ANN, BOB, f"postmaster@{OURS}"), role_addresses={"postmaster": ANN})
    assert own.route(f"postmaster@{OURS}").targets == (mailbox(f"postmaster@{OURS}"),)
    ruled = table(rules=[rule(1, value=f"abuse@{OURS}", rewrite="recipient", to=BOB)],
                  role_addresses={"abuse": ANN})
    assert ruled.route(f"abuse@{OURS}").targets == (mailbox(BOB),)


def test_role_mail_is_held_when_no_address_takes_it_and_never_refused() -> None:
    unset = table().route("postmaster")
    assert unset.verdict is Verdict.QUARANTINE and "CASEGATE_POSTMASTER" in unset.reason
    nowhere = table(role_addresses={"postmaster": f"postmaster@{OURS}"})
    held = nowhere.route(f"postmaster@{OURS}")
    assert held.verdict is Verdict.QUARANTINE and "takes no mail" in held.reason
    spam = table(role_addresses={"postmaster": ANN}).route("postmaster", spam=True)
    assert spam.verdict is Verdict.QUARANTINE
    assert table().route("abuse@elsewhere.example").verdict is Verdict.RELAY_DENIED


def test_no_rule_refuses_or_holds_postmaster_and_abuse() -> None:
    closed = table(rules=[rule(1, match="all", action="reject", apply_to="unrecognized"),
                          rule(2, match="pattern", value=r"abuse@.*", action="quarantine")],
                   role_addresses={"postmaster": ANN, "abuse": BOB})
    assert closed.route(f"dave@{OURS}").verdict is Verdict.REJECT
    assert closed.route(f"postmaster@{OURS}").targets == (mailbox(ANN),)
    assert closed.route(f"abuse@{OURS}").targets == (mailbox(BOB),)
    # an abuse@ account keeps its mail past a rule that would refuse or hold it
    own = table(accounts=(ANN, BOB, f"abuse@{OURS}"), role_addresses={"abuse": BOB},
                rules=[rule(1, match="all", action="reject", apply_to="all")])
    assert own.route(f"abuse@{OURS}").targets == (mailbox(f"abuse@{OURS}"),)
    assert own.route(f"abuse@{OURS}", spam=True).verdict is Verdict.QUARANTINE


# --- groups and sender-chosen routing ------------------------------------------------------


def test_a_group_whose_member_resolves_back_to_it_expands_once() -> None:
    # x+y@ (a member whose account went) is read as x@, the group itself
    looped = table(groups={f"x@{OURS}": (f"x+y@{OURS}", ANN)})
    assert looped.route(f"x@{OURS}").targets == (mailbox(ANN),)


def test_the_percent_hack_and_bang_paths_are_not_routed_on() -> None:
    t = table(rules=[rule(1, match="all", rewrite="domain", to="crm.example",
                          apply_to="unrecognized")])
    assert t.route(f"dana@{OURS}").targets == (Target("dana@crm.example", TargetKind.REMOTE),)
    for chosen in (f"victim%evil.example@{OURS}", f"evil.example!victim@{OURS}"):
        refused = t.route(chosen)
        assert refused.verdict is Verdict.INVALID and "% or !" in refused.reason
    assert table(accounts=(f"a%b@{OURS}",)).route(f"a%b@{OURS}").verdict is Verdict.ACCEPT


def test_a_pattern_sees_the_address_without_its_tag_and_in_u_labels() -> None:
    t = table(domains=(OURS, "xn--bcher-kva.example"), rules=[
        rule(1, match="pattern", value=r"help@solarmora\.com", rewrite="recipient", to=CRM),
        rule(2, match="pattern", value=r"help-.*@bücher\.example", rewrite="recipient",
             to=CRM)])
    assert t.route(f"help+x@{OURS}").targets == (Target(CRM, TargetKind.REMOTE),)
    assert t.route("help-1@bücher.example").targets == (Target(CRM, TargetKind.REMOTE),)
    assert t.route("help-1@xn--bcher-kva.example").rules == (2,)
