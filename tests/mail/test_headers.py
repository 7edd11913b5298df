from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import compat32

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casegate.mail.headers import SHOWN_LENGTH, HeaderFields, dated, remove_fields, shown

RAW = (b"Received: from a by b; Tue, 1 Jan 2030 00:00:00 +0000\r\n"
       b"received: from c\r\n\tby d; Tue, 1 Jan 2030 00:00:00 +0000\r\n"
       b"Message-ID:  <m1@example.net> \r\n"
       b"X-Spam-Flag: YES\r\n"
       b"\r\n"
       b"Received: not a header, this is the body\r\n")


def test_fields_are_unfolded_and_matched_case_insensitively() -> None:
    headers = HeaderFields(RAW)
    assert headers.get_all("RECEIVED") == [
        "from a by b; Tue, 1 Jan 2030 00:00:00 +0000",
        "from c by d; Tue, 1 Jan 2030 00:00:00 +0000",
    ]
    assert headers.get("message-id") == "<m1@example.net>"
    assert headers.get("x-spam-flag") == "YES"
    assert headers.get("Subject") is None and headers.get("Subject", "") == ""


def test_bare_lf_headers_and_bytes_that_are_not_utf8() -> None:
    headers = HeaderFields(b"Subject: caf\xe9\nX-A: 1\n\nbody")
    assert headers.get("X-A") == "1"
    assert headers.get("Subject") is not None


def test_a_message_without_headers_has_no_fields() -> None:
    headers = HeaderFields(b"\r\njust a body")
    assert headers.get_all("Received") == []


def test_removing_fields_keeps_everything_else_byte_for_byte() -> None:
    raw = (b"X-Tag: drop me\r\n\tand my second line\r\n"
           b"x-tag: keep me\r\n"
           b"Subject: X-Tag: drop me\r\n"
           b"\r\n"
           b"X-Tag: drop me, I am the body\r\n")
    kept = remove_fields(raw, "X-Tag", lambda value: value.startswith("drop"))
    assert kept == (b"x-tag: keep me\r\nSubject: X-Tag: drop me\r\n\r\n"
                    b"X-Tag: drop me, I am the body\r\n")
    assert remove_fields(raw, "Other", lambda value: True) is raw


def test_a_field_as_shown_is_decoded_storable_and_cut_to_the_column() -> None:
    headers = HeaderFields(b"Subject: =?utf-8?q?Caf=C3=A9_=00?=\r\n\tdeals\r\n"
                           b"From: " + b"x" * 2000 + b"\r\n\r\nbody")
    assert shown(headers, "Subject") == "Caf\u00e9 \ufffd deals"
    assert len(shown(headers, "From")) == SHOWN_LENGTH
    assert shown(headers, "To") == ""


@pytest.mark.parametrize(("field", "expected"), [
    (b"Date: Tue, 12 Mar 2019 09:30:00 +0100\r\n", datetime(2019, 3, 12, 8, 30, tzinfo=UTC)),
    (b"Date: Tue, 12 Mar 2019 09:30:00 -0000\r\n", datetime(2019, 3, 12, 9, 30, tzinfo=UTC)),
    (b"Date: yesterday\r\n", None),
    (b"Date: Tue, 12 Mar 99999 09:30:00 +0100\r\n", None),
    (b"", None),
])
def test_the_date_a_message_was_written(field: bytes, expected: datetime | None) -> None:
    assert dated(HeaderFields(field + b"Subject: x\r\n\r\nbody")) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["From", "To", "X-Note", " folded"]),
                          st.text(st.sampled_from("ab@.: "), max_size=8),
                          st.sampled_from(["\r\n", "\r", "\n"])), max_size=8),
       st.sampled_from(["\r\n", "\r", "\n", ""]))
def test_the_fields_read_are_those_the_email_package_reads(
        lines: list[tuple[str, str, str]], blank: str) -> None:
    """Whatever the line ends, a bare CR included: the gateway's checks and the desk read
    the same From fields."""
    raw = ("".join(f"{name}{':' if name[0] != ' ' else ''}{value}{end}"
                   for name, value, end in lines) + blank + "body\n").encode()
    parsed = BytesParser(policy=compat32).parsebytes(raw, headersonly=True)
    for name in ("From", "To", "X-Note"):
        expected = [" ".join(v.split()) for v in parsed.get_all(name, [])]
        assert [" ".join(v.split()) for v in HeaderFields(raw).get_all(name)] == expected


def test_a_bare_cr_ends_a_field_as_it_does_for_the_desk() -> None:
    raw = b"X-Note: hi\rFrom: boss@desk.example\nFrom: customer@outside.example\n\nbody\n"
    assert HeaderFields(raw).get_all("From") == ["boss@desk.example", "customer@outside.example"]


def test_a_field_folded_over_many_lines_is_one_value() -> None:
    raw = b"Subject: a" + b"\r\n b" * 100_000 + b"\r\nFrom: ann@example.com\r\n\r\nbody"
    fields = HeaderFields(raw)
    assert fields.get("Subject") == "a" + " b" * 100_000
    assert fields.get("From") == "ann@example.com"
