"""``casegate log QUEUEID``: one message's lines from log files, rotated copies and stdin."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from casegate.cli.main import main

PLAIN = "2025-05-01 10:00:00,000 INFO casegate.gateway[7] queue={} accepted from=<a@b.example>"


def test_the_lines_of_one_message_from_the_log_file_and_its_rotations(
        tmp_path: Path, setting: Callable[[str, str | None], None],
        capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "casegate.log"
    with gzip.open(tmp_path / "casegate.log.2.gz", "wt") as old:
        old.write(PLAIN.format("Q1") + "\n" + PLAIN.format("Q2") + "\n")
    (tmp_path / "casegate.log.1").write_text(
        json.dumps({"queue": "Q1", "status": "deferred"}) + "\n")
    log.write_text(json.dumps({"queue": "Q1", "status": "delivered"}) + "\n")
    setting("CASEGATE_LOG_FILE", str(log))
    assert main(["log", "Q1"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == PLAIN.format("Q1")
    assert [json.loads(line)["status"] for line in printed[1:]] == ["deferred", "delivered"]


def test_stdin_and_named_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PLAIN.format("Q3") + "\n"))
    named = tmp_path / "other.log"
    named.write_text(PLAIN.format("Q3") + "\n" + PLAIN.format("Q4") + "\n")
    assert main(["log", "Q3", "--file", "-", "--file", str(named)]) == 0
    assert capsys.readouterr().out.splitlines() == [PLAIN.format("Q3")] * 2


def test_no_line_and_no_file_are_said(tmp_path: Path,
                                      setting: Callable[[str, str | None], None],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    named = tmp_path / "other.log"
    named.write_text(PLAIN.format("Q4") + "\n")
    assert main(["log", "Q5", "--file", str(named)]) == 1
    assert "no line names queue=Q5" in capsys.readouterr().err
    setting("CASEGATE_LOG_FILE", None)
    assert main(["log", "Q5"]) == 1
    assert "journalctl -u casegate | casegate log QUEUEID --file -" in capsys.readouterr().err
