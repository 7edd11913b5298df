"""Maildir: a stored message is removed by the name it was stored under, wherever it is."""

from __future__ import annotations

from pathlib import Path

from casegate.delivery import maildir


def test_a_stored_message_is_removed_from_new_cur_or_junk_and_no_other(tmp_path: Path) -> None:
    box = maildir.mailbox_path(tmp_path, "alex@solarmora.com")
    new = maildir.deliver(box, "Q1.12", b"Subject: one\r\n\r\n")
    read = maildir.deliver(box, "Q1.13", b"Subject: two\r\n\r\n")
    seen = read.parent.parent / "cur" / f"{read.name}:2,S"
    read.rename(seen)
    junk = maildir.deliver(box, "Q1.14", b"Subject: three\r\n\r\n", junk=True)
    other = maildir.deliver(box, "Q1.123", b"Subject: four\r\n\r\n")
    assert maildir.remove(box, "Q1.12") == [new]
    assert maildir.remove(box, "Q1.13") == [seen]
    assert maildir.remove(box, "Q1.14") == [junk]
    assert maildir.remove(box, "Q1.12") == []
    assert other.exists() and not any(p.exists() for p in (new, seen, junk))
