"""Reading a few header fields of a raw message quickly, without decoding the message.

The gateway needs the hop count, the Message-ID and what classifiers look at, delivery the
headers it copies into reports; the full MIME parse happens later, at the desk.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime

from casegate.text import storable

SHOWN_LENGTH = 998  # a header line's limit (RFC 5322), and the columns that keep one


# Lines end as the email package ends them (CRLF, or a bare CR or LF), so that these fast
# readings and the desk's full parse see the same fields: a bare CR read as part of a value
# here but as a line end there would hide a second From from one side.
_LINE_END = re.compile(r"\r\n|\r|\n")
_BLANK_LINE = re.compile(rb"(?>\r\n|\r|\n)(?>\r\n|\r|\n)")


def header_block(raw: bytes) -> bytes:
    """The header section including the blank line that ends it (all of ``raw`` if none);
    the first blank line counts, whatever its line ends."""
    if raw[:1] in (b"\r", b"\n"):  # no header at all: the blank line comes first
        return raw[: 2 if raw.startswith(b"\r\n") else 1]
    found = _BLANK_LINE.search(raw)
    return raw if found is None else raw[: found.end()]


class HeaderFields:
    """The header fields of a message, unfolded, names compared case-insensitively."""

    __slots__ = ("_fields",)

    def __init__(self, raw: bytes) -> None:
        # Each field's lines are joined once: adding them one by one copies the value
        # again for every continuation line, which a field folded a million times makes
        # seconds of work.
        parts: list[tuple[str, list[str]]] = []
        text = header_block(raw).decode("utf-8", errors="surrogateescape")
        for line in _LINE_END.split(text):
            if not line:
                break
            if line[0] in " \t":
                if parts:
                    parts[-1][1].append(line.strip())
                continue
            name, sep, value = line.partition(":")
            if sep:
                parts.append((name.strip().lower(), [value.strip()]))
        self._fields = [(name, " ".join(lines)) for name, lines in parts]

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.lower()
        for field_name, value in self._fields:
            if field_name == key:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [value for field_name, value in self._fields if field_name == key]


def _unfolded(lines: list[bytes]) -> str:
    text = b" ".join(line.strip() for line in lines).decode("utf-8", errors="surrogateescape")
    return text.partition(":")[2].strip()


def remove_fields(raw: bytes, name: str, matches: Callable[[str], bool]) -> bytes:
    """``raw`` without the header fields called ``name`` whose unfolded value ``matches``;
    everything else is kept byte for byte."""
    block = header_block(raw)
    key = name.lower().encode()
    if key not in block.lower():
        return raw
    fields: list[list[bytes]] = []
    for line in block.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    kept = [
        line for lines in fields
        if lines[0].partition(b":")[0].strip().lower() != key or not matches(_unfolded(lines))
        for line in lines
    ]
    return b"".join(kept) + raw[len(block):]


def decoded(value: str) -> str:
    """A header value as people read it: encoded words decoded, on one line, undecodable
    bytes as U+FFFD; as sent when its encoded words are broken."""
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    with contextlib.suppress(ValueError, LookupError, UnicodeDecodeError):
        text = str(make_header(decode_header(text)))
    return " ".join(text.split())


def shown(headers: HeaderFields, name: str) -> str:
    """The field ``name`` as people read it (:func:`decoded`), in a form any database stores
    and cut to :data:`SHOWN_LENGTH`; ``""`` when the message has none."""
    return storable(decoded(headers.get(name) or ""))[:SHOWN_LENGTH]


def dated(headers: HeaderFields) -> datetime | None:
    """The message's ``Date:`` as an aware time (UTC when it names no zone); None when it
    has none or it cannot be read."""
    value = headers.get("Date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
