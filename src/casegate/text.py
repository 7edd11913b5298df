"""Text any database takes, whatever bytes it was read from."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def storable(text: str) -> str:
    """Text any database takes: undecodable bytes as U+FFFD, no NUL characters."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "replace"
                           ).decode("utf-8", "replace")
    return text.replace("\x00", "\ufffd")


def _only_escapes(text: str) -> bool:
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


def malformed(text: str) -> bool:
    """Whether ``text`` (an SMTP command's argument) holds a control character or bytes
    that are not UTF-8 (aiosmtpd keeps those as surrogate escapes)."""
    if _CONTROL.search(text):
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")  # ASCII digits only ("²" is a digit to str.isdigit)


def whole_number(text: str) -> int | None:
    """A whole number as a form, a query string or a command line gives it (a record's id,
    a port, a count), or None: not ASCII digits, or longer than any id."""
    return int(text) if _WHOLE_NUMBER.fullmatch(text) else None


def listed(items: list[str], shown: int = 5) -> str:
    """``items`` joined with commas, the first ``shown`` named and the rest counted."""
    more = len(items) - shown
    return ", ".join(items[:shown]) + (f" and {more} more" if more > 0 else "")
