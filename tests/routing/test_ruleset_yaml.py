"""The rule set's YAML as the export writes it, and the diff an import prints."""

from __future__ import annotations

import re

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from casegate.routing.ruleset import _diff, _document, _plain_item

TEXT = st.text(st.sampled_from("aZ09 -_.@:#'\"[]{}*&!|>%`?,/\\^$+=~\t\né中"), max_size=12)
VALUE = st.one_of(TEXT, st.booleans(), st.integers(0, 10_000),
                  st.lists(TEXT, min_size=1, max_size=3),
                  st.sampled_from(["yes", "no", "null", "~", "0755", "12:30", "1e3", ".inf",
                                   "-", "---", "a: b", "b #c", "x:", "<<", "="]))
RULE = st.dictionaries(st.sampled_from(["match", "value", "to", "also_deliver", "enabled",
                                        "rate_limit", "description", "unit"]),
                       VALUE, min_size=1)


@settings(max_examples=500, deadline=None)
@given(RULE)
def test_a_rule_written_without_pyyaml_is_what_pyyaml_writes(rule: dict[str, object]) -> None:
    item = _plain_item(rule)
    for dumper in (yaml.SafeDumper, yaml.CSafeDumper):
        written = yaml.dump([rule], Dumper=dumper, sort_keys=False, allow_unicode=True,
                            width=100)
        assert item is None or item == written, (dumper, item, written)


def patched(text: str, diff: str) -> str:
    """``text`` with a unified diff applied."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    at = 0
    for hunk in re.split(r"(?m)^(?=@@ )", diff)[1:]:
        start = int(re.match(r"@@ -(\d+)", hunk).group(1))  # type: ignore[union-attr]
        body = hunk.splitlines(keepends=True)[1:]
        begin = start - 1 if any(line[0] in " -" for line in body) else start
        out += lines[at:begin]
        at = begin
        for line in body:
            if line[0] in " -":
                assert lines[at] == line[1:]
                at += 1
            if line[0] in " +":
                out.append(line[1:])
    return "".join(out + lines[at:])


RULES = st.lists(st.sampled_from([f"- match: address\n  value: a{n}@x.example\n  to: b@y.example\n"
                                  for n in range(6)] + ["- match: all\n"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(RULES, RULES)
def test_the_diff_turns_one_export_into_the_other(before: list[str], after: list[str]) -> None:
    diff = "".join(_diff(before, after, "rules.yaml"))
    assert patched(_document(before), diff) == _document(after)
    assert (diff == "") == (before == after)


def test_one_changed_rule_among_many_is_one_small_hunk() -> None:
    before = [f"- match: address\n  value: a{n}@x.example\n  change: recipient\n"
              f"  to: cases@x.example\n" for n in range(50_000)]
    after = list(before)
    after[30_000] = after[30_000].replace("cases@", "leads@")
    assert "".join(_diff(before, after, "rules.yaml")) == (
        "--- current rules\n"
        "+++ rules.yaml\n"
        "@@ -120003,7 +120003,7 @@\n"
        " - match: address\n"
        "   value: a30000@x.example\n"
        "   change: recipient\n"
        "-  to: cases@x.example\n"
        "+  to: leads@x.example\n"
        " - match: address\n"
        "   value: a30001@x.example\n"
        "   change: recipient\n")


def test_most_rules_are_written_without_pyyaml() -> None:
    assert _plain_item({"match": "address", "value": "help@solarmora.com",
                        "also_deliver": ["ann@solarmora.com"], "enabled": False,
                        "rate_limit": 20, "unit": "/Sales/EMEA"}) == (
        "- match: address\n  value: help@solarmora.com\n  also_deliver:\n"
        "  - ann@solarmora.com\n  enabled: false\n  rate_limit: 20\n  unit: /Sales/EMEA\n")
    assert _plain_item({"match": "pattern", "value": r"team-[a-z]+@solarmora\.com"}) == (
        "- match: pattern\n  value: team-[a-z]+@solarmora\\.com\n")
    assert _plain_item({"match": "all", "description": "yes"}) is None
