"""The DKIM proof of an agent's answer: a signature of the sender's domain (or a parent of
it) that verifies and covers what makes the message an answer.

Anyone can add DKIM-Signature fields to a message, and checking one costs a DNS lookup. So
every signature is first read without DNS, and only one that could prove the answer is
checked: by the sender's domain or a parent, over the whole body (no ``l=``), made within
the last 30 days, and signing From and each In-Reply-To and References field the message
has, at least as often as the message has them (DKIM covers the last copies of a field, so
an unsigned copy added on top could otherwise be the one the desk reads). At most two are
checked, each key lookup within 5 seconds and the whole proof within 10: running out of
time leaves the answer unproven, as a DKIM temporary error.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass

import dkim
import dkim.util
import dns.exception

from casegate.nameservers import txt_lookup

MAX_CHECKED = 2
DEADLINE = 10.0  # seconds for the key lookups of one proof
MAX_AGE = 30 * 24 * 3600  # seconds
SIGNED_FIELDS = ("from",)
THREAD_FIELDS = ("in-reply-to", "references")  # where the answered Message-ID is named
_SHOWN_PROBLEMS = 3


class _OutOfTime(Exception):
    """A key lookup not even tried: the proof's deadline passed, or the domain's name
    servers did not answer in time before."""


class _KeyLookup:
    """dkimpy's ``dnsfunc``: a lookup gets its own timeout, cut to the proof's deadline.

    ``unanswered``: the domains whose name servers did not answer a key lookup in time,
    shared by the proofs of a batch, so that a batch of forged answers costs one timeout.
    """

    def __init__(self, deadline: float, unanswered: set[bytes]) -> None:
        self.deadline = deadline
        self.unanswered = unanswered

    def __call__(self, name: bytes, timeout: float = 5) -> bytes | None:
        domain = name.lower().rstrip(b".").rsplit(b"._domainkey.", 1)[-1]
        left = min(timeout, self.deadline - time.monotonic())
        if left <= 0 or domain in self.unanswered:
            raise _OutOfTime
        try:
            return txt_lookup(name, left)
        except dns.exception.Timeout:
            self.unanswered.add(domain)
            raise


@dataclass(frozen=True)
class _Signature:
    index: int
    domain: str


def dkim_signer(raw: bytes, sender_domain: str, unanswered: set[bytes] | None = None
                ) -> tuple[str, str]:
    """The domain of a DKIM signature of ``raw`` that proves it was sent from
    ``sender_domain`` (see the module's description), or ``""`` and why there is none.

    ``unanswered``: the signing domains whose key lookups timed out earlier in the batch
    (the domains that time out now are added); they are not asked again.
    """
    try:
        verifier = dkim.DKIM(raw)
    except dkim.DKIMException as exc:
        return "", f"the DKIM signature cannot be read: {exc}"
    values = [value for name, value in verifier.headers if name.lower() == b"dkim-signature"]
    if not values:
        return "", "the message has no DKIM signature"
    present = Counter(name.lower().decode("ascii", "replace") for name, _ in verifier.headers)
    problems: list[str] = []
    candidates: list[_Signature] = []
    for index, value in enumerate(values):
        domain, why_not = _read(value, present, sender_domain)
        if why_not:
            problems.append(why_not)
        else:
            candidates.append(_Signature(index, domain))
    lookup = _KeyLookup(time.monotonic() + DEADLINE, set() if unanswered is None else unanswered)
    for candidate in candidates[:MAX_CHECKED]:
        why_not = _verify(verifier, candidate, lookup)
        if not why_not:
            return candidate.domain, ""
        problems.append(why_not)
    if len(candidates) > MAX_CHECKED:
        problems.append(f"{len(candidates) - MAX_CHECKED} more DKIM signatures were not checked")
    return "", _summary(problems)


def _read(value: bytes, present: Counter[str], sender_domain: str) -> tuple[str, str]:
    """The signing domain of the signature ``value``, and why it cannot prove the answer
    (``""`` when it can), read without DNS. ``present``: the message's fields, counted."""
    try:
        tags = dkim.util.parse_tag_value(value)
        dkim.validate_signature_fields(tags)
    except (dkim.DKIMException, dkim.util.InvalidTagValueList) as exc:
        return "", f"a DKIM signature cannot be read: {exc}"
    domain = tags[b"d"].decode("ascii", errors="replace").lower()
    if sender_domain != domain and not sender_domain.endswith(f".{domain}"):
        return domain, f"the DKIM signature is by {domain}, not by {sender_domain}"
    if b"l" in tags:
        return domain, f"the DKIM signature of {domain} covers only part of the body"
    if b"t" in tags and int(tags[b"t"]) < time.time() - MAX_AGE:
        return domain, f"the DKIM signature of {domain} is more than 30 days old"
    signed = Counter(name.lower().decode("ascii", errors="replace")
                     for name in re.split(rb"\s*:\s*", tags[b"h"].strip()))
    for field in (*SIGNED_FIELDS, *(f for f in THREAD_FIELDS if present[f])):
        if signed[field] < max(present[field], 1):
            return domain, (f"the DKIM signature of {domain} does not sign every"
                            f" {field.title()} field of the message")
    return domain, ""


def _verify(verifier: dkim.DKIM, signature: _Signature, lookup: _KeyLookup) -> str:
    """Why the signature does not verify; ``""`` when it does."""
    try:
        if verifier.verify(idx=signature.index, dnsfunc=lookup):
            return ""
        return f"the DKIM signature of {signature.domain} does not verify"
    except (dns.exception.Timeout, _OutOfTime):
        return (f"the DKIM key of {signature.domain} could not be looked up in time"
                " (DKIM temporary error)")
    except dkim.DKIMException as exc:
        return f"the DKIM signature of {signature.domain} does not verify: {exc}"


def _summary(problems: list[str]) -> str:
    """The first few distinct ``problems``, in one line."""
    distinct = list(dict.fromkeys(problems))
    more = len(distinct) - _SHOWN_PROBLEMS
    return "; ".join(distinct[:_SHOWN_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
