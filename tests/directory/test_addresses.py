"""Address normalisation: case folding, IDNA A-labels, refusals with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casegate.directory.addresses import (
    InvalidAddress,
    domain_of,
    normalize_address,
    normalize_domain,
    split_address,
    strip_extension,
)
from casegate.errors import CasegateError

# --- normalize_domain -------------------------------------------------------------------


def test_domain_is_lower_cased() -> None:
    assert normalize_domain("Solarmora.COM") == "solarmora.com"


def test_idn_domain_is_stored_as_a_labels() -> None:
    assert normalize_domain("Bücher.Example") == "xn--bcher-kva.example"


def test_idn_domain_with_several_unicode_labels() -> None:
    assert normalize_domain("例え.テスト") == "xn--r8jz45g.xn--zckzah"


def test_idn_domain_with_sharp_s_is_not_mapped_to_ss() -> None:
    assert normalize_domain("straße.de") == "xn--strae-oqa.de"


def test_idn_domain_with_ideographic_full_stop_uses_dots() -> None:
    assert normalize_domain("bücher\u3002example") == "xn--bcher-kva.example"


def test_existing_a_label_is_kept() -> None:
    assert normalize_domain("xn--bcher-kva.example") == "xn--bcher-kva.example"


def test_upper_case_a_label_is_lower_cased() -> None:
    assert normalize_domain("XN--BCHER-KVA.Example") == "xn--bcher-kva.example"


def test_u_label_and_a_label_normalise_to_the_same_domain() -> None:
    assert normalize_domain("bücher.example") == normalize_domain("xn--bcher-kva.example")


@pytest.mark.parametrize("domain", ["xn--zz.example", "xn--a.example"])
def test_invalid_a_label_is_refused(domain: str) -> None:
    with pytest.raises(InvalidAddress, match="is not a valid domain name"):
        normalize_domain(domain)


def test_trailing_dot_is_dropped() -> None:
    assert normalize_domain("example.com.") == "example.com"


def test_surrounding_whitespace_is_dropped() -> None:
    assert normalize_domain("  example.com ") == "example.com"


@pytest.mark.parametrize("domain", ["", "   ", "."])
def test_empty_domain_is_refused(domain: str) -> None:
    with pytest.raises(InvalidAddress, match="the domain is empty"):
        normalize_domain(domain)


@pytest.mark.parametrize(
    "domain",
    [
        "localhost",
        "bücher",
        "-bad.example",
        "bad-.example",
        "exa_mple.com",
        "ex..ample.com",
        "ex ample.com",
        "a" * 64 + ".example",
        "bücher.ex_ample",
        "bücher..example",
        "bücher." + "a" * 64,
    ],
)
def test_invalid_domain_is_refused_with_the_domain_named(domain: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        normalize_domain(domain)
    assert "is not a valid domain name" in str(info.value)
    assert repr(domain) in str(info.value)


def test_invalid_address_is_a_casegate_error_and_a_value_error() -> None:
    with pytest.raises(InvalidAddress) as info:
        normalize_domain("localhost")
    assert isinstance(info.value, CasegateError)
    assert isinstance(info.value, ValueError)


# --- normalize_address / split_address -------------------------------------------------


def test_address_is_case_folded() -> None:
    assert normalize_address("Help@SolarMora.COM") == "help@solarmora.com"


def test_address_with_idn_domain_uses_a_labels() -> None:
    assert normalize_address("Anna@Bücher.Example") == "anna@xn--bcher-kva.example"


def test_angle_brackets_are_removed() -> None:
    assert normalize_address("<Bob@Example.COM>") == "bob@example.com"


def test_surrounding_whitespace_is_removed() -> None:
    assert normalize_address("  bob@example.com\t") == "bob@example.com"


def test_unicode_local_part_is_lower_cased() -> None:
    assert normalize_address("Ünïcode@example.com") == "ünïcode@example.com"


def test_split_address_returns_local_part_and_domain() -> None:
    assert split_address("Ann.Lee+Tag@Bücher.Example") == ("ann.lee+tag", "xn--bcher-kva.example")


def test_last_at_sign_separates_the_domain() -> None:
    with pytest.raises(InvalidAddress, match="characters mail cannot carry"):
        normalize_address("a@b@example.com")


@pytest.mark.parametrize("address", ["bob", "@example.com", "", "<>"])
def test_address_without_user_or_at_sign_is_refused(address: str) -> None:
    with pytest.raises(InvalidAddress, match=r"is not a mail address \(expected user@domain\)"):
        normalize_address(address)


def test_address_without_domain_is_refused() -> None:
    with pytest.raises(InvalidAddress, match="the domain is empty"):
        normalize_address("bob@")


def test_local_part_longer_than_64_characters_is_refused() -> None:
    with pytest.raises(InvalidAddress, match="longer than 64 characters"):
        normalize_address("a" * 65 + "@example.com")


def test_local_part_of_64_characters_is_accepted() -> None:
    assert normalize_address("a" * 64 + "@example.com") == "a" * 64 + "@example.com"


@pytest.mark.parametrize(
    "address",
    [
        "a b@example.com",
        ".ann@example.com",
        "ann.@example.com",
        'a"b@example.com',
        "a<b@example.com",
        "a,b@example.com",
        "a;b@example.com",
        "a\\b@example.com",
        "a\x00b@example.com",
        "a\rb@example.com",
    ],
)
def test_local_part_with_forbidden_characters_is_refused(address: str) -> None:
    with pytest.raises(InvalidAddress, match="holds characters mail cannot carry"):
        normalize_address(address)


def test_address_with_invalid_domain_is_refused() -> None:
    with pytest.raises(InvalidAddress, match="is not a valid domain name"):
        normalize_address("bob@exa_mple.com")


def test_domain_of_returns_the_part_after_the_last_at_sign() -> None:
    assert domain_of("ann@xn--bcher-kva.example") == "xn--bcher-kva.example"


# --- strip_extension -------------------------------------------------------------------


def test_strip_extension_removes_plus_tag() -> None:
    assert strip_extension("help+urgent@solarmora.com", "+") == "help@solarmora.com"


def test_strip_extension_cuts_at_the_first_delimiter() -> None:
    assert strip_extension("help+a+b@solarmora.com", "+") == "help@solarmora.com"


def test_strip_extension_without_tag_returns_the_address() -> None:
    assert strip_extension("help@solarmora.com", "+") == "help@solarmora.com"


def test_strip_extension_keeps_address_starting_with_the_delimiter() -> None:
    assert strip_extension("+tag@solarmora.com", "+") == "+tag@solarmora.com"


def test_strip_extension_with_custom_delimiter() -> None:
    assert strip_extension("help-urgent@solarmora.com", "-") == "help@solarmora.com"


def test_strip_extension_with_custom_delimiter_ignores_plus() -> None:
    assert strip_extension("help+urgent@solarmora.com", "-") == "help+urgent@solarmora.com"


def test_strip_extension_with_multi_character_delimiter() -> None:
    assert strip_extension("help--urgent@solarmora.com", "--") == "help@solarmora.com"


def test_strip_extension_with_empty_delimiter_is_a_no_op() -> None:
    assert strip_extension("help+urgent@solarmora.com", "") == "help+urgent@solarmora.com"


def test_strip_extension_does_not_touch_the_domain() -> None:
    assert strip_extension("help@sub-domain.example", "-") == "help@sub-domain.example"


# --- idempotence -----------------------------------------------------------------------

_LOCAL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
_LOCAL = st.text(alphabet=_LOCAL_CHARS, min_size=1, max_size=20).flatmap(
    lambda head: st.lists(st.text(alphabet=_LOCAL_CHARS, min_size=1, max_size=10), max_size=3)
    .map(lambda rest: ".".join([head, *rest])[:64])
)
_LABEL = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789üéåøßñçÜÉ日本語",
    min_size=1,
    max_size=20,
)
_DOMAIN = st.lists(_LABEL, min_size=2, max_size=4).map(".".join)


@given(local=_LOCAL, domain=_DOMAIN)
def test_normalize_address_is_idempotent(local: str, domain: str) -> None:
    try:
        once = normalize_address(f"{local}@{domain}")
    except InvalidAddress:
        return
    assert normalize_address(once) == once


@given(local=_LOCAL, domain=_DOMAIN)
def test_normalized_address_is_lower_case_ascii_domain(local: str, domain: str) -> None:
    try:
        once = normalize_address(f"{local}@{domain}")
    except InvalidAddress:
        return
    assert domain_of(once).isascii()
    assert once == once.lower()


@given(domain=_DOMAIN)
def test_normalize_domain_is_idempotent(domain: str) -> None:
    try:
        once = normalize_domain(domain)
    except InvalidAddress:
        return
    assert normalize_domain(once) == once
