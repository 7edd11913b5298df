"""A phishing signal for the verdict headers a rule can add.

The one signal casegate reads itself is the commonest trick of phishing mail: a sender
name that shows an address (``"support@yourbank.example" <x@elsewhere.example>``) at a
domain other than the one the mail comes from. Mail through a real filter upstream can
carry that filter's verdict instead (``X-Phishing: yes`` from a trusted host is a
classifier's business, see :mod:`casegate.filtering.classifiers`).
"""

from __future__ import annotations

import re
from email.utils import parseaddr

from casegate.mail.headers import HeaderFields

_SHOWN_ADDRESS = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")


def phishing_reason(headers: HeaderFields) -> str:
    """Why the message looks like phishing, or ``""``."""
    name, address = parseaddr(headers.get("From") or "")
    domain = address.rpartition("@")[2].lower()
    for shown in _SHOWN_ADDRESS.findall(name):
        if domain and shown.lower() != domain:
            return f"the sender's name shows an address at {shown.lower()}, the mail comes " \
                   f"from {domain}"
    return ""
