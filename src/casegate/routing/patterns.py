"""Matching an address against many pattern rules at once, in time that does not grow with
their number.

Patterns are regular expressions matched against the whole (lower-case) address with
RE2, which runs in linear time: no pattern an administrator types can make matching
take exponential time, and all patterns are compiled together into sets
(``re2.Set``), so one pass over the address finds every pattern that matches.

Most patterns name their domain literally (``sales-.*@solarmora\\.com``). Those are
grouped by that domain, each domain's patterns forming one set, and an address is only
tried against the set of its own domain plus the set of patterns that could match any
domain. With 100,000 patterns spread over many domains, matching an address costs about
what it costs with one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

import re2
from django.utils.translation import gettext as _

_T = TypeVar("_T")
_LITERAL_DOMAIN = re.compile(r"(?:[a-z0-9-]+\\\.)+[a-z0-9-]+")
_MAX_MEMORY = 1 << 30


class PatternError(ValueError):
    """The pattern cannot be used to match addresses."""


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = _MAX_MEMORY
    options.case_sensitive = False
    options.log_errors = False
    return options


def check_pattern(pattern: str) -> None:
    """Raise :class:`PatternError` when ``pattern`` is not a regular expression, or uses
    what cannot be matched in linear time (backreferences, lookaround)."""
    try:
        re2.compile(pattern, options=_options())
    except re2.error:
        pass
    else:
        return
    # RE2 does the matching; Python's parser only words why a pattern was refused.
    try:
        re.compile(pattern)
    except re.error as exc:
        raise PatternError(str(exc)) from None
    raise PatternError(_("it uses a backreference, a lookaround or another feature that "
                         "cannot be matched in linear time"))


def literal_domain(pattern: str) -> str | None:
    """The domain every match of ``pattern`` must have, when the pattern spells it out
    after a top-level ``@`` (``.*@solarmora\\.com``, ``^a.*@solarmora\\.com$``)."""
    at = pattern.rfind("@")
    if at < 0 or "|" in pattern:
        return None
    depth = 0
    escaped = False
    for char in pattern[:at]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
    if depth or escaped:
        return None
    tail = pattern[at + 1:].removesuffix("$").removesuffix("\\z").lower()
    if not _LITERAL_DOMAIN.fullmatch(tail):
        return None
    return tail.replace("\\.", ".")


def literal_prefix(pattern: str) -> str:
    """The lower-case text every match of ``pattern`` starts with ("" when it may start
    with anything): ``team-[a-z]+@x\\.com`` starts with ``team-``."""
    text = pattern.removeprefix("^")
    if "|" in text or text.startswith("(?"):
        return ""
    prefix: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and text[index + 1:index + 2] in (".", "-", "+", "_", "@"):
            literal, step = text[index + 1], 2
        elif char.isascii() and (char.isalnum() or char in "-_@"):
            literal, step = char, 1  # beyond ASCII, RE2's case folding is not str.lower()
        else:
            break
        following = text[index + step:index + step + 1]
        if following and following in "*?{":  # this character may be absent or repeated
            break
        prefix.append(literal.lower())
        index += step
        if following == "+":
            break
    return "".join(prefix)


class _Set(Generic[_T]):
    """One compiled RE2 set and the items its patterns stand for.

    When every pattern starts with some literal text, an address that starts with none of
    those texts is answered without running the set (most addresses, most of the time).
    """

    def __init__(self, pairs: Sequence[tuple[str, _T]]) -> None:
        self.items = [item for _pattern, item in pairs]
        self.set = re2.Set.FullMatchSet(_options())
        for pattern, _item in pairs:
            self.set.Add(pattern)
        self.set.Compile()
        prefixes = [literal_prefix(pattern) for pattern, _item in pairs]
        self.prefix_length = min(min(len(p) for p in prefixes), 4)
        self.prefixes = frozenset(p[:self.prefix_length] for p in prefixes)

    def matches(self, text: str) -> list[_T]:
        if self.prefix_length and text[:self.prefix_length] not in self.prefixes:
            return []
        found = self.set.Match(text)
        return [self.items[i] for i in found] if found else []


class PatternIndex(Generic[_T]):
    """Items keyed by patterns; ``matching(address)`` gives the items whose pattern matches
    the whole address."""

    def __init__(self, pairs: Iterable[tuple[str, _T]]) -> None:
        by_domain: dict[str, list[tuple[str, _T]]] = {}
        anywhere: list[tuple[str, _T]] = []
        for pattern, item in pairs:
            domain = literal_domain(pattern)
            (by_domain.setdefault(domain, []) if domain else anywhere).append((pattern, item))
        self._by_domain = {domain: _Set(p) for domain, p in by_domain.items()}
        self._anywhere = _Set(anywhere) if anywhere else None
        self.size = sum(len(p) for p in by_domain.values()) + len(anywhere)

    def matching(self, address: str) -> list[_T]:
        if not self.size:
            return []
        found: list[_T] = []
        domain_set = self._by_domain.get(address.rpartition("@")[2])
        if domain_set is not None:
            found = domain_set.matches(address)
        if self._anywhere is not None:
            found += self._anywhere.matches(address)
        return found
