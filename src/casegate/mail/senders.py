"""Who a message is from, read one way wherever it is read.

The gateway decides at DATA whether a message is an agent's answer (whose copies stay at the
desk) and the desk decides whose message it files: both must see the same sender, or an
answer the desk takes as the agent's could still reach a CRM. So both read the From field
with :func:`read_from`, encoded words decoded, and fall back on the envelope sender with
:func:`or_envelope_sender` when From has no address.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.utils import getaddresses


def one_line(text: str) -> str:
    """``text`` with every run of whitespace, line breaks included, as one space."""
    return " ".join(text.split())


def writable(address: str) -> bool:
    """Whether ``address`` is something to write to: not empty, no control character."""
    return bool(address) and not any(c < " " or c == "\x7f" for c in address)


@dataclass(frozen=True)
class Sender:
    """The first writable address of a From field, in lower case (``""``: none), its display
    name, and what could not be read."""

    address: str = ""
    name: str = ""
    problems: tuple[str, ...] = ()


def _as_parsed(value: str) -> str:
    # The email package reads a message's bytes as ASCII with surrogateescape, HeaderFields
    # as UTF-8 with surrogateescape: the same bytes, read the one way.
    return value.encode("utf-8", "surrogateescape").decode("ascii", "surrogateescape")


_ADDRESS = r"([A-Za-z0-9_+=-]+(?:\.[A-Za-z0-9_+=-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
# The shapes most mail's From has, "addr@example.com" and "Ann Lee <addr@example.com>", in
# ASCII with nothing to decode, unquote or unfold; anything else goes through the parser.
_PLAIN_FROM = re.compile(
    rf"[ \t]*(?:{_ADDRESS}|([A-Za-z0-9_'-]+(?:[ \t]+[A-Za-z0-9_'-]+)*)?[ \t]*<{_ADDRESS}>)[ \t]*")


def read_from(values: Sequence[str]) -> Sender:
    """The sender named by the From fields ``values``, as sent (encoded words encoded).

    Decoding can fail on hostile input, such as an encoded word that hides a line break in
    an address: the fields are then read as sent, and the problem noted.
    """
    # The email package's parser costs more than the rest of reading a message's headers;
    # a plain field reads the same without it (tests/mail/test_senders.py holds them equal).
    if len(values) == 1 and (plain := _PLAIN_FROM.fullmatch(values[0])):
        bare, name, address = plain.groups()
        return Sender((bare or address).lower(), one_line(name or ""))
    return parse_from(values)


def parse_from(values: Sequence[str]) -> Sender:
    """:func:`read_from` through the email package's parser, whatever the fields' shape."""
    sent = [_as_parsed(value) for value in values]
    problems: list[str] = []
    try:
        fields = [policy.default.header_fetch_parse("From", value) for value in sent]
        found = [(a.display_name, a.addr_spec) for a in getattr(fields[0], "addresses", ())
                 ] if fields else []
        texts = [str(field) for field in fields]
    except Exception as exc:
        problems.append(f"From: {exc}")
        found, texts = [], [one_line(value) for value in sent]
    if any(c in text for text in texts for c in "\r\n\x00"):
        problems.append("From: a line break or NUL inside the value")
    for name, address in found or getaddresses(texts):
        if writable(address):
            return Sender(address.lower(), one_line(name), tuple(problems))
    return Sender(problems=tuple(problems))


def or_envelope_sender(address: str, envelope_sender: str) -> tuple[str, str]:
    """``address`` (read from From), or when it is empty the envelope sender, the best word
    on who wrote, with a note saying so (``""`` when not needed)."""
    if address or not envelope_sender:
        return address, ""
    fallback = envelope_sender.lower()
    return fallback, f"From: no address; the envelope sender <{fallback}> is the requester"


def sender_address(from_values: Sequence[str], envelope_sender: str) -> str:
    """The sender's address: :func:`read_from`, else the envelope sender."""
    return or_envelope_sender(read_from(from_values).address, envelope_sender)[0]
