"""Rule sets as data: export, all-or-nothing import with line numbers, versions, rollback."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext

from casegate.desk.services import add_intake
from casegate.desk.vocabulary import IntakeKind
from casegate.directory.services import add_account, add_domain, add_group, add_unit
from casegate.routing.lists import save_list
from casegate.routing.models import RoutingVersion, Rule, RuleVersion
from casegate.routing.routes import save_route
from casegate.routing.ruleset import RulesetError, export_rules, import_rules
from casegate.routing.services import RuleSpec, add_rule, move_rule, remove_rule, set_enabled
from casegate.routing.snapshot import load_table
from casegate.routing.versions import VersionError, history, rollback

pytestmark = pytest.mark.django_db

OURS = "solarmora.com"
GOOD = """\
rules:
  - match: address
    value: help@solarmora.com
    change: recipient
    to: cases@solarmora.com
    also_deliver: [ann@solarmora.com]
    bypass_spam: true
  - match: group
    value: team@solarmora.com
    subject_prefix: "[Team]"
    custom_headers: {X-Team: support}
    unit: /Sales
    route: crm
    sender_list: partners
    sender_list_mode: bypass
"""


@pytest.fixture(autouse=True)
def company() -> None:
    add_domain(OURS)
    add_account(f"ann@{OURS}")
    add_group(f"team@{OURS}", [f"ann@{OURS}"])
    add_intake(IntakeKind.CASE, address=f"cases@{OURS}")
    add_unit("/Sales")
    save_list("partners", ["partner.example"])
    save_route("crm", "127.0.0.1:2600")


def rules() -> list[tuple[str, str]]:
    return list(Rule.objects.order_by("position").values_list("match_type", "match_value"))


def test_import_then_export_gives_the_same_rules() -> None:
    result = import_rules(GOOD)
    assert result.version is not None and result.rules == 2
    assert "+- match: address" in result.diff
    assert rules() == [("address", f"help@{OURS}"), ("group", f"team@{OURS}")]
    exported = export_rules()
    assert import_rules(exported).diff == ""  # the export is the rule set: nothing changes
    team = Rule.objects.get(match_type="group")
    assert (team.subject_prefix, team.custom_headers, team.route.name, team.org_unit.path,
            team.sender_list.name) == ("[Team]", [["X-Team", "support"]], "crm", "/Sales",
                                       "partners")


def test_a_file_with_one_bad_rule_changes_nothing_and_names_the_line() -> None:
    add_rule(RuleSpec("pattern", r"old-.*@solarmora\.com", also_deliver=["x@crm.example"]))
    before = rules()
    bad = GOOD + (
        "  - match: address\n"
        "    value: nobody-knows@solarmora.com\n"
        "    change: recipient\n"
        "    to: ghost@solarmora.com\n")
    with pytest.raises(RulesetError) as refused:
        import_rules(bad, "rules.yaml")
    assert "rules.yaml:16: the new recipient ghost@solarmora.com is not an account" in str(
        refused.value)
    assert rules() == before
    with pytest.raises(RulesetError, match=r"rules.yaml:4: unknown key 'chnage'"):
        import_rules(GOOD.replace("change: recipient", "chnage: recipient"), "rules.yaml")
    with pytest.raises(RulesetError, match=r"rules.yaml:3: not valid YAML"):
        import_rules("rules:\n  - match: [\n  - x: {\n", "rules.yaml")
    assert rules() == before


def test_a_dry_run_prints_the_diff_and_changes_nothing() -> None:
    add_rule(RuleSpec("pattern", r"old-.*@solarmora\.com", also_deliver=["x@crm.example"]))
    versions = RuleVersion.objects.count()
    result = import_rules(GOOD, dry_run=True)
    assert "-- match: pattern" in result.diff and "+- match: group" in result.diff
    assert rules() == [("pattern", r"old-.*@solarmora\.com")]
    assert RuleVersion.objects.count() == versions


def test_every_change_is_a_version_and_rollback_restores_any_of_them() -> None:
    first = add_rule(RuleSpec("address", f"help@{OURS}", rewrite="recipient",
                              rewrite_value=f"cases@{OURS}"))
    v1 = history()[0].number
    second = add_rule(RuleSpec("pattern", r"sales-.*@solarmora\.com",
                               also_deliver=["x@crm.example"], position=1))
    set_enabled(first.pk, False)
    move_rule(first.pk, 1)
    v4 = history()[0].number
    remove_rule(second.pk)
    assert [v.summary for v in history()[:5]] == [
        f"remove rule #{second.pk}", f"move rule #{first.pk} to position 1",
        f"disable rule #{first.pk}", "add a rule", "add a rule"]
    rollback(v4)
    assert list(Rule.objects.order_by("position").values_list("id", "enabled")) == [
        (first.pk, False), (second.pk, True)]
    rollback(v1)
    assert list(Rule.objects.order_by("position").values_list("id", "enabled")) == [
        (first.pk, True)]
    assert history()[0].summary == f"rollback to version {v1}"
    with pytest.raises(VersionError, match="nothing to roll back"):
        rollback(history()[0].number)
    with pytest.raises(VersionError, match="there is no version 99999"):
        rollback(99999)


def test_an_import_keeps_the_rules_that_stay_and_rolls_back_in_one_step() -> None:
    import_rules(GOOD)
    help_rule, team_rule = Rule.objects.order_by("position")
    imported = history()[0].number
    changed = GOOD.replace("subject_prefix: \"[Team]\"", "subject_prefix: \"[Sales]\"")
    result = import_rules(changed)
    assert "-  subject_prefix: '[Team]'" in result.diff
    kept, new = Rule.objects.order_by("position")
    assert kept.pk == help_rule.pk and new.pk != team_rule.pk
    operation = history()[0].operations
    assert [op["op"] for op in operation] == ["replace"]
    assert [f["id"] for f in operation[0]["deleted"]] == [team_rule.pk]
    rollback(imported)
    assert list(Rule.objects.order_by("position").values_list("id", "subject_prefix")) == [
        (help_rule.pk, ""), (team_rule.pk, "[Team]")]


def test_an_import_records_the_rules_it_added_by_number_and_older_records_still_roll_back(
) -> None:
    import_rules(forwarding_rules(2))
    before = history()[0].number
    import_rules(forwarding_rules(3))
    version = history()[0]
    [operation] = version.operations
    added = list(Rule.objects.filter(match_value="alias2@solarmora.com").values_list(
        "id", flat=True))
    assert operation["inserted"] == added
    # Versions written before kept each added rule's fields.
    operation["inserted"] = [{"id": pk, "match_value": "alias2@solarmora.com"} for pk in added]
    version.save()
    rollback(before)
    assert rules() == [("address", "alias0@solarmora.com"), ("address", "alias1@solarmora.com")]


def test_rollback_will_not_restore_a_rule_over_a_new_account() -> None:
    rule = add_rule(RuleSpec("address", f"help@{OURS}", rewrite="recipient",
                             rewrite_value=f"cases@{OURS}"))
    kept = history()[0].number
    remove_rule(rule.pk)
    add_account(f"help@{OURS}")
    with pytest.raises(VersionError, match=r"is now the account of help@solarmora\.com"):
        rollback(kept)
    assert not Rule.objects.exists()


def test_scalars_are_read_as_written() -> None:
    from casegate.routing.ruleset import parse_rules

    [(_, spec)] = parse_rules(
        "rules:\n  - match: all\n    description: 1:30\n"
        "    custom_headers: {X-Checked: yes, X-Ticket: 0755, X-Time: 12:30}\n"
        "    rate_limit: 20\n    enabled: false\n")
    assert spec.description == "1:30" and not spec.enabled and spec.rate_limit == 20
    assert spec.custom_headers == [("X-Checked", "yes"), ("X-Ticket", "0755"),
                                   ("X-Time", "12:30")]
    with pytest.raises(RulesetError, match=":3: enabled is true or false"):
        parse_rules("rules:\n  - match: all\n    enabled: yes\n")


def test_repeated_headers_survive_export_and_import() -> None:
    add_rule(RuleSpec("all", custom_headers=[("X-Tag", "one"), ("X-Tag", "two")]))
    exported = export_rules()
    assert "- 'X-Tag: one'" in exported and "- 'X-Tag: two'" in exported
    assert import_rules(exported).diff == ""


def forwarding_rules(count: int, first: int = 0) -> str:
    """``count`` rules of four lines each, the first at line 2."""
    return "rules:\n" + "".join(
        f"  - match: address\n    value: alias{n}@solarmora.com\n"
        f"    change: recipient\n    to: cases@solarmora.com\n"
        for n in range(first, first + count))


def routing_version() -> int:
    row = RoutingVersion.objects.filter(pk=1).first()
    return row.version if row else 0


def test_an_import_of_100000_rules_with_one_bad_rule_near_the_end_changes_nothing() -> None:
    add_rule(RuleSpec("pattern", r"old-.*@solarmora\.com", also_deliver=["x@crm.example"]))
    before, version, versions = rules(), routing_version(), RuleVersion.objects.count()
    bad = ("  - match: address\n    value: nobody-knows@solarmora.com\n"
           "    change: recipient\n    to: ghost@solarmora.com\n")
    text = forwarding_rules(99_990) + bad + forwarding_rules(9, first=99_990)[len("rules:\n"):]
    with pytest.raises(RulesetError) as refused:
        import_rules(text, "rules.yaml")
    assert str(refused.value).splitlines() == [
        f"rules.yaml:{2 + 4 * 99_990}: the new recipient ghost@solarmora.com is not an account, "
        "group or desk intake; rules are not applied again to a recipient a rule set, so mail "
        "sent there would go nowhere",
        "nothing was changed"]
    assert rules() == before
    assert (routing_version(), RuleVersion.objects.count()) == (version, versions)


def test_an_import_reads_the_directory_once_not_once_per_rule() -> None:
    with CaptureQueriesContext(connection) as small:
        import_rules(forwarding_rules(10))
    with CaptureQueriesContext(connection) as large:
        import_rules(forwarding_rules(1_000))
    # Only the inserts grow with the rules (SQLite takes 35 rules an INSERT).
    inserts = [q for q in large.captured_queries if q["sql"].startswith("INSERT INTO")]
    assert len(large) - len(inserts) <= len(small), [q["sql"][:80] for q in large]
    assert len(large) < 50


def test_an_import_moves_the_routing_version_and_routes_at_once() -> None:
    version = routing_version()
    import_rules(forwarding_rules(3))
    assert routing_version() > version
    table = load_table()
    assert table.version == routing_version()
    assert [t.address for t in table.route("alias2@solarmora.com").targets] == [
        "cases@solarmora.com"]
    version = routing_version()
    import_rules(forwarding_rules(5), dry_run=True)
    import_rules(forwarding_rules(3))  # the same rules: nothing changes
    assert routing_version() == version


def test_an_import_is_one_audit_log_entry_with_its_counts() -> None:
    import_rules(forwarding_rules(3))
    import_rules(forwarding_rules(3, first=1))
    entries = LogEntry.objects.filter(content_type__model="ruleversion").order_by("id")
    assert [e.changes for e in entries] == [
        {"rules added": [None, 3], "rules removed": [None, 0]},
        {"rules added": [None, 1], "rules removed": [None, 1]}]
    assert not LogEntry.objects.filter(content_type__model="rule").exists()
