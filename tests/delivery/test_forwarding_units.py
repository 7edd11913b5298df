import pytest

from casegate.signing.srs import envelope_sender, is_srs, reverse_srs

OURS = frozenset({"solarmora.com"})


@pytest.mark.parametrize("text", ["not an address", "SRS0=", "SRS0=x@", "", "SRS1=a=b@c"])
def test_odd_text_is_not_taken_for_an_srs_address(text: str) -> None:
    assert not is_srs(text)
    assert reverse_srs(text) is None


def test_other_domains_senders_are_rewritten_and_come_back() -> None:
    rewritten = envelope_sender("dana@example.net", "solarmora.com", OURS)
    assert rewritten.startswith("SRS0=") and rewritten.endswith("@solarmora.com")
    assert is_srs(rewritten)
    assert reverse_srs(rewritten) == "dana@example.net"


@pytest.mark.parametrize(("mail_from", "via"), [
    ("", "solarmora.com"),                      # the null sender stays null
    ("alex@solarmora.com", "solarmora.com"),    # our own senders pass SPF as they are
    ("dana@example.net", "elsewhere.example"),  # not forwarding for one of our domains
])
def test_senders_that_need_no_rewriting_are_kept(mail_from: str, via: str) -> None:
    assert envelope_sender(mail_from, via, OURS) == mail_from


def test_an_srs_address_is_not_wrapped_twice() -> None:
    once = envelope_sender("dana@example.net", "solarmora.com", OURS)
    assert envelope_sender(once, "solarmora.com", OURS) == once


def test_a_tampered_srs_address_does_not_reverse() -> None:
    good = envelope_sender("dana@example.net", "solarmora.com", OURS)
    assert reverse_srs(good.replace("dana", "eve")) is None


def test_a_shortened_hash_or_an_srs1_address_is_refused() -> None:
    good = envelope_sender("dana@example.net", "solarmora.com", OURS)
    _, hash_part, rest = good.split("=", 2)
    for length in range(1, len(hash_part)):
        assert reverse_srs(f"SRS0={hash_part[:length]}={rest}") is None
    assert reverse_srs("SRS1=x=anyhost.example==XX=y@solarmora.com") is None


def test_the_results_kept_on_one_line_are_folded_one_result_a_line() -> None:
    from casegate.delivery.forwarding import authentication_results

    kept = "gw.test; spf=pass smtp.mailfrom=a.example; " + "; ".join(
        f"dkim=pass header.d=d{n}.example header.s=selector{n}" for n in range(30))
    field = authentication_results(b"Subject: x\r\n\r\nbody", "gw.test", kept)
    lines = field.split(b"\r\n")
    assert field.startswith(b"Authentication-Results: gw.test;\r\n\tspf=pass")
    assert len(lines) == 33 and max(map(len, lines)) < 100
