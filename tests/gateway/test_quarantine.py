"""Finding held mail in the database, and deciding many entries at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from auditlog.models import LogEntry

from casegate.gateway import quarantine
from casegate.gateway.quarantine import (
    QuarantineFilter,
    decide,
    find,
    matching_ids,
    quarantine_as_dict,
)
from casegate.signing.srs import envelope_sender
from casegate.spool.models import Delivery, Quarantine
from casegate.spool.vocabulary import QuarantineDecision
from tests.held_mail import CASES, authentication, desk, hold, rspamd_report

pytestmark = pytest.mark.django_db


def found(**wanted: object) -> set[int]:
    return set(find(QuarantineFilter(**wanted)).values_list("id", flat=True))  # type: ignore[arg-type]


def test_the_search_matches_subject_sender_from_header_and_recipient() -> None:
    watches = hold(subject="Cheap wätches")
    lottery = hold(subject="You won", sender="Lottery Board <board@lotto.example>",
                   mail_from="bounce@mailer.example", recipient="help@solarmora.com")
    assert found(text="CHEAP wä") == {watches.pk}  # SQLite folds the case of ASCII only
    assert found(text="lottery board") == {lottery.pk}
    assert found(text="bounce@mailer") == {lottery.pk}
    assert found(text="help@") == {lottery.pk}
    assert found(text="  ") == {watches.pk, lottery.pk}


def test_the_reason_matches_the_entry_s_or_the_classifier_s() -> None:
    by_rule = hold(reason="held by rule #4", spam_reason="")
    by_gtube = hold(spam_reason="GTUBE")
    assert found(reason="rule #4") == {by_rule.pk}
    assert found(reason="gtube") == {by_gtube.pk}


def test_dmarc_results_are_matched_as_written_not_inside_comments() -> None:
    failing = hold(auth_results=authentication("fail"))
    passing = hold(auth_results=authentication("pass", dmarc_comment="p=none dis=none"))
    overridden = hold(auth_results=authentication(
        "fail", dmarc_comment="p=reject dis=none; trusted ARC sealer lists.example recorded"
                              " dmarc=pass"))
    unchecked = hold(auth_results="")
    assert found(dmarc="fail") == {failing.pk, overridden.pk}
    assert found(dmarc="pass") == {passing.pk}
    assert found(dmarc="none") == set()
    assert unchecked.pk in found()


def test_a_score_filter_leaves_out_reports_without_a_score() -> None:
    high = hold(spam_report=rspamd_report(score=12.5))
    low = hold(spam_report=rspamd_report(score=-1.5))
    hold(spam_report=rspamd_report(score=None))
    hold(spam_report={})
    assert found(min_score=10) == {high.pk}
    assert found(min_score=-2) == {high.pk, low.pk}


def test_dates_bound_the_time_held_and_decided_entries_only_on_request() -> None:
    now = datetime.now(UTC)
    old = hold(received_at=now - timedelta(days=3))
    new = hold(received_at=now)
    assert found(since=now - timedelta(days=1)) == {new.pk}
    assert found(until=now - timedelta(days=1)) == {old.pk}
    Quarantine.objects.filter(pk=old.pk).update(state=Quarantine.DELETED)
    assert found() == {new.pk}
    assert found(held_only=False) == {old.pk, new.pk}


def test_the_json_of_an_entry_has_subject_from_authentication_and_report() -> None:
    entry = hold(subject="=?utf-8?q?Caf=C3=A9?= offers", auth_results=authentication(
        "fail", dkim=("fail", "pass")))
    shown = quarantine_as_dict(find(QuarantineFilter()).get())
    assert shown["id"] == entry.pk
    assert (shown["subject"], shown["from_header"], shown["sender"]) == (
        "Café offers", "Offers <offers@bulk.example>", "offers@bulk.example")
    assert shown["auth_results"].startswith("gw.test; spf=pass")
    assert shown["authentication"] == {"spf": "pass", "dkim": "pass", "dmarc": "fail",
                                       "arc": "none"}
    assert shown["spam"]["symbols"]["BAYES_SPAM"] == 5.1


def test_deciding_many_releases_each_once_and_goes_past_the_refused() -> None:
    desk()
    first, second = hold(), hold()
    elsewhere = hold(recipient="nobody@nowhere.example")
    outcome = decide(QuarantineDecision.RELEASE, [first.pk, second.pk, first.pk, elsewhere.pk,
                                                  424242])
    assert outcome.done == {first.pk: [CASES], second.pk: [CASES]}
    assert len(outcome.refused) == 2
    assert "nobody@nowhere.example has no route now" in outcome.refused[0]
    assert "there is no quarantine entry #424242" in outcome.refused[1]
    assert Delivery.objects.filter(recipient=CASES).count() == 2
    assert dict(Quarantine.objects.values_list("id", "state")) == {
        first.pk: "released", second.pk: "released", elsewhere.pk: "held"}


def test_a_bounce_to_one_of_our_srs_addresses_is_released_to_the_original_sender() -> None:
    desk()
    bounce_to = envelope_sender("dana@example.net", "solarmora.com",
                                frozenset({"solarmora.com"}))
    held = hold(recipient=bounce_to, mail_from="")
    outcome = decide(QuarantineDecision.RELEASE, [held.pk])
    assert outcome.done == {held.pk: ["dana@example.net"]}


def test_each_decision_of_many_is_in_the_audit_log() -> None:
    entries = [hold() for _ in range(3)]
    outcome = decide(QuarantineDecision.DELETE, [e.pk for e in entries])
    assert sorted(outcome.done) == sorted(e.pk for e in entries) and not outcome.refused
    logged = LogEntry.objects.filter(content_type__model="quarantine")
    assert sorted(int(e.object_pk) for e in logged) == sorted(e.pk for e in entries)
    assert all(e.changes["state"] == ["held", "deleted"] for e in logged)


def test_at_most_the_bulk_limit_is_decided_and_matched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quarantine, "BULK_LIMIT", 2)
    entries = [hold(subject="bundle") for _ in range(3)]
    hold(subject="other")
    assert matching_ids(QuarantineFilter(text="bundle", held_only=False)) == [
        entries[2].pk, entries[1].pk]
    outcome = decide(QuarantineDecision.DELETE, [e.pk for e in entries])
    assert list(outcome.done) == [entries[0].pk, entries[1].pk]
    assert Quarantine.objects.get(pk=entries[2].pk).state == "held"
