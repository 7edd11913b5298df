"""Many pattern rules matched at once: same answers as one regular expression at a time."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casegate.routing.patterns import (
    PatternError,
    PatternIndex,
    check_pattern,
    literal_domain,
    literal_prefix,
)

PATTERNS = [r"team\d+-[a-z]+@solarmora\.com", r"sales-.*@solarmora\.com", r".*@partner\.example",
            r"noreply-[0-9]+@.*", r"(?i)BILLING@solarmora\.com", r"a+b@x\.example",
            r"help|support@solarmora\.com", r"^ops@solarmora\.com$"]


def test_domains_and_prefixes_are_read_only_when_certain() -> None:
    assert literal_domain(r"sales-.*@solarmora\.com") == "solarmora.com"
    assert literal_domain(r"^ops@solarmora\.com$") == "solarmora.com"
    assert literal_domain(r".*@solarmora.com") is None  # an unescaped dot matches any character
    assert literal_domain(r"(a@x\.com|b)@y\.com") is None  # alternation: not looked into
    assert literal_domain(r"help|support@solarmora\.com") is None
    assert literal_prefix(r"team\d+-x") == "team" and literal_prefix(r"ab*c") == "a"
    assert literal_prefix(r".*@x") == "" and literal_prefix(r"(?i)ABC") == ""


def test_re2_refuses_what_could_take_exponential_time() -> None:
    with pytest.raises(PatternError, match="linear time"):
        check_pattern(r"(a+)\1@x\.com")  # a backreference
    check_pattern(r"(a|aa)+@x\.com")


def test_a_pattern_that_is_no_regular_expression_is_told_why() -> None:
    with pytest.raises(PatternError, match="missing \\), unterminated subpattern"):
        check_pattern(r"(sales@x\.com")


SAMPLES = ["team12-ab@solarmora.com", "sales-x@solarmora.com", "sales@solarmora.com",
           "joe@partner.example", "noreply-55@anywhere.example", "billing@solarmora.com",
           "aab@x.example", "help", "support@solarmora.com", "ops@solarmora.com", "x@y.z"]


@given(st.sampled_from(SAMPLES) | st.emails().map(str.lower))
def test_the_index_agrees_with_each_pattern_alone(address: str) -> None:
    index = PatternIndex((p, p) for p in PATTERNS)
    expected = {p for p in PATTERNS if re.fullmatch(p, address, re.IGNORECASE)}
    assert set(index.matching(address)) == expected


def test_prefixes_stop_where_case_folding_leaves_ascii() -> None:
    index = PatternIndex([(r"ΑΣ@x\.com", "greek"), ("\u017fales@x\\.com", "long s")])
    assert index.matching("ας@x.com") == ["greek"]
    assert index.matching("sales@x.com") == ["long s"]
