"""The classifier interface: the baseline classifiers, how verdicts combine, and which
classifiers CASEGATE_CLASSIFIERS and CASEGATE_RSPAMD_URL load."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from casegate.config import DEFAULT_CLASSIFIERS
from casegate.filtering.classifiers import (
    GTUBE,
    NOT_SPAM,
    Classifier,
    ClassifierError,
    GtubeClassifier,
    InboundMessage,
    SpamVerdict,
    TrustedUpstreamFlag,
    classify,
    load_classifiers,
)
from casegate.filtering.rspamd import RspamdClassifier
from casegate.filtering.spamassassin import SpamAssassinClassifier
from casegate.filtering.vocabulary import SpamAction
from casegate.mail.headers import HeaderFields


def inbound(raw: bytes, trusted: bool = False, peer: str | None = "192.0.2.10") -> InboundMessage:
    return InboundMessage(raw, HeaderFields(raw), peer, trusted)


def verdict_of(classifier: Classifier, message: InboundMessage) -> SpamVerdict:
    return combined(message, [classifier])


def combined(message: InboundMessage, classifiers: list[Classifier]) -> SpamVerdict:
    return asyncio.run(classify(message, classifiers))


class Saying:
    """A classifier that always gives ``verdict``."""

    def __init__(self, name: str, action: SpamAction) -> None:
        self.name = name
        self.verdict = SpamVerdict(action, f"{name} says {action}", name)

    async def classify(self, message: InboundMessage) -> SpamVerdict:
        return self.verdict


def test_gtube_in_the_body_is_spam() -> None:
    verdict = verdict_of(GtubeClassifier(), inbound(b"Subject: test\r\n\r\n" + GTUBE + b"\r\n"))
    assert verdict == SpamVerdict(SpamAction.SPAM, "GTUBE test string", "gtube")
    assert verdict.spam


def test_message_without_gtube_is_ham_checked_by_gtube() -> None:
    verdict = verdict_of(GtubeClassifier(), inbound(b"Subject: hi\r\n\r\nhello\r\n"))
    assert verdict == SpamVerdict(SpamAction.HAM, classifier="gtube")
    assert not verdict.spam and verdict.scanned


def test_partial_gtube_string_is_not_spam() -> None:
    raw = b"Subject: hi\r\n\r\n" + GTUBE[:-5] + b"\r\n"
    assert verdict_of(GtubeClassifier(), inbound(raw)).spam is False


def test_spam_flag_from_trusted_peer_is_spam() -> None:
    verdict = verdict_of(TrustedUpstreamFlag(),
                         inbound(b"X-Spam-Flag: YES\r\n\r\nbody", trusted=True, peer="127.0.0.1"))
    assert verdict.spam is True
    assert "trusted" in verdict.reason


@pytest.mark.parametrize("value", [b"yes", b" Yes ", b"YES"])
def test_spam_flag_value_is_compared_case_insensitively(value: bytes) -> None:
    raw = b"X-Spam-Flag: " + value + b"\r\n\r\nbody"
    assert verdict_of(TrustedUpstreamFlag(), inbound(raw, trusted=True)).spam is True


def test_spam_flag_from_untrusted_peer_is_ignored() -> None:
    raw = b"X-Spam-Flag: YES\r\n\r\nbody"
    assert verdict_of(TrustedUpstreamFlag(), inbound(raw, trusted=False)).spam is False


@pytest.mark.parametrize("value", [b"NO", b"", b"YES please"])
def test_spam_flag_other_than_yes_is_not_spam(value: bytes) -> None:
    raw = b"X-Spam-Flag: " + value + b"\r\n\r\nbody"
    assert verdict_of(TrustedUpstreamFlag(), inbound(raw, trusted=True)).spam is False


def test_spam_flag_in_the_body_is_not_a_header() -> None:
    raw = b"Subject: x\r\n\r\nX-Spam-Flag: YES\r\n"
    assert verdict_of(TrustedUpstreamFlag(), inbound(raw, trusted=True)).spam is False


def test_the_first_of_equally_strong_verdicts_decides() -> None:
    raw = b"X-Spam-Flag: YES\r\n\r\n" + GTUBE
    verdict = combined(inbound(raw, trusted=True), [GtubeClassifier(), TrustedUpstreamFlag()])
    assert verdict.reason == "GTUBE test string"


@pytest.mark.parametrize(("actions", "decides"), [
    ((SpamAction.HAM, SpamAction.SPAM), SpamAction.SPAM),
    ((SpamAction.SPAM, SpamAction.REJECT), SpamAction.REJECT),
    ((SpamAction.NOT_SCANNED, SpamAction.HAM), SpamAction.NOT_SCANNED),
    ((SpamAction.NOT_SCANNED, SpamAction.SPAM), SpamAction.SPAM),
    ((SpamAction.TEMPFAIL, SpamAction.SPAM), SpamAction.TEMPFAIL),
    ((SpamAction.GREYLIST, SpamAction.SOFT_REJECT), SpamAction.SOFT_REJECT),
    ((SpamAction.SOFT_REJECT, SpamAction.REJECT), SpamAction.REJECT),
])
def test_the_strongest_verdict_decides_whatever_the_order(
        actions: tuple[SpamAction, SpamAction], decides: SpamAction) -> None:
    classifiers: list[Classifier] = [Saying(f"c{i}", a) for i, a in enumerate(actions)]
    assert combined(inbound(b"Subject: x\r\n\r\n"), classifiers).action == decides
    assert combined(inbound(b"Subject: x\r\n\r\n"), classifiers[::-1]).action == decides


def test_classify_without_spam_is_not_spam() -> None:
    assert combined(inbound(b"Subject: x\r\n\r\nhi"), load_classifiers()).spam is False


def test_classify_without_classifiers_is_not_spam_and_reports_nothing() -> None:
    verdict = combined(inbound(b"Subject: x\r\n\r\n" + GTUBE), [])
    assert verdict == NOT_SPAM
    assert verdict.report() == {}


def test_a_report_holds_the_classifier_action_score_and_symbols() -> None:
    verdict = SpamVerdict(SpamAction.SPAM, "rspamd: add header", "rspamd", 7.5, 15.0,
                          {"BAD": 7.0, "MEH": 0.5}, "add header")
    assert verdict.report() == {
        "classifier": "rspamd", "action": "spam", "filter_action": "add header",
        "scanned": True, "score": 7.5, "required_score": 15.0,
        "symbols": {"BAD": 7.0, "MEH": 0.5}, "reason": "rspamd: add header"}


def test_a_message_the_filter_did_not_answer_for_is_reported_not_scanned() -> None:
    verdict = SpamVerdict(SpamAction.NOT_SCANNED, "rspamd unavailable: refused", "rspamd")
    assert verdict.report()["scanned"] is False
    assert verdict.spam is False


def test_default_classifiers_are_gtube_and_trusted_flag(setting: Callable[..., None]) -> None:
    setting("CASEGATE_CLASSIFIERS", None)
    setting("CASEGATE_RSPAMD_URL", None)
    loaded = load_classifiers()
    assert [type(c) for c in loaded] == [GtubeClassifier, TrustedUpstreamFlag]


def test_classifiers_are_read_from_the_environment(setting: Callable[..., None]) -> None:
    setting("CASEGATE_CLASSIFIERS", "casegate.filtering.classifiers.GtubeClassifier")
    assert [type(c) for c in load_classifiers()] == [GtubeClassifier]


def test_short_names_load_the_built_in_classifiers(setting: Callable[..., None]) -> None:
    setting("CASEGATE_RSPAMD_URL", "http://127.0.0.1:11333")
    loaded = load_classifiers("spamassassin, trusted-flag, rspamd")
    assert [type(c) for c in loaded] == [SpamAssassinClassifier, TrustedUpstreamFlag,
                                         RspamdClassifier]


def test_an_rspamd_url_puts_rspamd_in_front_of_the_list(setting: Callable[..., None]) -> None:
    setting("CASEGATE_RSPAMD_URL", "http://127.0.0.1:11333/")
    loaded = load_classifiers(DEFAULT_CLASSIFIERS)
    assert [type(c) for c in loaded] == [RspamdClassifier, GtubeClassifier, TrustedUpstreamFlag]
    assert isinstance(loaded[0], RspamdClassifier)
    assert loaded[0].url == "http://127.0.0.1:11333/checkv2"


def test_rspamd_named_without_a_url_is_refused(setting: Callable[..., None]) -> None:
    setting("CASEGATE_RSPAMD_URL", None)
    with pytest.raises(ClassifierError, match="CASEGATE_RSPAMD_URL is empty"):
        load_classifiers("rspamd")


def test_load_classifiers_ignores_blanks_and_spaces() -> None:
    spec = f" {DEFAULT_CLASSIFIERS.replace(',', ' , ,')} ,"
    assert [type(c) for c in load_classifiers(spec)] == [GtubeClassifier, TrustedUpstreamFlag]


def test_empty_spec_loads_no_classifiers() -> None:
    assert load_classifiers("") == []


@pytest.mark.parametrize(
    "dotted",
    [
        "casegate.filtering.no_such_module.Classifier",
        "casegate.filtering.classifiers.NoSuchClassifier",
        "NoDotsAtAll",
        "no_such_package_xyz.Classifier",
    ],
)
def test_bad_dotted_path_raises_classifier_error(dotted: str) -> None:
    with pytest.raises(ClassifierError) as info:
        load_classifiers(f"gtube,{dotted}")
    assert str(info.value).startswith(f"CASEGATE_CLASSIFIERS: cannot load {dotted!r} (")
