"""A copy's edits: how the edits of two recipients of one copy merge, and their JSON form."""

from __future__ import annotations

import json

from casegate.routing.engine import NO_EDITS, Edits
from casegate.spool.copy_edits import NO_COPY_EDITS, CopyEdits

SECURE = CopyEdits((("X-A", "1"),), remove_attachments=True, require_tls=True)
PLAIN = CopyEdits((("X-B", "2"),), subject_prefix="[P]")


def test_merging_keeps_the_safer_of_each_switch() -> None:
    for first, second in ((SECURE, PLAIN), (PLAIN, SECURE)):
        merged = first.merged(second)
        assert merged.remove_attachments and merged.require_tls
    assert not PLAIN.merged(CopyEdits(subject_prefix="[Q]")).require_tls


def test_merging_keeps_the_headers_of_both_without_repeats() -> None:
    first = CopyEdits((("X-A", "1"), ("X-C", "3")))
    second = CopyEdits((("X-B", "2"), ("X-A", "1"), ("X-A", "other")))
    assert first.merged(second).headers == (("X-A", "1"), ("X-C", "3"), ("X-B", "2"),
                                            ("X-A", "other"))


def test_merging_keeps_the_first_subject_prefix() -> None:
    assert PLAIN.merged(CopyEdits(subject_prefix="[Q]")).subject_prefix == "[P]"
    assert SECURE.merged(PLAIN).subject_prefix == "[P]"  # the first has none


def test_merging_with_the_same_or_no_edits_changes_nothing() -> None:
    assert SECURE.merged(SECURE) is SECURE
    assert SECURE.merged(NO_COPY_EDITS) is SECURE
    assert NO_COPY_EDITS.merged(PLAIN) == PLAIN


def test_a_recipient_no_rule_changes_gets_the_shared_empty_edits() -> None:
    assert NO_EDITS.written("help@solarmora.com", spam=True, spam_reason="GTUBE") is (
        NO_COPY_EDITS)
    assert NO_COPY_EDITS.to_json() == {}


def test_the_stored_json_is_what_earlier_versions_wrote() -> None:
    edits = Edits((("X-Team", "support"),), "X-Original-Rcpt", True, "[Ext]", True, True)
    stored = json.dumps(edits.written("help@solarmora.com", spam=False).to_json())
    assert stored == (
        '{"headers": [["X-Team", "support"], ["X-Original-Rcpt", "help@solarmora.com"],'
        ' ["X-Casegate-Spam", "no"], ["X-Casegate-Phishing", "no"]],'
        ' "subject_prefix": "[Ext]", "remove_attachments": true, "require_tls": true}')
    assert json.dumps(CopyEdits(require_tls=True).to_json()) == '{"require_tls": true}'


def test_stored_edits_are_read_back_whatever_their_key_order() -> None:
    for edits in (NO_COPY_EDITS, SECURE, PLAIN, SECURE.merged(PLAIN)):
        assert CopyEdits.from_json(json.loads(json.dumps(edits.to_json()))) == edits
    # An earlier version wrote a merged copy's keys in the order the two recipients had them.
    old = json.loads('{"subject_prefix": "[P]", "headers": [["X-B", "2"], ["X-A", "1"]],'
                     ' "require_tls": true}')
    assert CopyEdits.from_json(old) == CopyEdits((("X-B", "2"), ("X-A", "1")), "[P]",
                                                 require_tls=True)
    assert CopyEdits.from_json({}) is NO_COPY_EDITS
    assert CopyEdits.from_json(None) is NO_COPY_EDITS
