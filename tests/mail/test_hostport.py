from __future__ import annotations

import pytest

from casegate.mail.hostport import HostPort, HostPortError, parse_hostport


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:2525", HostPort("127.0.0.1", 2525)),
    (" mx.example:25 ", HostPort("mx.example", 25)),
    ("[::1]:2525", HostPort("::1", 2525)),
    ("[2001:db8::1]:587", HostPort("2001:db8::1", 587)),
])
def test_host_and_port(text: str, expected: HostPort) -> None:
    assert parse_hostport(text) == expected


@pytest.mark.parametrize("text", ["", "mx.example", ":25", "mx.example:", "mx.example:smtp",
                                  "mx.example:0", "mx.example:65536", "[]:25", "::1"])
def test_anything_else_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(HostPortError, match="must look like HOST:PORT, for example"):
        parse_hostport(text)


def test_a_host_left_out_and_port_zero_where_allowed() -> None:
    assert parse_hostport(":0", default_host="127.0.0.1", any_port=True) == HostPort(
        "127.0.0.1", 0)


@pytest.mark.parametrize(("text", "expected"), [
    ("192.0.2.1", HostPort("192.0.2.1", 53)),
    ("192.0.2.1:5353", HostPort("192.0.2.1", 5353)),
    ("2001:db8::1", HostPort("2001:db8::1", 53)),
    ("[2001:db8::1]", HostPort("2001:db8::1", 53)),
    ("[2001:db8::1]:5353", HostPort("2001:db8::1", 5353)),
])
def test_a_port_left_out_where_there_is_a_default(text: str, expected: HostPort) -> None:
    assert parse_hostport(text, default_port=53) == expected


@pytest.mark.parametrize("address", [HostPort("mx.example", 25), HostPort("2001:db8::1", 25)])
def test_written_as_read(address: HostPort) -> None:
    assert parse_hostport(str(address)) == address
