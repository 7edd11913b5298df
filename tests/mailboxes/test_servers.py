"""Reading imaplib's FETCH data: every shape a server may answer in; what an old server
without UIDPLUS is asked to expunge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from casegate.mailboxes.servers import Fetched, ImapFolder, Where, fetched
from casegate.mailboxes.vocabulary import AfterFetch, AfterFetchAction, Tls

BODY = b"Subject: hi\r\n\r\nUID 9 RFC822.SIZE 1 BODY[] {1}\r\n"


def test_answers_with_a_literal_give_uid_date_and_content() -> None:
    data = [(b'1 (UID 40 INTERNALDATE "30-Nov-2026 18:15:27 +0100" BODY[] {52}', BODY), b")",
            (b'2 (UID 41 INTERNALDATE " 1-Dec-2026 01:02:03 +0000" BODY[] {52}', BODY), b")"]
    assert fetched(data) == [
        Fetched(40, None, datetime(2026, 11, 30, 18, 15, 27,
                                   tzinfo=timezone(timedelta(hours=1))), BODY),
        Fetched(41, None, datetime(2026, 12, 1, 1, 2, 3, tzinfo=UTC), BODY)]


def test_fields_after_the_literal_belong_to_its_answer() -> None:
    data = [(b"1 (BODY[] {52}", BODY), b' UID 40 INTERNALDATE "bad date")']
    assert fetched(data) == [Fetched(40, None, None, BODY)]


def test_sizes_and_news_of_other_messages() -> None:
    data = [b"1 (UID 40 RFC822.SIZE 4200)", b"7 (FLAGS (\\Seen))",
            b"2 (RFC822.SIZE 17 UID 41)", None]
    assert fetched(data) == [Fetched(40, 4200), Fetched(41, 17)]


def test_a_literal_that_is_not_the_body_is_not_taken_for_it() -> None:
    data = [(b"1 (UID 40 X-GM-LABELS {5}", b"inbox"), b" RFC822.SIZE 10)"]
    assert fetched(data) == [Fetched(40, 10)]


def test_a_body_sent_as_a_quoted_string_or_nil() -> None:
    data = [b'1 (UID 40 BODY[] "")', b'2 (UID 41 BODY[] "a \\"quoted\\" \\\\ one")',
            b"3 (UID 42 BODY[] NIL)"]
    assert fetched(data) == [Fetched(40, content=b""), Fetched(41, content=b'a "quoted" \\ one'),
                             Fetched(42)]


def test_words_in_a_quoted_body_are_not_taken_for_fields() -> None:
    data = [b'1 (BODY[] "X UID 999 RFC822.SIZE 5" UID 40 RFC822.SIZE 30)']
    assert fetched(data) == [Fetched(40, 30, content=b"X UID 999 RFC822.SIZE 5")]


class OldServer:
    """An IMAP server without UIDPLUS or MOVE, where someone else marked message 9 deleted."""

    def __init__(self, deleted_by_others: list[int]) -> None:
        self.deleted = list(deleted_by_others)
        self.expunged = False

    def has_capability(self, name: str) -> bool:
        return False

    def copy(self, uids: list[int], folder: str) -> None:
        pass

    def delete_messages(self, uids: list[int], silent: bool) -> None:
        self.deleted += uids

    def search(self, criteria: list[str]) -> list[int]:
        return self.deleted

    def expunge(self) -> None:
        self.expunged = True


@pytest.mark.parametrize(("others", "expunged"), [([], True), ([9], False)])
def test_without_uidplus_what_others_marked_deleted_is_never_expunged(
        others: list[int], expunged: bool) -> None:
    folder = object.__new__(ImapFolder)
    server = OldServer(others)
    folder.where, folder.client = Where("imap.example.com", 143, Tls.NONE), server
    folder.settle([1, 2], AfterFetchAction(AfterFetch.MOVE, "Fetched"))
    assert server.expunged is expunged


class ToldDuringTheRound:
    """A server that told of a new message with the answer to the round's last command."""

    def __init__(self) -> None:
        self._imap = SimpleNamespace(untagged_responses={"EXISTS": [b"4"]})
        self.idled = False

    def idle(self) -> None:
        self.idled = True

    def idle_check(self, timeout: float) -> list[object]:
        return []

    def idle_done(self) -> tuple[bytes, list[object]]:
        return b"", []


def test_new_mail_told_of_during_a_round_starts_the_next_round_at_once() -> None:
    folder = object.__new__(ImapFolder)
    server = ToldDuringTheRound()
    folder.where, folder.client = Where("imap.example.com", 143, Tls.NONE), server
    assert folder.wait_for_mail(60.0) and not server.idled
    assert not folder.wait_for_mail(0.01) and server.idled  # news is told once
