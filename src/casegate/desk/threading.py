"""Which conversation a message belongs to.

In this order (the first that answers wins):

1. a Message-ID we generated and signed for our own mail (acknowledgements, agent
   replies), found in In-Reply-To or References;
2. a case tag in the subject (``[#CG-1042]``; prefix ``CASEGATE_CASE_TAG_PREFIX``) when the
   sender is the case's requester;
3. In-Reply-To or References naming any message stored on a conversation;
4. otherwise, a new conversation.

Our Message-IDs look like ``<cg.c1042.5f3a9b.8c1d2e3f4a5b6c7d@desk.example>``: kind and
number, a random part, and an HMAC of both, so a customer cannot aim a reply at somebody
else's case by guessing numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from django.conf import settings

from casegate.config import get_config

_SIGNED = re.compile(r"^<cg\.([cl])(\d+)\.([0-9a-f]{6,32})\.([0-9a-f]{16})@[^<>@\s]+>$")


def tag_prefix() -> str:
    return get_config().case_tag_prefix


def case_tag(case_id: int) -> str:
    return f"[#{tag_prefix()}-{case_id}]"


def _tag_pattern() -> re.Pattern[str]:
    return re.compile(rf"\[#{re.escape(tag_prefix())}-(\d{{1,12}})\]", re.IGNORECASE)


def _signature(kind: str, number: int, nonce: str) -> str:
    key = hmac.new(settings.SECRET_KEY.encode(), b"casegate-message-id", hashlib.sha256).digest()
    return hmac.new(key, f"{kind}{number}.{nonce}".encode(), hashlib.sha256).hexdigest()[:16]


def signed_message_id(kind: str, number: int, domain: str) -> str:
    """A Message-ID for our own mail about conversation ``kind`` (c or l) ``number``."""
    nonce = secrets.token_hex(6)
    return f"<cg.{kind}{number}.{nonce}.{_signature(kind, number, nonce)}@{domain}>"


def read_signed(message_id: str) -> tuple[str, int] | None:
    """(kind, number) from a Message-ID we signed; None for any other or a forged one."""
    found = _SIGNED.match(message_id)
    if not found:
        return None
    kind, number, nonce, signature = found[1], int(found[2]), found[3], found[4]
    if not hmac.compare_digest(signature, _signature(kind, number, nonce)):
        return None
    return kind, number


_SIGNED_TEST = re.compile(r"^<cg\.test\.([0-9a-f]{12})\.([0-9a-f]{16})@[^<>@\s]+>$")


def signed_test_message_id(domain: str) -> str:
    """A Message-ID for a test message of ``casegate verify``: the desk files such a message
    on a case of its own, never suspending it, and nobody can forge one."""
    nonce = secrets.token_hex(6)
    return f"<cg.test.{nonce}.{_signature('test', 0, nonce)}@{domain}>"


def is_signed_test(message_id: str) -> bool:
    """Whether ``message_id`` is one :func:`signed_test_message_id` made."""
    found = _SIGNED_TEST.match(message_id)
    return found is not None and hmac.compare_digest(found[2],
                                                     _signature("test", 0, found[1]))


def tagged_case(subject: str) -> int | None:
    found = _tag_pattern().search(subject)
    return int(found[1]) if found else None


@dataclass(frozen=True)
class ThreadHint:
    """What a message says about its conversation, read without the database."""

    signed: tuple[str, int] | None
    tagged_case: int | None
    references: tuple[str, ...]


def hint_for(in_reply_to: str, references: list[str], subject: str, reported: str = ""
             ) -> ThreadHint:
    """``reported``: for a delivery report, the Message-ID of the message it is about."""
    refs = tuple(dict.fromkeys([r for r in (in_reply_to, *reversed(references), reported) if r]))
    signed = next((s for s in map(read_signed, refs) if s is not None), None)
    return ThreadHint(signed, tagged_case(subject), refs)
