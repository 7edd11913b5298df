"""RFC 3461 xtext, the encoding of the DSN parameters ORCPT and ENVID on MAIL and RCPT."""

from __future__ import annotations

import re

_ENCODED = re.compile(r"\+([0-9A-Fa-f]{2})")


def xtext_decode(text: str) -> str:
    """``+XX`` stands for the character with hex code XX."""
    return _ENCODED.sub(lambda found: chr(int(found[1], 16)), text)


def xtext_encode(text: str) -> str:
    """``text`` as xtext: ``+``, ``=`` and what is not printable ASCII as ``+XX``."""
    return "".join(c if "!" <= c <= "~" and c not in "+=" else f"+{ord(c):02X}"
                   for c in text)
