"""A stored spam report (``Message.spam_report``, :meth:`SpamVerdict.report`) as people and
mail read it: one line for the trace, and the ``X-Spam-*`` headers a rule can add."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from casegate.filtering.vocabulary import SpamAction

HEADER_ROOM = 900  # characters of symbol names in X-Spam-Status (a line holds 998)


def by_weight(symbols: Mapping[str, float | None]) -> list[tuple[str, float | None]]:
    """The symbols with their scores, the heaviest first, then by name."""
    return sorted(symbols.items(), key=lambda item: (-abs(item[1] or 0), item[0]))


def weighty(symbols: Mapping[str, float | None]) -> list[str]:
    """The names of the symbols that weigh something, the heaviest first (all of them, by
    name, when the filter gives no scores)."""
    return [name for name, score in by_weight(symbols) if score != 0]


def _scored(report: Mapping[str, Any]) -> list[str]:
    """The report's weighty symbols: ``NAME(score)``, or ``NAME`` without a score."""
    symbols: Mapping[str, float | None] = report.get("symbols") or {}
    return [name if symbols[name] is None else f"{name}({symbols[name]:g})"
            for name in weighty(symbols)]


def describe(report: Mapping[str, Any]) -> str:
    """One line: who classified the message, what it decided, the score and symbols."""
    if not report:
        return "not classified"
    action = report.get("action", "")
    label = SpamAction(action).label if action in SpamAction.values else action
    text = f"{report.get('classifier', '?')}: {label}"
    if report.get("filter_action") and report["filter_action"] != action:
        text += f" [{report['filter_action']}]"
    if report.get("score") is not None:
        text += f", score {report['score']:.2f}"
        if report.get("required_score") is not None:
            text += f" of {report['required_score']:.2f}"
    if not report.get("scanned", True):
        text += f" ({report.get('reason', '')})"
    symbols = _scored(report)
    if symbols:
        text += f"; symbols {', '.join(symbols)}"
    return text


def spam_status_headers(report: Mapping[str, Any], spam: bool) -> tuple[tuple[str, str], ...]:
    """``X-Spam-Score`` and ``X-Spam-Status`` (SpamAssassin's form: ``Yes, score=7.10
    required=15.00 tests=A,B``) when the report has a score; nothing otherwise."""
    if report.get("score") is None:
        return ()
    score = float(report["score"])
    status = f"{'Yes' if spam else 'No'}, score={score:.2f}"
    if report.get("required_score") is not None:
        status += f" required={float(report['required_score']):.2f}"
    tests: list[str] = []
    for name in weighty(report.get("symbols") or {}):
        if sum(len(t) + 1 for t in tests) + len(name) > HEADER_ROOM:
            break
        tests.append(name)
    status += f" tests={','.join(tests) or 'none'}"
    return (("X-Spam-Score", f"{score:.2f}"), ("X-Spam-Status", status))
