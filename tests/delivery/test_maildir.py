"""Maildir: a stored message is removed by the name it was stored under, wherever it is."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_a_message_delivered_again_from_another_host_is_not_stored_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = maildir.mailbox_path(tmp_path, "alex@solarmora.com")
    first = maildir.deliver(box, "Q1.7", b"Subject: one\r\n\r\n")
    monkeypatch.setattr(maildir.socket, "gethostname", lambda: "restarted-container")
    assert maildir.deliver(box, "Q1.7", b"Subject: one\r\n\r\n") == first
    seen = first.parent.parent / "cur" / f"{first.name}:2,S"
    first.rename(seen)
    assert maildir.deliver(box, "Q1.7", b"Subject: one\r\n\r\n") == seen
    assert [p.name for p in (box / "new").iterdir()] == []


def test_each_folder_made_for_a_first_message_is_durable_in_its_parent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[Path] = []
    monkeypatch.setattr(maildir, "fsync_folder", synced.append)
    box = maildir.mailbox_path(tmp_path, "alex@solarmora.com")
    maildir.deliver(box, "Q1.8", b"Subject: one\r\n\r\n", junk=True)
    made = [box.parent, box, box / ".Junk", *(box / ".Junk" / sub for sub in ("tmp", "new", "cur"))]
    assert synced == [*(folder.parent for folder in made), box / ".Junk" / "new"]
    synced.clear()
    maildir.deliver(box, "Q1.9", b"Subject: two\r\n\r\n", junk=True)
    assert synced == [box / ".Junk" / "new"]
