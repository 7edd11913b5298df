"""Mailbox accounts: what ``mailbox add`` takes and refuses, the secret's sources, the
status every view shows, and the pieces of a round that need no server."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path

import pytest

from casegate.gateway.admission import Admitted
from casegate.mail.headers import HeaderFields
from casegate.mailboxes.credentials import CredentialsError, credentials
from casegate.mailboxes.fetching import (
    BATCH,
    BATCH_BYTES,
    UID_LIMIT,
    Admit,
    MailboxFetch,
    Offer,
    TryLater,
    _by_size,
    failed,
    not_a_message,
    prepared,
    sender_of,
)
from casegate.mailboxes.models import Mailbox, SetAside
from casegate.mailboxes.servers import FolderState, Listed, ServerError
from casegate.mailboxes.services import (
    MailboxError,
    add_mailbox,
    remove_mailbox,
    set_paused,
    status_rows,
)
from casegate.mailboxes.vocabulary import AfterFetch, AfterFetchAction, Protocol, Tls


def test_after_fetch_is_parsed_and_checked() -> None:
    assert AfterFetchAction.parse("move:Archive/2024") == AfterFetchAction(AfterFetch.MOVE,
                                                                           "Archive/2024")
    assert str(AfterFetchAction.parse(" Seen ")) == "seen"
    for wrong in ("move", "keep:Archive", "archive"):
        with pytest.raises(ValueError, match="--after-fetch"):
            AfterFetchAction.parse(wrong)


def test_a_password_comes_from_its_file_and_a_token_from_its_command(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    assert credentials("u", str(secret), "").password == "s3cret"
    secret.write_text("s3cret \nwritten by: ops\n")  # the first line, as it is
    assert credentials("u", str(secret), "").password == "s3cret "
    secret.write_bytes(b"caf\xe9\n")
    with pytest.raises(CredentialsError, match="is not UTF-8 text"):
        credentials("u", str(secret), "")
    given = credentials("u", "", f"{sys.executable} -c \"print('tok-1')\"")
    assert given.token == "tok-1" and "tok-1" not in repr(given)
    with pytest.raises(CredentialsError, match="cannot read the password file"):
        credentials("u", str(tmp_path / "missing"), "")
    with pytest.raises(CredentialsError, match="exited with status 3: expired"):
        credentials("u", "", f"{sys.executable} -c \"import sys; print('expired',"
                                f" file=sys.stderr); sys.exit(3)\"")
    with pytest.raises(CredentialsError, match="printed no token"):
        credentials("u", "", "true")


def test_what_is_not_a_message_is_told_apart() -> None:
    def why(content: bytes) -> str:
        return not_a_message(content, HeaderFields(content))

    assert why(b"") == "empty"
    assert why(b"no header here\r\n\r\nbody").startswith("not a message")
    assert why(b"Subject: hi\r\n\r\nbody") == ""


def test_a_fetched_message_keeps_its_header_and_names_its_mailbox() -> None:
    mailbox = Mailbox(name="support")
    raw = b"Return-Path: <ann@example.net>\nReceived: from a by b\nSubject: x\n\nbody\n"
    ready = prepared(raw, mailbox)
    assert ready.startswith(b"X-Casegate-Mailbox: support\r\nReturn-Path:")
    assert b"Received: from a by b\r\n" in ready and b"\n" not in ready.replace(b"\r\n", b"")
    assert sender_of(HeaderFields(raw)) == "ann@example.net"


@pytest.mark.django_db
def test_add_pause_resume_remove_and_the_status_never_holds_the_secret(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    add_mailbox("support", Protocol.IMAP, "imap.example.com", "desk@example.com",
                password_file=str(secret), deliver_to="Help@Solarmora.com",
                after_fetch="move:Done")
    add_mailbox("old", Protocol.POP3, "pop.example.com:1995", "desk", tls=Tls.IMPLICIT,
                token_command="get-token --user desk", deliver_to="help@solarmora.com")
    mailbox = Mailbox.objects.get(name="support")
    assert (mailbox.port, mailbox.deliver_to, mailbox.move_to) == (993, "help@solarmora.com",
                                                                    "Done")
    SetAside.objects.create(mailbox=mailbox, key="7:12", size=99, reason="too big")
    rows = {row["name"]: row for row in status_rows()}
    assert rows["support"]["after_fetch"] == "move:Done"
    assert rows["support"]["set_aside"] == 1 and rows["support"]["state"] == "new"
    assert rows["old"]["secret"] == "oauth2-token-command" and rows["old"]["port"] == 1995
    assert "s3cret" not in str(rows) and "get-token" not in str(rows)
    assert set_paused("support", True).paused
    assert {row["name"]: row["state"] for row in status_rows()}["support"] == "paused"
    assert not set_paused("support", False).paused
    remove_mailbox("old")
    assert [row["name"] for row in status_rows()] == ["support"]


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "reason"), [
    ({"name": "support"}, "exists already"),
    ({"name": "two words"}, "mailbox name"),
    ({"password_file": "", "token_command": ""}, "either --password-file"),
    ({"protocol": Protocol.POP3, "after_fetch": "seen"}, "keep or delete"),
    ({"protocol": Protocol.POP3, "folder": "Archive"}, "one folder only"),
    ({"server": "imap.example.com:0"}, "server"),
    ({"deliver_to": "not an address"}, "address"),
    ({"tls": Tls.NONE}, "in clear to imap.example.com"),
])
def test_add_refuses_what_cannot_work(change: dict[str, object], reason: str) -> None:
    given: dict[str, object] = {"name": "new", "protocol": Protocol.IMAP,
                                "server": "imap.example.com", "user": "u",
                                "password_file": "/etc/casegate/secret",
                                "deliver_to": "help@solarmora.com"}
    add_mailbox("support", Protocol.IMAP, "imap.example.com", "u", password_file="/x",
                deliver_to="help@solarmora.com")
    given.update(change)
    name, protocol, server, user = (given.pop(k) for k in ("name", "protocol", "server", "user"))
    with pytest.raises((MailboxError, ValueError), match=reason):
        add_mailbox(name, protocol, server, user, **given)  # type: ignore[arg-type]


@pytest.mark.django_db
def test_metrics_name_each_mailbox(tmp_path: Path) -> None:
    from django.test import Client
    from django.utils import timezone

    add_mailbox("support", Protocol.IMAP, "imap.example.com", "u", password_file="/x",
                deliver_to="help@solarmora.com")
    Mailbox.objects.filter(name="support").update(
        fetched=198, errors=3, failures=1, last_success_at=timezone.now())
    text = Client().get("/metrics").content.decode()
    assert 'casegate_mailbox_fetched_total{mailbox="support"} 198.0' in text
    assert 'casegate_mailbox_errors_total{mailbox="support"} 3.0' in text
    assert 'casegate_mailbox_consecutive_failures{mailbox="support"} 1.0' in text
    assert 'casegate_mailbox_last_success_timestamp_seconds{mailbox="support"} 1' in text


def test_a_round_fetches_in_batches_bounded_by_count_and_bytes() -> None:
    fetch = MailboxFetch(Mailbox(name="support"), lambda offers: Future(), 10**9, 3,
                         threading.Event())
    small = [Listed(n, str(n), 1000) for n in range(1, 601)]
    assert [len(b) for b in fetch._batches(small)] == [BATCH, BATCH, 600 - 2 * BATCH]
    big = BATCH_BYTES // 2 + 1
    sized = [Listed(1, "1", big), Listed(2, "2", big), Listed(3, "3", 3 * big),
             Listed(4, "4", 10), Listed(5, "5", 10)]
    assert [[m.number for m in b] for b in fetch._batches(sized)] == [[1], [2], [3], [4, 5]]
    assert [[m.number for m in b] for b in _by_size(sized)] == [[1], [2], [3], [4, 5]]
    fetch.one_at_a_time = 4  # a batch up to there could not be fetched
    assert [[m.number for m in b] for b in fetch._batches(small[:6])] == [
        [1], [2], [3], [4], [5, 6]]


class SilentFolder:
    """An IMAP folder whose server lists message ``silent`` but never sends its content."""

    def __init__(self, count: int = 3, silent: int = 2) -> None:
        self.count, self.silent = count, silent
        self.settled: list[int] = []

    def select(self) -> FolderState:
        return FolderState(uidvalidity=7, uidnext=self.count + 1, messages=self.count)

    def listing(self, after_uid: int) -> list[Listed]:
        return [Listed(n, str(n), 0) for n in range(after_uid + 1, self.count + 1)]

    def sizes(self, uids: list[int]) -> dict[int, int]:
        return {uid: 100 for uid in uids}

    def contents(self, uids: Iterable[int]) -> dict[int, tuple[bytes, datetime | None]]:
        return {uid: (f"Subject: {uid}\r\n\r\nbody\r\n".encode(), None)
                for uid in uids if uid != self.silent}

    def settle(self, uids: list[int], after: AfterFetchAction) -> None:
        self.settled += uids


def stored_all(offers: list[Offer]) -> Future[list[Admitted | BaseException]]:
    stored: Future[list[Admitted | BaseException]] = Future()
    stored.set_result([Admitted("250 2.0.0 Ok: queued as X", "X") for _ in offers])
    return stored


def imap_account() -> Mailbox:
    add_mailbox("support", Protocol.IMAP, "imap.example.com", "u", password_file="/x",
                deliver_to="help@solarmora.com")
    return Mailbox.objects.get(name="support")


@pytest.mark.django_db
def test_a_message_the_server_sends_no_content_for_is_set_aside_after_its_attempts() -> None:
    mailbox = imap_account()
    fetch = MailboxFetch(mailbox, stored_all, 10**6, 2, threading.Event())
    folder = SilentFolder()
    first = fetch.imap_round(folder)  # type: ignore[arg-type]
    assert [m.number for m in first.stored] == [1, 3] and not first.set_aside
    assert mailbox.last_uid == 1  # not past the message still owed
    second = fetch.imap_round(folder)  # type: ignore[arg-type]
    assert [(m.number, why) for m, why in second.set_aside] == [
        (2, "cannot be fetched after 2 attempts: the server sent no content for it")]
    assert mailbox.last_uid == 3 and SetAside.objects.filter(mailbox=mailbox).count() == 1


class CutBeforeTheFlags(SilentFolder):
    """A folder whose first message is over the size limit and whose connection drops as
    the stored messages are flagged."""

    def sizes(self, uids: list[int]) -> dict[int, int]:
        return {uid: 10**7 if uid == 1 else 100 for uid in uids}

    def settle(self, uids: list[int], after: AfterFetchAction) -> None:
        raise ServerError("imap.example.com:993 dropped the connection")


@pytest.mark.django_db
def test_what_was_set_aside_is_recorded_when_the_server_fails_to_flag_what_was_stored(
        ) -> None:
    mailbox = imap_account()
    fetch = MailboxFetch(mailbox, stored_all, 10**6, 2, threading.Event())
    with pytest.raises(ServerError):
        fetch.imap_round(CutBeforeTheFlags(count=3, silent=0))  # type: ignore[arg-type]
    assert list(SetAside.objects.values_list("key", flat=True)) == ["7:1"]
    assert mailbox.last_uid == 1  # the stored ones are fetched again, and flagged then


def refusing_message_2(for_every_sender: bool) -> Admit:
    """The spool's answers when the address refuses message 2: for its sender alone (a
    rule for some senders), or for every sender (the address takes no mail)."""
    def admit(offers: list[Offer]) -> Future[list[Admitted | BaseException]]:
        answers: Future[list[Admitted | BaseException]] = Future()
        answers.set_result([
            Admitted("550 5.7.1 <help@solarmora.com>: refused by a rule",
                     refuses_recipient=for_every_sender)
            if b"Subject: 2\r\n" in offer.content else Admitted("250 2.0.0 Ok", "X")
            for offer in offers])
        return answers
    return admit


@pytest.mark.django_db
def test_a_message_refused_for_its_sender_is_set_aside_an_address_refused_stops_the_round(
        ) -> None:
    mailbox = imap_account()
    for_its_sender = MailboxFetch(mailbox, refusing_message_2(False), 10**6, 2,
                                  threading.Event())
    folder = SilentFolder(count=3, silent=0)
    done = for_its_sender.imap_round(folder)  # type: ignore[arg-type]
    assert [m.number for m, _ in done.set_aside] == [2] and mailbox.last_uid == 3
    mailbox.last_uid = 0
    for_everyone = MailboxFetch(mailbox, refusing_message_2(True), 10**6, 2, threading.Event())
    with pytest.raises(TryLater, match="--deliver-to is refused"):
        for_everyone.imap_round(folder)  # type: ignore[arg-type]


def test_a_return_path_that_could_not_be_an_envelope_sender_is_none() -> None:
    for odd in ("j\udce9r@example.net", "a" * 400 + "@example.net", "x\x00y@example.net"):
        assert sender_of(HeaderFields(f"Return-Path: <{odd}>\r\n\r\n".encode(
            "utf-8", "surrogateescape"))) == ""
    assert sender_of(HeaderFields("Return-Path: <zoë@example.net>\r\n\r\n".encode())) == (
        "zoë@example.net")


@pytest.mark.django_db
def test_a_message_owed_in_the_first_batch_is_not_passed_by_a_later_batch() -> None:
    mailbox = imap_account()
    fetch = MailboxFetch(mailbox, stored_all, 10**6, 2, threading.Event())
    first = fetch.imap_round(SilentFolder(count=BATCH + 44, silent=5))  # type: ignore[arg-type]
    assert len(first.stored) == BATCH + 43  # the later batch is stored all the same
    assert mailbox.last_uid == 4  # and the next round asks for message 5 again
    second = fetch.imap_round(SilentFolder(count=BATCH + 44, silent=5))  # type: ignore[arg-type]
    assert [m.number for m, _ in second.set_aside] == [5]
    assert mailbox.last_uid == BATCH + 44


@pytest.mark.django_db
def test_a_round_that_fails_unexpectedly_is_recorded_and_retried_not_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from casegate.config import get_config
    from casegate.mailboxes import runner

    def broken(mailbox: Mailbox) -> None:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(runner, "log_in", broken)
    # the thread's connection handling would close the test's own connection here
    monkeypatch.setattr(runner, "close_old_connections", lambda: None)
    mailbox = imap_account()
    runner.MailboxThread(mailbox, stored_all, get_config(), once=True)._run()
    mailbox.refresh_from_db()
    assert mailbox.failures == 1 and mailbox.next_attempt_at is not None
    assert mailbox.last_error == "OverflowError: date value out of range"


@pytest.mark.django_db
def test_the_wait_after_failures_stays_at_its_limit_however_many_there_were() -> None:
    mailbox = imap_account()
    mailbox.failures = 5000  # a server down for weeks
    assert failed(mailbox, "connection refused", retry_max=900.0) == 900.0
    assert mailbox.failures == 5001


class Rebuilt(SilentFolder):
    """A folder whose UIDVALIDITY changed, on a server that tells no UIDNEXT."""

    def select(self) -> FolderState:
        return FolderState(uidvalidity=8, uidnext=0, messages=self.count)


@pytest.mark.django_db
def test_a_new_uidvalidity_without_uidnext_still_recognises_what_was_stored() -> None:
    mailbox = imap_account()
    mailbox.uidvalidity, mailbox.last_uid = 7, 3
    fetch = MailboxFetch(mailbox, stored_all, 10**6, 2, threading.Event())
    fetch.imap_round(Rebuilt(count=3, silent=0))  # type: ignore[arg-type]
    assert Mailbox.objects.get(pk=mailbox.pk).resync_below == UID_LIMIT


class Maildrop:
    """A POP3 maildrop whose server gives two messages the same UIDL."""

    def __init__(self) -> None:
        self.uidls = {1: "AAA", 2: "AAA", 3: "BBB"}
        self.deleted: list[int] = []

    def listing(self) -> list[Listed]:
        return [Listed(n, uidl, 100) for n, uidl in self.uidls.items()]

    def content(self, number: int) -> bytes:
        return f"Subject: {number}\r\nMessage-ID: <{number}@x>\r\n\r\nbody\r\n".encode()

    def delete(self, number: int) -> None:
        self.deleted.append(number)


@pytest.mark.django_db
def test_messages_sharing_a_uidl_are_set_aside_and_never_deleted() -> None:
    add_mailbox("old", Protocol.POP3, "pop.example.com", "u", password_file="/x",
                deliver_to="help@solarmora.com", after_fetch="delete")
    mailbox = Mailbox.objects.get(name="old")
    fetch = MailboxFetch(mailbox, stored_all, 10**6, 2, threading.Event())
    drop = Maildrop()
    first = fetch.pop3_round(drop)  # type: ignore[arg-type]
    assert [m.key for m in first.stored] == ["BBB"] and drop.deleted == [3]
    assert [(m.number, why) for m, why in first.set_aside] == [
        (1, "the server lists 2 messages under this UIDL: left on it untouched"),
        (2, "the server lists 2 messages under this UIDL: left on it untouched")]
    second = fetch.pop3_round(drop)  # type: ignore[arg-type]
    assert not second.stored and not second.set_aside and drop.deleted == [3, 3]
    assert SetAside.objects.filter(mailbox=mailbox).count() == 1
