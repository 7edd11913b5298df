"""The agents' search syntax, read into a :class:`SearchQuery`.

Words and ``"exact phrases"`` are looked for in the subjects, texts (new and quoted),
senders, recipients and attachment names of a conversation's messages; ``-word`` and
``-"a phrase"`` exclude; ``field:value`` narrows: ``from:`` (an address or a domain),
``to:``, ``status:``, ``tag:``, ``assignee:``, ``intake:``, ``before:`` and ``after:``
(``YYYY-MM-DD``) and ``has:attachment``. A field the syntax does not know is searched as a
word, so nothing an agent types is silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

FIELDS = ("from", "to", "status", "tag", "assignee", "intake", "before", "after", "has")
MAX_TERMS = 20  # each term is one index lookup

_TOKEN = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"?|(\S+))')
_WORD_CHARACTER = re.compile(r"\w")


class SearchSyntaxError(ValueError):
    """A query the syntax cannot read; the message says what to change."""


@dataclass(frozen=True)
class Term:
    """A word or a phrase, wanted or (``excluded``) not."""

    text: str
    excluded: bool = False
    phrase: bool = False


@dataclass
class SearchQuery:
    terms: list[Term] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)  # from: address or domain
    recipients: list[str] = field(default_factory=list)  # to:
    statuses: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    intakes: list[str] = field(default_factory=list)
    before: date | None = None
    after: date | None = None
    with_attachment: bool = False

    @property
    def wanted(self) -> list[Term]:
        return [t for t in self.terms if not t.excluded]

    @property
    def unwanted(self) -> list[Term]:
        return [t for t in self.terms if t.excluded]

    @property
    def empty(self) -> bool:
        return self == SearchQuery()



def _date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SearchSyntaxError(f"{name}: wants a date as YYYY-MM-DD, not {value!r}") from None


def parse_query(text: str) -> SearchQuery:
    """Read ``text`` in the search syntax (see the module)."""
    if "\x00" in text:  # it ends FTS5's string, and PostgreSQL takes none
        raise SearchSyntaxError("a search holds no NUL character")
    query = SearchQuery()
    for found in _TOKEN.finditer(text):
        minus, name, quoted, bare = found.groups()
        value = quoted if quoted is not None else bare
        name = (name or "").lower()
        if not name and value.endswith(":") and value[:-1].lower() in FIELDS:
            name, value = value[:-1].lower(), ""
        if name and name not in FIELDS:  # not a field: the whole token is a word
            value, name = f"{name}:{value}", ""
        if not name:
            # A word of punctuation alone ("refund - invoice") is in no index: looked for,
            # it would find nothing and empty the whole search.
            if _WORD_CHARACTER.search(value):
                query.terms.append(Term(value.strip(), bool(minus), quoted is not None))
            continue
        value = value.strip()
        if not value:
            raise SearchSyntaxError(f"{name}: needs a value, as in {name}:something")
        if minus:
            raise SearchSyntaxError(f"-{name}: a field cannot be left out; only words can"
                                    " (-word)")
        if name == "from":
            query.senders.append(value.lower())
        elif name == "to":
            query.recipients.append(value.lower())
        elif name == "status":
            query.statuses.append(value.lower())
        elif name == "tag":
            query.tags.append(value.lower())  # as tags are kept
        elif name == "assignee":
            query.assignees.append(value)
        elif name == "intake":
            query.intakes.append(value.lower())
        elif name == "before":
            query.before = _date(name, value)
        elif name == "after":
            query.after = _date(name, value)
        elif value.lower() in ("attachment", "attachments"):
            query.with_attachment = True
        else:
            raise SearchSyntaxError(f"has:{value} is not known; has:attachment is")
    if len(query.terms) > MAX_TERMS:
        raise SearchSyntaxError(f"at most {MAX_TERMS} words and phrases in one search")
    if len(query.senders) + len(query.recipients) > MAX_TERMS:
        raise SearchSyntaxError(f"at most {MAX_TERMS} from: and to: in one search")
    return query
