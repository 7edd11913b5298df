"""``casegate config show`` and ``config check``, ``--config FILE`` and ``--version``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from casegate import __version__
from casegate.cli.main import main


@pytest.fixture
def home(setting: Callable[..., None], tmp_path: Path) -> Path:
    setting("CASEGATE_HOME", str(tmp_path))
    for name in ("CASEGATE_HOSTNAME", "CASEGATE_SECRET_KEY", "CASEGATE_DATABASE_URL"):
        setting(name, None)
    setting("CASEGATE_CONFIG", "")  # unset; restored after --config sets it
    return tmp_path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"casegate {__version__}\n"


def test_check_names_every_problem_and_exits_1(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (home / "casegate.toml").write_text('max_recipients = "many"\nhostnme = "mx.example"\n')
    assert main(["config", "check"]) == 1
    problems = capsys.readouterr().err.splitlines()
    assert problems == [
        f"casegate: {home}/casegate.toml: 'hostnme' is not a setting; did you mean 'hostname'?",
        f"casegate: {home}/casegate.toml: max_recipients = \"many\" has the wrong type:"
        " expected an integer, not a string",
    ]
    # any other command stops on them too, in one line, before it reads the database
    other = subprocess.run([sys.executable, "-m", "casegate", "queue", "list"],
                           capture_output=True, text=True, env=os.environ.copy())
    assert other.returncode == 1 and len(other.stderr.splitlines()) == 1
    assert "'hostnme' is not a setting" in other.stderr and "max_recipients" in other.stderr


def test_check_without_problems(home: Path, setting: Callable[..., None],
                                capsys: pytest.CaptureFixture[str]) -> None:
    (home / "casegate.toml").write_text('hostname = "mx.example.com"\n')
    setting("CASEGATE_ACK_LIMIT", "5")
    assert main(["config", "check"]) == 0
    assert capsys.readouterr().out == (
        f"configuration OK: file {home}/casegate.toml (read); settings from the file: 1, from"
        " the environment: 2\n")  # CASEGATE_HOME and CASEGATE_ACK_LIMIT


def test_check_looks_at_who_may_read_and_write_the_file(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / "casegate.toml"
    path.write_text('hostname = "mx.example.com"\nsecret_key = "s3cret-s3cret-s3cret"\n')
    path.chmod(0o644)
    assert main(["config", "check"]) == 0
    warned = capsys.readouterr().err
    assert f"warning: {path} holds secret_key and may be read by others (mode 0644)" in warned
    assert "s3cret" not in warned
    path.chmod(0o666)
    assert main(["config", "check"]) == 1
    assert f"refused: {path} may be written by others (mode 0666)" in capsys.readouterr().err
    path.chmod(0o600)
    assert main(["config", "check"]) == 0 and capsys.readouterr().err == ""
    path.chmod(0o640)  # root's file, read by the service's group
    assert main(["config", "check"]) == 0 and capsys.readouterr().err == ""
    path.write_text('database_url = "postgresql://casegate@db.example/casegate"\n')
    path.chmod(0o644)  # no password in it: nothing secret
    assert main(["config", "check"]) == 0 and capsys.readouterr().err == ""


def test_show_says_where_each_value_comes_from_and_masks_secrets(
        home: Path, setting: Callable[..., None], capsys: pytest.CaptureFixture[str]) -> None:
    other = home / "other.toml"
    other.write_text('hostname = "mx.file.example"\nsecret_key = "do-not-print"\n'
                     'database_url = "postgresql://casegate:hunter2@db.example/casegate"\n')
    setting("CASEGATE_ACK_LIMIT", "5")
    assert main(["--config", str(other), "config", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["file"], shown["file_found"], shown["problems"]) == (str(other), True, [])
    values = {s["variable"]: (s["value"], s["source"]) for s in shown["settings"]}
    assert values["CASEGATE_CONFIG"] == (str(other), "environment")
    assert values["CASEGATE_HOSTNAME"] == ("mx.file.example", "file")
    assert values["CASEGATE_ACK_LIMIT"] == ("5", "environment")
    assert values["CASEGATE_LOOP_LIMIT"] == ("20", "default")
    assert values["CASEGATE_SECRET_KEY"] == ("********", "file")
    assert values["CASEGATE_DATABASE_URL"] == (
        "postgresql://casegate:********@db.example/casegate", "file")
    assert main(["--config", str(other), "config", "show"]) == 0
    text = capsys.readouterr().out
    assert "do-not-print" not in text and "hunter2" not in text
    assert f"configuration file: {other} (read)" in text
    assert any(line.split() == ["CASEGATE_HOSTNAME", "file", "mx.file.example"]
               for line in text.splitlines())


def test_a_missing_file_named_by_config_is_a_problem(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(home / "nowhere.toml"), "config", "check"]) == 1
    assert "nowhere.toml: there is no such configuration file" in capsys.readouterr().err


def test_output_to_a_reader_that_has_gone_ends_quietly(home: Path) -> None:
    reading, writing = os.pipe()
    os.close(reading)  # as `casegate … | head` after head has read its lines
    try:
        gone = subprocess.run([sys.executable, "-m", "casegate", "config", "show"],
                              stdout=writing, stderr=subprocess.PIPE, text=True,
                              env=os.environ.copy())
    finally:
        os.close(writing)
    assert gone.stderr == "" and gone.returncode == 141


@pytest.mark.parametrize("command", [["config", "show"], ["rule", "export"]])
def test_a_command_started_without_standard_output_still_succeeds(
        home: Path, command: list[str]) -> None:
    # print() skips a missing stdout; sys.stdout.write() (rule export) would fail on it.
    if command[0] == "rule":
        subprocess.run([sys.executable, "-m", "casegate", "init"], check=True,
                       capture_output=True, env=os.environ.copy())
    closed = subprocess.run([sys.executable, "-m", "casegate", *command],
                            preexec_fn=lambda: os.close(1), stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy())
    assert (closed.returncode, closed.stderr) == (0, "")
