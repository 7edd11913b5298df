"""SpamAssassin through spamd's protocol, against a real spamd (Debian's ``spamd``, local
tests only); skipped, with the reason printed, where spamd is not installed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from casegate.filtering.classifiers import GTUBE, InboundMessage, SpamVerdict
from casegate.filtering.spamassassin import SpamAssassinClassifier
from casegate.filtering.vocabulary import SpamAction
from casegate.mail.headers import HeaderFields
from tests.spam_filters import running_spamd, spamd_missing
from tests.support import free_port

HAM = (b"From: Dana <dana@example.net>\r\nTo: help@solarmora.com\r\nSubject: Panel\r\n"
       b"Message-ID: <ham.1@example.net>\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\n"
       b"Our panel stopped charging after the storm; could you call us back?\r\n")


@pytest.fixture(scope="module")
def spamd() -> Iterator[tuple[str, int]]:
    reason = spamd_missing()
    if reason:
        print(f"SKIP SpamAssassin: {reason}")
        pytest.skip(reason)
    with running_spamd() as address:
        yield address


def scan(classifier: SpamAssassinClassifier, raw: bytes) -> SpamVerdict:
    return asyncio.run(classifier.classify(InboundMessage(raw, HeaderFields(raw), None, False)))


def test_gtube_is_spam_with_spamds_score_and_rules(spamd: tuple[str, int]) -> None:
    verdict = scan(SpamAssassinClassifier(spamd, 30, "tempfail"), HAM + GTUBE + b"\r\n")
    assert verdict.action == SpamAction.SPAM and verdict.classifier == "spamassassin"
    assert verdict.score is not None and verdict.score >= 1000
    assert verdict.required_score == 5.0
    assert "GTUBE" in verdict.symbols and verdict.symbols["GTUBE"] is None
    assert verdict.reason.startswith("spamassassin: spam, score 10")


def test_ordinary_mail_is_ham(spamd: tuple[str, int]) -> None:
    verdict = scan(SpamAssassinClassifier(spamd, 30, "tempfail"), HAM)
    assert verdict.action == SpamAction.HAM and verdict.scanned
    assert verdict.score is not None and verdict.score < 5


def test_spamd_down_is_not_scanned_or_tempfail() -> None:
    down = ("127.0.0.1", free_port())
    assert scan(SpamAssassinClassifier(down, 2, "accept"), HAM).action == SpamAction.NOT_SCANNED
    assert scan(SpamAssassinClassifier(down, 2, "tempfail"), HAM).action == SpamAction.TEMPFAIL
