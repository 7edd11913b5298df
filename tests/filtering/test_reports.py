"""A stored spam report as the trace line and the X-Spam-* headers."""

from __future__ import annotations

from casegate.filtering.classifiers import SpamVerdict
from casegate.filtering.reports import HEADER_ROOM, describe, spam_status_headers
from casegate.filtering.vocabulary import SpamAction

SPAM = SpamVerdict(SpamAction.SPAM, "rspamd: add header", "rspamd", 11.1, 15.0,
                   {"ONCE_RECEIVED": 0.1, "TEST": 10.0, "ARC_NA": 0.0, "GOOD": -1.0},
                   "add header").report()


def test_the_trace_line_names_classifier_action_score_and_weighty_symbols() -> None:
    assert describe(SPAM) == (
        "rspamd: spam (routing decides: bypass rules deliver it, otherwise quarantine)"
        " [add header], score 11.10 of 15.00; symbols TEST(10), GOOD(-1), ONCE_RECEIVED(0.1)")


def test_the_trace_line_of_an_unscanned_message_says_why() -> None:
    report = SpamVerdict(SpamAction.NOT_SCANNED, "rspamd unavailable: no answer within 5 s",
                         "rspamd").report()
    assert describe(report) == ("rspamd: accepted without a scan (the filter did not answer)"
                                " (rspamd unavailable: no answer within 5 s)")


def test_no_report_is_not_classified() -> None:
    assert describe({}) == "not classified"


def test_spam_status_headers_in_spamassassins_form() -> None:
    assert spam_status_headers(SPAM, spam=True) == (
        ("X-Spam-Score", "11.10"),
        ("X-Spam-Status", "Yes, score=11.10 required=15.00 tests=TEST,GOOD,ONCE_RECEIVED"))


def test_spamassassin_symbols_without_scores_are_all_listed() -> None:
    report = SpamVerdict(SpamAction.HAM, "", "spamassassin", 1.2, 5.0,
                         {"NO_RELAYS": None, "MISSING_DATE": None}, "ham").report()
    assert spam_status_headers(report, spam=False)[1] == (
        "X-Spam-Status", "No, score=1.20 required=5.00 tests=MISSING_DATE,NO_RELAYS")


def test_a_long_symbol_list_stays_within_a_header_line() -> None:
    symbols: dict[str, float | None] = {f"SYMBOL_NUMBER_{n:04d}": 1.0 for n in range(500)}
    report = SpamVerdict(SpamAction.SPAM, "", "rspamd", 500.0, 15.0, symbols).report()
    status = spam_status_headers(report, spam=True)[1][1]
    assert len(status.split("tests=")[1]) <= HEADER_ROOM and len(status) < 998


def test_no_score_no_headers() -> None:
    assert spam_status_headers(SpamVerdict(SpamAction.SPAM, "", "gtube").report(), True) == ()
