"""The rule simulator tells what the gateway would do, from the same engine."""

from __future__ import annotations

import pytest

from casegate.desk.services import add_intake
from casegate.desk.vocabulary import IntakeKind
from casegate.directory.services import add_account, add_domain
from casegate.routing.services import RuleError, RuleSpec, add_rule
from casegate.routing.simulator import describe, simulate
from casegate.routing.snapshot import load_table
from casegate.routing.vocabulary import MatchType, Rewrite

pytestmark = pytest.mark.django_db


def test_simulation_lists_matching_rules_overrides_spam_and_final_recipients() -> None:
    add_domain("solarmora.com")
    add_account("alex@solarmora.com")
    add_intake(IntakeKind.CASE, "cases@solarmora.com")
    first = add_rule(RuleSpec(match_type=MatchType.ADDRESS, match_value="help@solarmora.com",
                              rewrite=Rewrite.RECIPIENT,
                              rewrite_value="cases@solarmora.com", bypass_spam=True))
    second = add_rule(RuleSpec(match_type=MatchType.PATTERN, match_value="help.*@solarmora.com",
                               rewrite=Rewrite.RECIPIENT,
                               rewrite_value="alex@solarmora.com",
                               also_deliver=["alex@solarmora.com"]))
    table = load_table()
    result = simulate(table, "Help@Solarmora.com")
    assert [(r["id"], r["applied"]) for r in result["rules"]] == [(first.pk, True),
                                                                  (second.pk, True)]
    assert "overridden" in result["rules"][1]
    assert result["final"] == [{"address": "cases@solarmora.com", "kind": "desk"},
                               {"address": "alex@solarmora.com", "kind": "mailbox"}]
    spam = simulate(table, "help@solarmora.com", spam=True)
    assert [r["applied"] for r in spam["rules"]] == [True, False]
    assert spam["final"] == [{"address": "cases@solarmora.com", "kind": "desk"}]
    assert "spam" in describe(spam)
    assert simulate(table, "x@elsewhere.example")["disposition"] == "relay-denied"
    assert simulate(table, "not an address")["disposition"] == "invalid"
    assert simulate(table, "nobody@solarmora.com")["disposition"] == "unknown-user"


def test_a_reject_rule_wins_wherever_it_stands_and_quarantine_rules_hold() -> None:
    add_domain("solarmora.com")
    add_account("alex@solarmora.com")
    add_rule(RuleSpec(match_type=MatchType.PATTERN, match_value="ops.*@solarmora.com",
                      rewrite=Rewrite.RECIPIENT, rewrite_value="alex@solarmora.com"))
    last = add_rule(RuleSpec(match_type=MatchType.ADDRESS, match_value="ops@solarmora.com",
                             action="reject", reject_text="Write to help@ instead"))
    held = add_rule(RuleSpec(match_type=MatchType.ADDRESS, match_value="opsx@solarmora.com",
                             action="quarantine"))
    table = load_table()
    rejected = table.route("ops@solarmora.com")
    assert (rejected.verdict.value, rejected.reason) == ("reject", "Write to help@ instead")
    assert table.route("ops@solarmora.com", spam=True).verdict.value == "reject"
    assert table.route("opsx@solarmora.com").verdict.value == "quarantine"
    assert table.route("opsx@solarmora.com", releasing=True).targets[0].address == (
        "alex@solarmora.com")
    result = simulate(table, "ops@solarmora.com")
    assert result["disposition"] == "reject"
    assert [r["id"] for r in result["rules"] if r["applied"]] == [last.pk]
    assert simulate(table, "opsx@solarmora.com")["rules"][-1]["changes"] == [
        "send to quarantine"]
    assert held.action == "quarantine"
    for bad in (RuleSpec(match_type=MatchType.ADDRESS, match_value="a@solarmora.com",
                         action="reject", rewrite=Rewrite.RECIPIENT,
                         rewrite_value="alex@solarmora.com"),
                RuleSpec(match_type=MatchType.ADDRESS, match_value="a@solarmora.com",
                         action="reject", reject_text="no caf\u00e9 here")):
        with pytest.raises(RuleError):
            add_rule(bad)
    folded = add_rule(RuleSpec(match_type=MatchType.ADDRESS, match_value="b@solarmora.com",
                               action="reject", reject_text="one\r\n550 two"))
    assert folded.reject_text == "one 550 two"  # no line break can reach the SMTP reply


def test_postmaster_goes_to_the_first_super_administrator_with_an_email_address() -> None:
    from django.contrib.auth import get_user_model

    add_domain("solarmora.com")
    add_account("alex@solarmora.com")
    unset = simulate(load_table(), "postmaster")
    assert unset["disposition"] == "quarantine" and "CASEGATE_POSTMASTER" in unset["reason"]
    users = get_user_model().objects
    users.create_superuser("admin", "", "x")  # no address: skipped
    users.create_superuser("chief", "alex@solarmora.com", "x")
    users.create_superuser("deputy", "deputy@elsewhere.example", "x")
    table = load_table()
    for recipient in ("Postmaster", "postmaster@solarmora.com", "abuse@solarmora.com"):
        result = simulate(table, recipient)
        assert result["final"] == [{"address": "alex@solarmora.com", "kind": "mailbox"}]
        assert "alex@solarmora.com" in describe(result)


def test_a_user_change_reloads_the_tables_and_a_login_does_not() -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import update_last_login

    from casegate.routing.models import RoutingVersion

    def version() -> int:
        row = RoutingVersion.objects.filter(pk=1).first()
        return row.version if row else 0

    before = version()
    chief = get_user_model().objects.create_superuser("chief", "", "x")
    assert version() > before
    before = version()
    update_last_login(None, chief)
    assert version() == before
    chief.email = "chief@solarmora.com"
    chief.save()
    assert version() > before
