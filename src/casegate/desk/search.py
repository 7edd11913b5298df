"""Full-text search over cases and leads, with the database's own engine.

Every desk message is indexed as it is stored, by the database itself (migration
``0008_message_search_index``): an FTS5 table kept by triggers on SQLite (``unicode61``
tokens, diacritics folded), a generated ``tsvector`` column with a GIN index on PostgreSQL
(the ``simple`` configuration: no stemming, so every language is found word for word,
Hebrew and Arabic as well as Latin). A conversation matches a word when any of its
messages holds it (subject, text with its quoted part, sender, recipients, Cc) or an
attachment's name contains it; every wanted word must match, no excluded one may.
Results are ranked by the best message's relevance (bm25 / ts_rank), and each carries that
message's matching passage with the words marked (:func:`marked_html`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from django.db import connection
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
    like = "%" + term.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    # Two selects, not one with OR: each can use its own index (PostgreSQL's GIN index on
    # the words), where an OR made the database read every case.
    return RawSQL(
        f"SELECT m.{link} FROM desk_deskmessage m WHERE m.{link} IS NOT NULL AND {words}"
        f" UNION SELECT m.{link} FROM desk_deskmessage m"
        f" JOIN {Attachment._meta.db_table} a ON a.message_id = m.id"
        f" WHERE m.{link} IS NOT NULL AND {filename} ESCAPE '\\'", [*params, like])


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
    for recipient in query.recipients:
        found = found.filter(Q(original_recipient__iexact=recipient)
                             | Q(messages__recipients__icontains=recipient)
                             | Q(messages__cc__icontains=recipient)).distinct()
    if query.statuses:
        found = found.filter(status__in=query.statuses)
    if query.intakes:
        found = found.filter(Q(intake__address__in=query.intakes)
                             | Q(intake__name__in=query.intakes))
    if query.after:
        found = found.filter(received_at__gte=datetime.combine(query.after, time.min))
    if query.before:
        found = found.filter(received_at__lt=datetime.combine(query.before, time.min))
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


def _ranked(ids: list[int], link: str, query: SearchQuery) -> dict[int, tuple[float, str]]:
    """Each conversation's best score and the passage of its best message."""
    wanted = query.wanted
    if not ids or not wanted:
        return {}
    marks: list[Any]
    if _postgresql():
        tsquery = " || ".join(
            f"{'phraseto_tsquery' if t.phrase else 'plainto_tsquery'}('simple', %s)"
            for t in wanted)
        sql = (f"WITH q AS (SELECT ({tsquery}) AS query)"
               f" SELECT m.{link}, ts_rank(m.search_vector, q.query) AS score,"
               " ts_headline('simple', m.subject || ' — ' || left(m.text, 100000), q.query,"
               " 'StartSel=' || chr(2) || ', StopSel=' || chr(3) || ', MaxWords=30, MinWords=12')"
               f" FROM desk_deskmessage m, q WHERE m.{link} = ANY(%s)"
               " AND m.search_vector @@ q.query")
        marks = [*(t.text for t in wanted), ids]
    else:
        expression = " OR ".join(_fts_phrase(t.text) for t in wanted)
        sql = (f"SELECT m.{link}, -bm25(desk_message_search, 3.0) AS score,"
               " snippet(desk_message_search, -1, char(2), char(3), '…', 16)"
               " FROM desk_message_search JOIN desk_deskmessage m"
               " ON m.id = desk_message_search.rowid"
               f" WHERE desk_message_search MATCH %s AND m.{link} IN"
               f" ({', '.join(['%s'] * len(ids))})")
        marks = [expression, *ids]
    best: dict[int, tuple[float, str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, marks)
        for conversation, score, snippet in cursor.fetchall():
            if conversation not in best or score > best[conversation][0]:
                best[conversation] = (float(score), snippet or "")
    return best


def search(query: SearchQuery, cases: QuerySet[Case] | None = None,
           leads: QuerySet[Lead] | None = None, limit: int = 50) -> list[Hit]:
    """The cases and leads matching ``query`` among ``cases`` and ``leads`` (default: all),
    best first; without words, newest first."""
    hits: list[Hit] = []
    words = tuple(word for term in query.wanted for word in re.findall(r"\w+", term.text))
    for model, base, kind in ((Case, cases, "case"), (Lead, leads, "lead")):
        found = _filtered(model, query, base if base is not None else model.objects.all())
        rows = list(found.order_by("-received_at").values(
            "pk", "subject", "requester", "status", "received_at")[:RANK_WINDOW])
        ranked = _ranked([r["pk"] for r in rows], "case_id" if model is Case else "lead_id",
                         query)
        for r in rows:
            score, snippet = ranked.get(r["pk"], (0.0, ""))
            hits.append(Hit(kind, r["pk"], r["subject"], r["requester"], r["status"],
                            r["received_at"], snippet, score, words))
    hits.sort(key=lambda h: (h.score, h.received_at), reverse=True)
    return hits[:limit]
