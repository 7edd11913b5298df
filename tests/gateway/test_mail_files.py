"""Old mail on disk: each format found, read as the stdlib reads it, and known as one message
whichever format it was read from."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from casegate.gateway.mail_files import (
    Broken,
    NotMail,
    found_in,
    in_date_order,
    kind_of,
    origin_of,
    with_crlf,
)

ONE = (b"From: Ann <ann@customer.example>\r\nSubject: One\r\n"
       b"Date: Tue, 12 Mar 2019 09:30:00 +0000\r\n\r\nHello\r\nFrom the start of a line\r\n")
TWO = b"From: Bo <bo@customer.example>\nSubject: Two\nDate: Mon, 11 Mar 2019 09:30:00 +0000\n\nHi\n"
UNDATED = b"From: Cy <cy@customer.example>\nSubject: Undated\n\nNo date\n"


def contents(paths: list[Path]) -> list[bytes]:
    return [found.read() for found in found_in(paths)]


def test_each_format_is_detected(tmp_path: Path) -> None:
    box = mailbox.mbox(tmp_path / "archive")
    box.add(TWO)
    box.flush()
    mailbox.Maildir(tmp_path / "Maildir", create=True).add(TWO)
    (tmp_path / "folder" / "deeper").mkdir(parents=True)
    (tmp_path / "folder" / "deeper" / "two.EML").write_bytes(TWO)
    (tmp_path / "folder" / "notes.txt").write_text("not looked at")
    (tmp_path / "message").write_bytes(TWO)
    kinds = {name: kind_of(tmp_path / name) for name in ("archive", "Maildir", "folder",
                                                         "message")}
    assert kinds == {"archive": "mbox", "Maildir": "maildir", "folder": "folder",
                     "message": "message"}
    assert contents([tmp_path / name for name in kinds]) == [TWO] * 4


@pytest.mark.parametrize(("make", "said"), [
    (lambda p: p.write_bytes(b"%PDF-1.4 \x00\x01"), "neither an mbox"),
    (lambda p: p.mkdir(), "holds no .eml files"),
    (lambda p: None, "no such file or folder"),
])
def test_anything_else_is_refused_with_the_reason(tmp_path: Path, make, said: str) -> None:
    path = tmp_path / "input"
    make(path)
    with pytest.raises(NotMail, match=said):
        list(found_in([path]))


def test_an_empty_file_is_an_mbox_holding_no_mail(tmp_path: Path) -> None:
    (tmp_path / "inbox").write_bytes(b"")
    (tmp_path / "good.eml").write_bytes(TWO)
    assert kind_of(tmp_path / "inbox") == "mbox"
    assert contents([tmp_path / "inbox", tmp_path / "good.eml"]) == [TWO]


def test_a_wrong_path_stops_before_anything_is_read(tmp_path: Path) -> None:
    (tmp_path / "good.eml").write_bytes(TWO)
    with pytest.raises(NotMail):
        next(found_in([tmp_path / "good.eml", tmp_path / "missing"]))


def test_a_broken_message_says_why_when_read(tmp_path: Path) -> None:
    (tmp_path / "empty.eml").write_bytes(b"\n\n")
    (tmp_path / "garbage.eml").write_bytes(b"\x89PNG\r\n")
    broken = {}
    for found in found_in([tmp_path]):
        with pytest.raises(Broken) as error:
            found.read()
        broken[Path(found.where).name] = str(error.value)
    assert broken == {"empty.eml": "empty",
                      "garbage.eml": "not a message: it does not start with header fields"}


def test_a_message_file_with_its_mbox_envelope_line_is_read_without_it(tmp_path: Path) -> None:
    (tmp_path / "saved.eml").write_bytes(b"From MAILER-DAEMON  Sun Sep  7 21:40:07 2008\r" +
                                         TWO.replace(b"\n", b"\r"))
    assert contents([tmp_path / "saved.eml"]) == [TWO.replace(b"\n", b"\r")]


def test_the_same_message_from_every_format_has_one_origin(tmp_path: Path) -> None:
    box = mailbox.mbox(tmp_path / "archive")
    box.add(ONE.replace(b"\r\n", b"\n"))
    box.flush()
    mailbox.Maildir(tmp_path / "Maildir", create=True).add(ONE)
    (tmp_path / "one.eml").write_bytes(ONE.replace(b"\r\n", b"\r"))
    read = contents([tmp_path / "archive", tmp_path / "Maildir", tmp_path / "one.eml"])
    assert b"\n>From the start" in read[0]  # the stdlib does not unquote mbox's >From
    assert len({origin_of(content) for content in read}) == 1
    assert origin_of(ONE) != origin_of(ONE.replace(b"Hello", b"Hullo"))
    assert with_crlf(read[2]) == ONE


def test_messages_are_imported_oldest_first_and_undated_ones_last(tmp_path: Path) -> None:
    for name, content in (("a.eml", UNDATED), ("b.eml", ONE), ("c.eml", TWO)):
        (tmp_path / name).write_bytes(content)
    ordered = in_date_order(list(found_in([tmp_path])))
    assert [Path(f.where).name for f in ordered] == ["c.eml", "b.eml", "a.eml"]
