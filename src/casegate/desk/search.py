"""Full-text search over cases and leads, with the database's own engine.

Every desk message is indexed as it is stored, by the database itself (migration
``0008_message_search_index``): an FTS5 table kept by triggers on SQLite (``unicode61``
tokens, diacritics folded), a generated ``tsvector`` column with a GIN index on PostgreSQL
(the ``simple`` configuration: no stemming, so every language is found word for word,
Hebrew and Arabic as well as Latin). A conversation matches a word when any of its
messages holds it (subject, text with its quoted part, sender, recipients, Cc) or an
attachment's name contains it; every wanted word must match, no excluded one may.
Results are ranked by the best message's relevance (bm25 / ts_rank; on SQLite, a word in
very many messages is matched but not weighed, :data:`RANKED_AT_MOST`), and each carries
that message's matching passage with the words marked (:func:`marked_html`).
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from casegate.desk.models import Attachment, Case, Lead
from casegate.desk.search_query import SearchQuery, Term

# How many of the newest matching conversations are ranked (the rest are not shown).
RANK_WINDOW = 1000
START, STOP = "\x02", "\x03"  # the engines' marks around a matching word


@dataclass(frozen=True)
class Hit:
    kind: str  # case or lead
    id: int
    subject: str
    requester: str
    status: str
    received_at: datetime
    snippet: str  # plain text, the matched words between START and STOP
    score: float
    words: tuple[str, ...] = ()  # the words looked for, marked in the subject

    @property
    def snippet_html(self) -> str:
        return marked_html(self.snippet)

    @property
    def subject_html(self) -> str:
        return marked_html(mark_words(self.subject, self.words))

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "subject": self.subject,
                "requester": self.requester, "status": self.status,
                "received_at": self.received_at.isoformat(), "score": self.score,
                "snippet": self.snippet.replace(START, "").replace(STOP, ""),
                "snippet_html": self.snippet_html, "subject_html": self.subject_html}


def mark_words(text: str, words: tuple[str, ...]) -> str:
    """``text`` with each of ``words`` (whole words, any case) between START and STOP."""
    wanted = [re.escape(w) for w in words if w.strip()]
    if not wanted:
        return text
    pattern = re.compile(rf"(?<!\w)({'|'.join(wanted)})(?!\w)", re.IGNORECASE)
    return pattern.sub(lambda found: f"{START}{found[1]}{STOP}", text)


def marked_html(snippet: str) -> str:
    """``snippet`` escaped for HTML, its matched words in ``<mark>``: never raw HTML, and
    a mark the text itself carries cannot open an element it does not close."""
    out: list[str] = []
    open_mark = False
    for piece in snippet.replace(STOP, START).split(START):
        out.append(html.escape(piece))
        out.append("</mark>" if open_mark else "<mark>")
        open_mark = not open_mark
    out.pop()
    if not open_mark:
        out.append("</mark>")
    return "".join(out)


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def _messages_matching(term: Term, link: str) -> RawSQL:
    """The conversations (``link``: case_id or lead_id) with a message matching ``term``."""
    if _postgresql():
        parse = "phraseto_tsquery" if term.phrase else "plainto_tsquery"
        words = f"m.search_vector @@ {parse}('simple', %s)"
        filename = "a.filename ILIKE %s"
        params: list[Any] = [term.text]
    else:
        words = ("m.id IN (SELECT rowid FROM desk_message_search"
                 " WHERE desk_message_search MATCH %s)")
        filename = "a.filename LIKE %s"
        params = [_fts_phrase(term.text)]
    like = _like(term)
    # Two selects, not one with OR: each can use its own index (PostgreSQL's GIN index on
    # the words), where an OR made the database read every case.
    return RawSQL(
        f"SELECT m.{link} FROM desk_deskmessage m WHERE m.{link} IS NOT NULL AND {words}"
        f" UNION SELECT m.{link} FROM desk_deskmessage m"
        f" JOIN {Attachment._meta.db_table} a ON a.message_id = m.id"
        f" WHERE m.{link} IS NOT NULL AND {filename} ESCAPE '\\'", [*params, like])


def _escaped(text: str) -> str:
    """``text`` in a LIKE pattern escaped with a backslash."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(term: Term) -> str:
    """A LIKE pattern of names holding ``term``."""
    return "%" + _escaped(term.text) + "%"


def _fts_phrase(text: str) -> str:
    """An FTS5 string: the words of ``text`` as one phrase (FTS5 tokenizes it as it did the
    messages)."""
    return '"' + text.replace('"', '""') + '"'


def _filtered(model: type[Case] | type[Lead], query: SearchQuery, base: QuerySet[Any]
              ) -> QuerySet[Any]:
    link = "case_id" if model is Case else "lead_id"
    found = base
    for term in query.wanted:
        found = found.filter(pk__in=_messages_matching(term, link))
    for term in query.unwanted:
        found = found.exclude(pk__in=_messages_matching(term, link))
    for sender in query.senders:
        wanted = (Q(messages__sender=sender) if "@" in sender
                  else Q(messages__sender__iendswith=f"@{sender.lstrip('@')}"))
        found = found.filter(pk__in=model.objects.filter(wanted).values("pk"))
    for recipient in query.recipients:  # a subquery each, not a join each
        copied = model.objects.filter(Q(messages__recipients__icontains=recipient)
                                      | Q(messages__cc__icontains=recipient)).values("pk")
        found = found.filter(Q(original_recipient__iexact=recipient) | Q(pk__in=copied))
    if query.statuses:
        found = found.filter(status__in=query.statuses)
    if query.intakes:
        named = Q()
        for intake in query.intakes:
            named |= Q(intake__address__iexact=intake) | Q(intake__name__iexact=intake)
        found = found.filter(named)
    if query.after:
        found = found.filter(received_at__gte=datetime.combine(query.after, time.min, UTC))
    if query.before:
        found = found.filter(received_at__lt=datetime.combine(query.before, time.min, UTC))
    if query.with_attachment:
        found = found.filter(messages__attachments__isnull=False).distinct()
    if model is Case:
        for tag in query.tags:
            found = found.filter(tags__contains=tag) if _postgresql() else found.filter(
                pk__in=RawSQL("SELECT c.id FROM desk_case c, json_each(c.tags)"
                              " WHERE json_each.value = %s", [tag]))
        for assignee in query.assignees:
            found = found.filter(Q(assignee__username=assignee) | Q(assignee__email=assignee))
    elif query.tags or query.assignees:
        return base.none()
    return found


def matching_cases(query: SearchQuery, cases: QuerySet[Case]) -> QuerySet[Case]:
    """The cases among ``cases`` that ``query`` finds, unranked (to count or sort them)."""
    return _filtered(Case, query, cases)


# How many of the newest messages holding a word are read for it. A word in fewer messages
# is looked up completely; when every word of a query is in more, the conversations of the
# newest messages holding all of them are the ones ranked.
PROBE = 200
# A word in more messages than this is matched but not ranked on SQLite: bm25 weighs a word
# by counting every message that holds it, which for a word in a third of a million
# messages costs more than all the rest of a search, and grows with the desk; such a word
# says little about relevance. (PostgreSQL's ts_rank does not weigh words so.)
RANKED_AT_MOST = 20_000
# How many of the newest messages PostgreSQL reads, for each one wanted, looking for a word
# before it asks the words' index.
_RECENT_ROWS = 50
# Ids passed to one statement at most (SQLite's limit of variables is 32,766).
_CHUNK = 10_000


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[at:at + _CHUNK] for at in range(0, len(ids), _CHUNK)]


def _fetch(sql: str, params: list[Any]) -> list[Any]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _fetch_in(sql: str, params: list[Any], ids: list[int]) -> list[Any]:
    """The rows of ``sql``, whose ``{ids}`` is a list of ``ids`` (in chunks) after
    ``params``."""
    rows: list[Any] = []
    for chunk in _chunks(ids):
        rows += _fetch(sql.format(ids=", ".join(["%s"] * len(chunk))), [*params, *chunk])
    return rows


@dataclass(frozen=True)
class _Sender:
    """``from:`` an address, or a domain (no ``@``)."""

    text: str

    def sent(self, ids: list[int]) -> set[int]:
        """Those of the messages ``ids`` sent from it."""
        if "@" in self.text:
            condition, value = "lower(sender) = %s", self.text.lower()
        else:
            domain = self.text.lstrip("@").lower()
            condition = "lower(sender) LIKE %s ESCAPE '\\'"
            value = "%@" + _escaped(domain)
        return {row[0] for row in _fetch_in(
            f"SELECT id FROM desk_deskmessage WHERE {condition} AND id IN ({{ids}})", [value],
            ids)}


Needle = Term | _Sender


class _Engine:
    """The messages a term, or a set of terms, matches, read through the database's own
    full-text index; always a bounded number of messages, newest first or among ids."""

    def indexes(self, needle: Needle) -> bool:
        """Whether the index finds ``needle`` (a sender's messages hold its address)."""
        return True

    def newest(self, terms: Sequence[Needle], every: bool, limit: int) -> list[int]:
        """The newest ``limit`` messages matching every one of ``terms`` (or any)."""
        raise NotImplementedError

    def few(self, needle: Needle, limit: int) -> list[int] | None:
        """All the messages matching ``needle``, newest first, when they are at most
        ``limit`` (None: more)."""
        found = self.newest([needle], True, limit + 1)
        return found if len(found) <= limit else None

    def among(self, terms: Sequence[Term], every: bool, ids: list[int]) -> set[int]:
        """Those of the messages ``ids`` that match."""
        raise NotImplementedError

    def scores(self, terms: Sequence[Term], ids: list[int]) -> dict[int, float]:
        """The relevance of each of the messages ``ids`` matching any of ``terms``."""
        raise NotImplementedError

    def snippets(self, terms: Sequence[Term], ids: list[int]) -> dict[int, str]:
        """The passage of each of the messages ``ids`` with the words marked."""
        raise NotImplementedError


class _SQLite(_Engine):
    def __init__(self) -> None:
        self._read: dict[tuple[tuple[Needle, ...], bool, int], list[int]] = {}

    @staticmethod
    def _expression(terms: Sequence[Needle], every: bool) -> str:
        return f" {'AND' if every else 'OR'} ".join(
            f"sender : {_fts_phrase(t.text)}" if isinstance(t, _Sender) else _fts_phrase(t.text)
            for t in terms)

    def newest(self, terms: Sequence[Needle], every: bool, limit: int) -> list[int]:
        key = (tuple(terms), every, limit)
        if key not in self._read:  # read once a search: ranking asks again
            self._read[key] = [row[0] for row in _fetch(
                "SELECT rowid FROM desk_message_search WHERE desk_message_search MATCH %s"
                " ORDER BY rowid DESC LIMIT %s", [self._expression(terms, every), limit])]
        return self._read[key]

    @functools.cached_property
    def _newest_id(self) -> int:
        return int(_fetch("SELECT max(id) FROM desk_deskmessage", [])[0][0] or 0)

    def _ranked(self, term: Term) -> bool:
        """Whether ``term`` is in at most :data:`RANKED_AT_MOST` messages, estimated from
        how far back its newest :data:`PROBE` messages reach; for a phrase, each of its
        words (bm25 reads every message holding each to find the phrase's)."""
        words = re.findall(r"[^\W_]+", term.text)  # as unicode61 splits them
        if len(words) > 1:
            return all(self._ranked(Term(word)) for word in words)
        found = self.newest([term], True, PROBE + 1)  # what few() read
        if len(found) <= PROBE:
            return True
        newest = max(self._newest_id, found[0])
        return (PROBE + 1) * newest / (newest - found[-1] + 1) <= RANKED_AT_MOST

    def _within(self, select: str, terms: Sequence[Term], every: bool, ids: list[int]
                ) -> list[Any]:
        # The index reads the word's list between the lowest and highest id and SQLite keeps
        # those in ids: "+rowid" stops it from looking each id up in the index instead,
        # which is slower by far.
        rows: list[Any] = []
        for chunk in _chunks(sorted(ids)):
            rows += _fetch(
                f"SELECT rowid, {select} FROM desk_message_search"
                " WHERE desk_message_search MATCH %s AND rowid BETWEEN %s AND %s"
                f" AND +rowid IN ({', '.join(['%s'] * len(chunk))})",
                [self._expression(terms, every), chunk[0], chunk[-1], *chunk])
        return rows

    def among(self, terms: Sequence[Term], every: bool, ids: list[int]) -> set[int]:
        return {row[0] for row in self._within("1", terms, every, ids)}

    def scores(self, terms: Sequence[Term], ids: list[int]) -> dict[int, float]:
        ranked = [term for term in terms if self._ranked(term)]
        scores = {row[0]: float(row[1]) for row in self._within(
            "-bm25(desk_message_search, 3.0)", ranked, False, ids)} if ranked else {}
        if unranked := [term for term in terms if term not in ranked]:
            for message in self.among(unranked, False, ids):
                scores.setdefault(message, 0.0)
        return scores

    def snippets(self, terms: Sequence[Term], ids: list[int]) -> dict[int, str]:
        return {row[0]: row[1] or "" for row in self._within(
            "snippet(desk_message_search, -1, char(2), char(3), '…', 16)", terms, False, ids)}


class _PostgreSQL(_Engine):
    def indexes(self, needle: Needle) -> bool:
        # An address is one word of the index; a domain is no word of it.
        return not isinstance(needle, _Sender) or "@" in needle.text

    @staticmethod
    def _tsquery(terms: Sequence[Needle], every: bool) -> tuple[str, list[str]]:
        parts = [f"{'phraseto_tsquery' if isinstance(t, Term) and t.phrase else 'plainto_tsquery'}"
                 "('simple', %s)" for t in terms]
        return f" {'&&' if every else '||'} ".join(parts), [t.text for t in terms]

    # Left to itself, the planner walks back through every message, newest first, for a word
    # it misjudges as common; and the words' index answers a common word slowly (every one
    # of its messages). So a word is first looked for among the newest messages only.

    def _recent(self, tsquery: str, params: list[str], limit: int) -> list[int]:
        """The newest ``limit`` matching among the newest ``_RECENT_ROWS * limit``."""
        return [row[0] for row in _fetch(
            "SELECT r.id FROM (SELECT m.id, m.search_vector FROM desk_deskmessage m"
            " ORDER BY m.id DESC LIMIT %s) r"
            f" WHERE r.search_vector @@ ({tsquery}) LIMIT %s",
            [_RECENT_ROWS * limit, *params, limit])]

    def _indexed(self, tsquery: str, params: list[str], tail: str, limit: int) -> list[int]:
        """Matching messages through the words' index alone."""
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute("SET LOCAL enable_indexscan = off")
            return [row[0] for row in _fetch(
                f"SELECT m.id FROM desk_deskmessage m WHERE m.search_vector @@ ({tsquery})"
                f"{tail} LIMIT %s", [*params, limit])]

    def newest(self, terms: Sequence[Needle], every: bool, limit: int) -> list[int]:
        tsquery, params = self._tsquery(terms, every)
        found = self._recent(tsquery, params, limit)
        if len(found) == limit:
            return found
        return self._indexed(tsquery, params, " ORDER BY m.id DESC", limit)

    def few(self, needle: Needle, limit: int) -> list[int] | None:
        tsquery, params = self._tsquery([needle], True)
        if len(self._recent(tsquery, params, limit + 1)) > limit:
            return None
        found = self._indexed(tsquery, params, "", limit + 1)  # stops at limit + 1
        return sorted(found, reverse=True) if len(found) <= limit else None

    def among(self, terms: Sequence[Term], every: bool, ids: list[int]) -> set[int]:
        tsquery, params = self._tsquery(terms, every)
        return {row[0] for row in _fetch(
            "SELECT m.id FROM desk_deskmessage m WHERE m.id = ANY(%s)"
            f" AND m.search_vector @@ ({tsquery})", [ids, *params])}

    def scores(self, terms: Sequence[Term], ids: list[int]) -> dict[int, float]:
        tsquery, params = self._tsquery(terms, False)
        return {row[0]: float(row[1]) for row in _fetch(
            f"WITH q AS (SELECT ({tsquery}) AS query)"
            " SELECT m.id, ts_rank(m.search_vector, q.query) FROM desk_deskmessage m, q"
            " WHERE m.id = ANY(%s) AND m.search_vector @@ q.query", [*params, ids])}

    def snippets(self, terms: Sequence[Term], ids: list[int]) -> dict[int, str]:
        tsquery, params = self._tsquery(terms, False)
        return {row[0]: row[1] or "" for row in _fetch(
            f"WITH q AS (SELECT ({tsquery}) AS query)"
            " SELECT m.id, ts_headline('simple', m.subject || ' — ' || left(m.text, 100000),"
            " q.query, 'StartSel=' || chr(2) || ', StopSel=' || chr(3) || ', MaxWords=30,"
            " MinWords=12') FROM desk_deskmessage m, q WHERE m.id = ANY(%s)",
            [*params, ids])}


def _named(term: Term, ids: list[int] | None = None) -> set[int]:
    """The messages (among ``ids``, or all) with an attachment whose name holds ``term``."""
    operator = "ILIKE" if _postgresql() else "LIKE"
    named = (f"SELECT message_id FROM {Attachment._meta.db_table}"
             f" WHERE filename {operator} %s ESCAPE '\\'")
    if ids is None:
        return {row[0] for row in _fetch(named, [_like(term)])}
    return {row[0] for row in _fetch_in(named + " AND message_id IN ({ids})", [_like(term)], ids)}


@dataclass
class _Thread:
    """The messages of some conversations: each message's conversation, as (kind, id)."""

    of: dict[int, tuple[str, int]]

    @classmethod
    def of_messages(cls, ids: set[int]) -> _Thread:
        """The conversations of messages ``ids``, with all their messages."""
        conversations: dict[str, set[int]] = {"case_id": set(), "lead_id": set()}
        for case_id, lead_id in _fetch_in(
                "SELECT case_id, lead_id FROM desk_deskmessage WHERE id IN ({ids})", [],
                sorted(ids)):
            if case_id is not None:
                conversations["case_id"].add(case_id)
            elif lead_id is not None:
                conversations["lead_id"].add(lead_id)
        return cls({pk: (link[:4], conversation) for link, found in conversations.items()
                    for pk, conversation in _fetch_in(
                        f"SELECT id, {link} FROM desk_deskmessage WHERE {link} IN ({{ids}})",
                        [], sorted(found))})

    def conversations(self, messages: set[int] | None = None) -> set[tuple[str, int]]:
        return {self.of[m] for m in (self.of if messages is None else messages) if m in self.of}

    def keep(self, conversations: set[tuple[str, int]]) -> None:
        self.of = {m: c for m, c in self.of.items() if c in conversations}


def _holding(engine: _Engine, needle: Needle, thread: _Thread) -> set[tuple[str, int]]:
    """The conversations of ``thread`` with a message holding ``needle`` (a word, or an
    attachment named so; a sender's message)."""
    ids = list(thread.of)
    if isinstance(needle, _Sender):
        return thread.conversations(needle.sent(ids))
    return thread.conversations(engine.among([needle], True, ids) | _named(needle, ids))


def _candidates(engine: _Engine, query: SearchQuery) -> _Thread | None:
    """The conversations holding every wanted word and none unwanted, from every sender
    asked, with their messages: all of them when a word or a sender is in at most
    :data:`PROBE` messages (the first such found leads: senders, then words, as written),
    else those of the newest messages holding every word (None: only an unbounded look
    finds them, for a domain's mail on PostgreSQL)."""
    needles: list[Needle] = [*(_Sender(s) for s in query.senders), *query.wanted]
    driver: Needle | None = None
    messages: list[int] = []
    for needle in (n for n in needles if engine.indexes(n)):
        found = engine.few(needle, PROBE)
        if found is not None:  # all its messages: no need to look further
            driver, messages = needle, found
            break
    if driver is not None:
        thread = _Thread.of_messages(
            set(messages) | (_named(driver) if isinstance(driver, Term) else set()))
        # A sender leading is checked again: the index finds its address among words
        # (bob@acme.example.net for acme.example), and in other fields than From.
        others = [n for n in needles if n is not driver or isinstance(n, _Sender)]
    elif all(engine.indexes(n) for n in needles):
        thread = _Thread.of_messages(set(engine.newest(needles, True, PROBE)))
        others = [n for n in needles if isinstance(n, _Sender)]  # the index's is near
    else:
        return None
    for needle in others:
        thread.keep(_holding(engine, needle, thread))
    for term in query.unwanted:
        thread.keep(thread.conversations() - _holding(engine, term, thread))
    return thread


def _listed(ids: Iterable[int]) -> RawSQL:
    """``ids`` as a subquery of one parameter: a list of thousands costs Django more to
    prepare, a value at a time, than the database to read."""
    listed = sorted(ids)
    if _postgresql():
        return RawSQL("SELECT unnest(%s::bigint[])", [listed])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(listed)])


def _without_words(query: SearchQuery) -> SearchQuery:
    return replace(query, terms=[], senders=[])


def search(query: SearchQuery, cases: QuerySet[Case] | None = None,
           leads: QuerySet[Lead] | None = None, limit: int = 50) -> list[Hit]:
    """The cases and leads matching ``query`` among ``cases`` and ``leads`` (default: all),
    best first; without words, newest first.

    The words are looked up first, in a bounded number of messages (:data:`PROBE`), then
    the other conditions on the conversations found, then the most relevant message of
    each is ranked: a search costs about the same at ten thousand messages as at a
    million."""
    words = tuple(word for term in query.wanted for word in re.findall(r"\w+", term.text))
    engine: _Engine = _PostgreSQL() if _postgresql() else _SQLite()
    thread = _candidates(engine, query) if query.wanted or query.senders else None
    fields = query if thread is None else _without_words(query)
    bases: dict[str, tuple[type[Case] | type[Lead], QuerySet[Any] | None]] = {
        "case": (Case, cases), "lead": (Lead, leads)}
    newest: dict[str, list[tuple[str, int]]] = {}
    for kind, (model, base) in bases.items():
        found = _filtered(model, fields,
                          base if base is not None else model._default_manager.all())
        if thread is not None:
            found = found.filter(pk__in=_listed(pk for k, pk in thread.conversations()
                                                if k == kind))
        newest[kind] = [(kind, pk) for pk in found.order_by("-received_at").values_list(
            "pk", flat=True)[:RANK_WINDOW if query.wanted else limit]]
    best: dict[tuple[str, int], tuple[float, int]] = {}
    if thread is not None and query.wanted:
        thread.keep({c for listed in newest.values() for c in listed})
        best = _best_messages(engine, query, thread)
    chosen: list[tuple[str, int]] = []
    for listed in newest.values():
        # The best first, and of equal ones the newest: each kind's best few are enough.
        position = {conversation: n for n, conversation in enumerate(listed)}
        chosen += sorted(listed, key=lambda c: (-best.get(c, (0.0, 0))[0], position[c]))[:limit]
    hits = _hits(chosen, best, words, bases)
    if best:
        messages = [best[(h.kind, h.id)][1] for h in hits if (h.kind, h.id) in best]
        snippets = engine.snippets(query.wanted, messages)
        hits = [replace(h, snippet=snippets.get(best[(h.kind, h.id)][1], ""))
                if (h.kind, h.id) in best else h for h in hits]
    return hits[:limit]


def _best_messages(engine: _Engine, query: SearchQuery, thread: _Thread
                   ) -> dict[tuple[str, int], tuple[float, int]]:
    """Each conversation's most relevant message, with its score."""
    best: dict[tuple[str, int], tuple[float, int]] = {}
    for message, score in engine.scores(query.wanted, list(thread.of)).items():
        conversation = thread.of[message]
        if conversation not in best or (score, message) > best[conversation]:
            best[conversation] = (score, message)
    return best


def _hits(chosen: list[tuple[str, int]], best: dict[tuple[str, int], tuple[float, int]],
          words: tuple[str, ...],
          bases: dict[str, tuple[type[Case] | type[Lead], QuerySet[Any] | None]]) -> list[Hit]:
    """The conversations ``chosen`` as hits, best first, then newest first."""
    hits = []
    for kind, (model, _) in bases.items():
        ids = [pk for k, pk in chosen if k == kind]
        for row in model._default_manager.filter(pk__in=ids).values(
                "pk", "subject", "requester", "status", "received_at"):
            hits.append(Hit(kind, row["pk"], row["subject"], row["requester"], row["status"],
                            row["received_at"], "", best.get((kind, row["pk"]), (0.0, 0))[0],
                            words))
    return sorted(hits, key=lambda h: (h.score, h.received_at), reverse=True)
