"""Desk services against the database: blobs, case fields and history, agents, filing."""

from __future__ import annotations

import ctypes
import errno
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.utils import timezone

from casegate import durable
from casegate.access import roles_of
from casegate.config import get_config
from casegate.desk import blobs
from casegate.desk.arrivals import DeskArrival, Filed
from casegate.desk.filing import file_batch
from casegate.desk.models import Attachment, Blob, Case, DeskMessage, Intake
from casegate.desk.output import conversation_detail
from casegate.desk.parsing import parse_message
from casegate.desk.replies import post_reply, reply_subject
from casegate.desk.services import DeskError, add_agent, add_intake, update_case
from casegate.desk.vocabulary import Direction, IntakeKind
from casegate.directory.services import add_account, add_domain
from casegate.filtering.auth_results import header_field
from casegate.routing.snapshot import load_table
from tests.mails import mail

pytestmark = pytest.mark.django_db


def arrival(intake: Intake, raw: bytes) -> DeskArrival:
    return DeskArrival(intake, "Q1", intake.address, timezone.now(), parse_message(raw), raw,
                       "customer@example.net")


def file_arrivals(arrivals: list[DeskArrival]) -> list[Filed]:
    return file_batch(arrivals, load_table(), "mx.desk.example").filed


@pytest.mark.parametrize("kind", ["disk", "database"])
def test_blobs_are_stored_once_by_content(home: Path, kind: str,
                                          setting: Callable[..., None]) -> None:
    setting("CASEGATE_BLOB_STORE", kind)
    video = b"v" * (blobs.INLINE_LIMIT + 1)
    first = blobs.put_many([b"logo", b"report", b"logo", video])
    assert first[0] == first[2] == blobs.digest(b"logo")
    assert blobs.put_many([b"logo", video]) == [first[0], first[3]]
    assert Blob.objects.count() == 3
    assert blobs.read(Blob.objects.get(pk=first[1])) == b"report"
    assert blobs.read(Blob.objects.get(pk=first[3])) == video
    on_disk = [p.name for p in (home / "blobs").rglob("*") if p.is_file()]
    assert on_disk == ([first[3]] if kind == "disk" else [])


class _FailingLibc:
    @staticmethod
    def syncfs(fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1


def test_a_write_error_on_flushing_blobs_stores_nothing_and_leaves_no_file(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durable, "_libc", _FailingLibc())
    with pytest.raises(OSError, match=r"cannot make .*blobs durable: Input/output error"):
        blobs.put_many([b"v" * (blobs.INLINE_LIMIT + 1)])
    assert [p for p in (home / "blobs").rglob("*") if p.is_file()] == []
    assert not Blob.objects.exists()


def test_a_missing_blob_file_is_a_clear_error(home: Path) -> None:
    [sha] = blobs.put_many([b"gone soon" * blobs.INLINE_LIMIT])
    next(p for p in (home / "blobs").rglob(sha)).unlink()
    with pytest.raises(blobs.BlobMissing, match=sha):
        blobs.read(Blob.objects.get(pk=sha))


def test_filing_keeps_raw_bytes_attachments_and_limits(home: Path,
                                                       setting: Callable[..., None]) -> None:
    setting("CASEGATE_ATTACHMENT_MAX_FILE", "10")
    intake = add_intake(IntakeKind.CASE, "help@desk.example", first_response_hours=4, team="Tier 1")
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = "ann@acme.example", "Logs", "<a@acme>"
    msg.set_content("see attached")
    msg.add_attachment(b"small", maintype="text", subtype="plain", filename="small.txt")
    msg.add_attachment(b"x" * 100, maintype="application", subtype="zip", filename="big.zip")
    raw = msg.as_bytes()
    [filed] = file_arrivals([arrival(intake, raw)])
    message = DeskMessage.objects.get()
    assert blobs.read(message.raw) == raw
    small, big = Attachment.objects.order_by("id")
    assert blobs.read(small.blob) == b"small" and not small.problem
    assert big.blob is None and "limit" in big.problem and big.size == 100
    case = Case.objects.get()
    assert case.team == "Tier 1"
    assert case.first_response_due_at - case.created_at == timedelta(hours=4)
    assert filed.created


def test_a_message_without_from_has_the_envelope_sender_as_requester(home: Path) -> None:
    intake = add_intake(IntakeKind.CASE, "help@desk.example")
    raw = b"Subject: no sender\r\nMessage-ID: <n1@example.net>\r\n\r\nwho am I\r\n"
    [filed] = file_arrivals([arrival(intake, raw)])
    case = Case.objects.get()
    assert case.requester == "customer@example.net"
    assert case.contact is not None and case.contact.address == "customer@example.net"
    message = DeskMessage.objects.get()
    assert message.sender == "customer@example.net"
    assert "envelope sender <customer@example.net> is the requester" in message.parse_problems
    assert filed.created


def test_case_fields_change_with_history_and_clear_refusals(home: Path) -> None:
    intake = add_intake(IntakeKind.CASE, "help@desk.example")
    [filed] = file_arrivals([arrival(intake, mail(sender="bo@acme.example")[0])])
    agent = add_agent("ivy@agents.example", "Ivy Agent", "ivy", ["Tier 2"])
    due = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    case = update_case(filed.conversation.pk, "admin", priority="high", assignee="ivy",
                       tags=["Billing", "billing", "vip"], team="Tier 2",
                       first_response_due_at=due)
    assert (case.priority, case.assignee, case.tags) == ("high", agent.user, ["billing", "vip"])
    update_case(case.pk, "admin", priority="high")  # no change: no history
    history = conversation_detail("case", case.pk)["history"]
    assert [(e["field"], e["after"]) for e in history] == [
        ("priority", "high"), ("assignee", "ivy"), ("tags", "billing, vip"),
        ("team", "Tier 2"), ("first_response_due_at", due.isoformat())]
    assert all(e["actor"] == "admin" for e in history)
    for changes, message in [({"priority": "asap"}, "priority"), ({"status": "done"}, "status"),
                             ({"assignee": "nobody"}, "no active user"),
                             ({"colour": "red"}, "no field colour"),
                             ({"first_response_due_at": datetime(2030, 1, 1)}, "time zone")]:
        with pytest.raises(DeskError, match=message):
            update_case(case.pk, "admin", **changes)


def test_agents_must_have_a_mailbox_of_their_own() -> None:
    add_domain("solarmora.com")
    add_account("alex@solarmora.com")
    add_intake(IntakeKind.CASE, "help@solarmora.com")
    user = add_agent("alex@solarmora.com").user
    assert user.email == "alex@solarmora.com" and roles_of(user) == {"agent"}
    with pytest.raises(DeskError, match="not a person's mailbox"):
        add_agent("help@solarmora.com")
    with pytest.raises(DeskError, match=r"not a valid|invalid|address"):
        add_agent("not an address")


def test_notes_stay_and_reply_subject_carries_the_tag(home: Path) -> None:
    intake = add_intake(IntakeKind.CASE, "help@desk.example")
    [filed] = file_arrivals([arrival(intake, mail(subject="Panel dark",
                                                  sender="bo@acme.example")[0])])
    case = filed.conversation
    assert reply_subject(case) == f"Re: Panel dark [#CG-{case.pk}]"
    note = post_reply("case", case.pk, None, "call them tomorrow", public=False)
    assert note.direction == Direction.NOTE and not note.queue_id
    with pytest.raises(DeskError, match="some text"):
        post_reply("case", case.pk, None, "  ")
    with pytest.raises(DeskError, match="no case 999"):
        post_reply("case", 999, None, "hello")


def opened_case(subject: str) -> tuple[Intake, Case, str]:
    """An intake, the case a first message from bo@acme.example opens there, and that
    message's Message-ID."""
    intake = add_intake(IntakeKind.CASE, "help@desk.example")
    first, first_id = mail(subject=subject, sender="bo@acme.example")
    [filed] = file_arrivals([arrival(intake, first)])
    assert isinstance(filed.conversation, Case)
    return intake, filed.conversation, first_id


def test_a_reply_threads_under_the_last_message_that_can_be_pointed_at(home: Path) -> None:
    from casegate.spool.models import Message

    intake, case, first_id = opened_case("Panel dark")
    without_id = (f"From: bo@acme.example\r\nTo: help@desk.example\r\nSubject: Re: Panel dark"
                  f" [#CG-{case.pk}]\r\n\r\nstill dark\r\n").encode()
    [follow_up] = file_arrivals([arrival(intake, without_id)])
    assert follow_up.conversation == case
    reply = post_reply("case", case.pk, None, "A new panel is on its way.")
    raw = bytes(Message.objects.get(queue_id=reply.queue_id).raw)
    assert f"In-Reply-To: {first_id}\r\n".encode() in raw
    assert f"References: {first_id}\r\n".encode() in raw


def test_mail_from_a_forged_requester_opens_a_case_of_its_own(home: Path) -> None:
    intake, case, first_id = opened_case("Refund")

    def tagged(dmarc: str, threading: str = f"Subject: Re: Refund [#CG-{case.pk}]") -> bytes:
        checked = header_field(get_config().authserv_id, [
            "spf=softfail smtp.mailfrom=policy.arc-override=x@evil.example",
            f"dmarc={dmarc} header.from=acme.example"]).decode()
        return (f"{checked}From: bo@acme.example\r\nTo: help@desk.example\r\n"
                f"{threading}\r\n\r\nsend it to IBAN X\r\n").encode()

    [forged] = file_arrivals([arrival(intake, tagged("fail"))])
    assert forged.conversation != case  # the tag and the address are all a forger needs
    [referring] = file_arrivals([arrival(intake, tagged("fail", f"References: {first_id}"))])
    assert referring.conversation != case  # nor is a Message-ID its correspondents saw
    [genuine] = file_arrivals([arrival(intake, tagged("pass"))])
    assert genuine.conversation == case


def test_a_bounce_of_a_reply_on_a_closed_case_marks_it_failed_and_opens_nothing(
        home: Path) -> None:
    intake = add_intake(IntakeKind.CASE, "help@desk.example")
    [filed] = file_arrivals([arrival(intake, mail(subject="Panel dark",
                                                  sender="bo@acme.example")[0])])
    case = filed.conversation
    assert case is not None
    reply = post_reply("case", case.pk, None, "A new panel is on its way.")
    update_case(case.pk, "ivy", status="closed")
    bounce = (
        'From: MAILER-DAEMON@mx.acme.example\r\nTo: help@desk.example\r\nSubject: Undelivered'
        '\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;'
        ' boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nno such user\r\n'
        '--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.example'
        '\r\n\r\nFinal-Recipient: rfc822; bo@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\n'
        f'\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {reply.message_id}'
        '\r\n\r\n--b--\r\n').encode()
    [report] = file_arrivals([arrival(intake, bounce)])
    assert report.conversation == case and Case.objects.count() == 1
    reply.refresh_from_db()
    assert reply.delivery_status == "failed"
