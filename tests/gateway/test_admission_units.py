"""Pure pieces of the gateway: delivery planning, queue ids, header blocks."""

from __future__ import annotations

import types
from datetime import UTC, datetime
from typing import cast

import pytest

from casegate.filtering.classifiers import GTUBE, SpamVerdict
from casegate.filtering.vocabulary import SpamAction
from casegate.gateway.admission import plan_deliveries, route, verdict_refusal
from casegate.mail.headers import header_block
from casegate.routing.engine import Routing, RoutingTable, Target, TargetKind, Verdict
from casegate.signing.srs import envelope_sender
from casegate.spool import messages
from casegate.spool.messages import AcceptedMessage, DeliveryRow, QuarantineRow, new_queue_id

ANN = "ann@solarmora.com"
BOB = "bob@solarmora.com"
HELP = "help@solarmora.com"
SALES = "sales@solarmora.com"
CASES = "cases@solarmora.com"
CRM = "inbound@crm.example"


def message() -> AcceptedMessage:
    return AcceptedMessage(
        queue_id="Q1", mail_from="customer@example.net", rcpt_tos=[], peer="127.0.0.1",
        received_at=datetime(2026, 1, 1, tzinfo=UTC), helo="client", message_id="",
        spam=False, spam_reason="", raw=b"Subject: x\r\n\r\nbody\r\n",
    )


def accept(recipient: str, *targets: Target, rules: tuple[int, ...] = (),
           junk: bool = False) -> Routing:
    return Routing(recipient, Verdict.ACCEPT, True, rules, targets, junk=junk)


def mailbox(address: str) -> Target:
    return Target(address, TargetKind.MAILBOX)


# --- plan_deliveries ------------------------------------------------------------------------


def test_one_delivery_per_target() -> None:
    msg = message()
    plan_deliveries(msg, [accept(SALES, Target(CASES, TargetKind.DESK, 7), mailbox(ANN),
                                 rules=(3,))])
    assert msg.deliveries == [
        DeliveryRow(SALES, CASES, "desk", 7, False, [3]),
        DeliveryRow(SALES, ANN, "mailbox", None, False, [3]),
    ]
    assert msg.quarantine == []


def test_same_final_recipient_of_two_envelope_recipients_is_delivered_once() -> None:
    msg = message()
    plan_deliveries(msg, [accept(ANN, mailbox(ANN)), accept(HELP, mailbox(ANN), mailbox(BOB))])
    assert [(d.original_recipient, d.recipient) for d in msg.deliveries] == [
        (ANN, ANN), (HELP, BOB),
    ]


def test_same_address_by_two_kinds_is_delivered_twice() -> None:
    msg = message()
    plan_deliveries(msg, [accept(HELP, mailbox(ANN), Target(ANN, TargetKind.REMOTE,
                                                            relay="smtp:h:25"))])
    assert [(d.recipient, d.kind) for d in msg.deliveries] == [(ANN, "mailbox"), (ANN, "remote")]


def test_relay_and_junk_are_carried_to_the_delivery() -> None:
    msg = message()
    plan_deliveries(msg, [
        accept(ANN, Target(ANN, TargetKind.REMOTE, relay="lmtp:127.0.0.1:24"), junk=True),
    ])
    assert msg.deliveries == [
        DeliveryRow(ANN, ANN, "remote", None, True, [], relay="lmtp:127.0.0.1:24"),
    ]


def test_quarantined_recipient_is_held_with_its_reason() -> None:
    msg = message()
    plan_deliveries(msg, [Routing(HELP, Verdict.QUARANTINE, reason="classified as spam")])
    assert msg.deliveries == []
    assert msg.quarantine == [QuarantineRow(HELP, "classified as spam")]


def test_recipient_without_route_is_held_not_dropped() -> None:
    msg = message()
    plan_deliveries(msg, [Routing("gone@solarmora.com", Verdict.UNKNOWN_USER)])
    assert msg.quarantine == [QuarantineRow("gone@solarmora.com", "no route for this recipient")]


def test_accepted_and_quarantined_recipients_in_one_message() -> None:
    msg = message()
    plan_deliveries(msg, [
        accept(ANN, mailbox(ANN), junk=True),
        Routing(HELP, Verdict.QUARANTINE, reason="spam"),
    ])
    assert [d.recipient for d in msg.deliveries] == [ANN]
    assert [q.recipient for q in msg.quarantine] == [HELP]


def test_no_routings_plan_nothing() -> None:
    msg = message()
    plan_deliveries(msg, [])
    assert (msg.deliveries, msg.quarantine) == ([], [])


def test_delivery_rules_are_a_copy_per_row() -> None:
    msg = message()
    plan_deliveries(msg, [accept(SALES, mailbox(ANN), mailbox(BOB), rules=(1, 2))])
    msg.deliveries[0].rules.append(99)
    assert msg.deliveries[1].rules == [1, 2]


# --- header_block ---------------------------------------------------------------------------


def test_header_block_ends_at_the_first_crlf_blank_line() -> None:
    raw = b"Subject: a\r\nFrom: b@c.example\r\n\r\nbody\r\n\r\nmore"
    assert header_block(raw) == b"Subject: a\r\nFrom: b@c.example\r\n\r\n"


def test_header_block_with_bare_lf_line_endings() -> None:
    assert header_block(b"Subject: a\n\nbody\n") == b"Subject: a\n\n"


def test_header_block_without_a_body_is_the_whole_message() -> None:
    assert header_block(b"Subject: a\r\nFrom: b@c.example\r\n") == (
        b"Subject: a\r\nFrom: b@c.example\r\n"
    )


def test_header_block_of_empty_message_is_empty() -> None:
    assert header_block(b"") == b""


def test_header_block_does_not_contain_the_body() -> None:
    raw = b"Subject: a\r\n\r\n" + GTUBE
    assert GTUBE not in header_block(raw)


# --- new_queue_id -------------------------------------------------------------------------------


def test_queue_ids_are_unique() -> None:
    ids = [new_queue_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)


def test_queue_id_is_21_upper_case_hex_digits() -> None:
    queue_id = new_queue_id()
    assert len(queue_id) == 21
    assert int(queue_id, 16) >= 0
    assert queue_id == queue_id.upper()


def test_queue_ids_sort_by_time(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_700_000_000.000]
    monkeypatch.setattr(messages, "time", types.SimpleNamespace(time=lambda: now[0]))
    ids = []
    for step in range(50):
        now[0] = 1_700_000_000.0 + step * 0.01
        ids.append(new_queue_id())
    assert len({queue_id[:11] for queue_id in ids}) == len(ids)
    assert ids == sorted(ids)


def test_queue_id_starts_with_the_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messages, "time", types.SimpleNamespace(time=lambda: 1_700_000_000.5))
    assert new_queue_id()[:11] == f"{1_700_000_000_500:011X}"


def test_queue_id_of_a_later_millisecond_sorts_after() -> None:
    first = new_queue_id()
    later = first
    while later[:11] == first[:11]:
        later = new_queue_id()
    assert later > first


def test_one_copy_reached_two_ways_gets_the_safer_edits_of_both() -> None:
    from casegate.routing.engine import Edits

    target = Target("bob@partner.example", TargetKind.REMOTE)
    secure = Routing("fwd-secure@solarmora.com", Verdict.ACCEPT, targets=(target,),
                     edits=Edits((("X-A", "1"),), remove_attachments=True, require_tls=True))
    plain = Routing("fwd-plain@solarmora.com", Verdict.ACCEPT, targets=(target,),
                    edits=Edits((("X-B", "2"),), subject_prefix="[P]"))
    for order in ([plain, secure], [secure, plain]):
        msg = message()
        plan_deliveries(msg, order)
        [row] = msg.deliveries
        assert row.edits.require_tls and row.edits.remove_attachments
        assert sorted(row.edits.headers) == [("X-A", "1"), ("X-B", "2")]


def test_the_header_block_ends_at_the_first_blank_line_of_either_kind() -> None:
    raw = b"Subject: a\n\nbody\r\n\r\nmore"
    assert header_block(raw) == b"Subject: a\n\n"


# --- the classifier's verdict at the end of DATA -----------------------------------------------


@pytest.mark.parametrize(("verdict", "reply"), [
    (SpamVerdict(SpamAction.REJECT, "rspamd: reject", "rspamd", reply="Gtube pattern"),
     "550 5.7.1 Gtube pattern"),
    (SpamVerdict(SpamAction.REJECT, "rspamd: reject, score 16.00 of 15.00", "rspamd"),
     "550 5.7.1 Message rejected as spam (rspamd: reject, score 16.00 of 15.00)"),
    (SpamVerdict(SpamAction.SOFT_REJECT, "rspamd: soft reject", "rspamd",
                 reply="Try again\r\nlater"),
     "451 4.7.1 Try again later; try again later"),
    (SpamVerdict(SpamAction.SOFT_REJECT, "rspamd: soft reject", "rspamd"),
     "451 4.7.1 Message not accepted for now; try again later"),
    (SpamVerdict(SpamAction.GREYLIST, "rspamd: greylist", "rspamd"),
     "451 4.7.1 Greylisted; try again later"),
    (SpamVerdict(SpamAction.TEMPFAIL, "rspamd unavailable: no answer within 5 s", "rspamd"),
     "451 4.7.1 The spam filter is not answering; try again later"),
])
def test_refusing_verdicts_get_their_smtp_reply(verdict: SpamVerdict, reply: str) -> None:
    assert verdict_refusal(verdict) == reply


@pytest.mark.parametrize("action", [SpamAction.HAM, SpamAction.SPAM, SpamAction.NOT_SCANNED])
def test_ham_spam_and_not_scanned_mail_is_accepted(action: SpamAction) -> None:
    assert verdict_refusal(SpamVerdict(action, "", "rspamd")) == ""


def test_verdict_headers_carry_the_classifiers_score_and_symbols() -> None:
    from casegate.routing.engine import Edits

    msg = message()
    msg.spam, msg.spam_reason = True, "rspamd: add header, score 11.10 of 15.00"
    msg.spam_report = SpamVerdict(SpamAction.SPAM, msg.spam_reason, "rspamd", 11.1, 15.0,
                                  {"TEST_SPAM": 10.0, "RDNS_NONE": 1.0, "ARC_NA": 0.0,
                                   "ONCE_RECEIVED": 0.1}).report()
    target = Target(CRM, TargetKind.REMOTE)
    plan_deliveries(msg, [Routing(HELP, Verdict.ACCEPT, targets=(target,),
                                  edits=Edits(spam_headers=True))])
    headers = dict(msg.deliveries[0].edits.headers)
    assert headers["X-Casegate-Spam"] == "yes"
    assert headers["X-Spam-Score"] == "11.10"
    assert headers["X-Spam-Status"] == ("Yes, score=11.10 required=15.00"
                                        " tests=TEST_SPAM,RDNS_NONE,ONCE_RECEIVED")


def test_no_score_no_spam_status_headers() -> None:
    from casegate.routing.engine import Edits

    msg = message()
    msg.spam_report = SpamVerdict(SpamAction.HAM, "", "gtube").report()
    plan_deliveries(msg, [Routing(HELP, Verdict.ACCEPT, targets=(Target(CRM, TargetKind.REMOTE),),
                                  edits=Edits(spam_headers=True))])
    names = [name for name, _ in msg.deliveries[0].edits.headers]
    assert "X-Casegate-Spam" in names and "X-Spam-Status" not in names


# --- route ----------------------------------------------------------------------------------


class _Table:
    """What route() asks of a routing table about a bounce to one of our SRS addresses."""

    domains = frozenset({"solarmora.com"})

    def targets_for(self, address: str) -> tuple[Target, ...]:
        return (Target(address, TargetKind.REMOTE),)


def test_spam_to_one_of_our_srs_addresses_is_quarantined_never_passed_on() -> None:
    bounce_to = envelope_sender("dana@example.net", "solarmora.com", _Table.domains)
    table = cast(RoutingTable, _Table())
    assert route(bounce_to, table).targets == (Target("dana@example.net", TargetKind.REMOTE),)
    assert route(bounce_to, table, spam=True).verdict is Verdict.QUARANTINE
