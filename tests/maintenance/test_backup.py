"""``casegate backup`` and ``restore`` refusals and what a backup leaves out, without a
running server (the end-to-end test backs up while mail flows: tests/e2e/test_backup.py)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from casegate.config import Config, read_configuration
from casegate.maintenance import backup as backup_module
from casegate.maintenance.backup import BackupError, backup, read_manifest, restore


def _config(home: Path, **env: str) -> Config:
    config = read_configuration({"CASEGATE_HOME": str(home), **env}).config
    assert config is not None
    return config


def _home(tmp_path: Path) -> Path:
    """A home with a small SQLite database, blobs, a Maildir and what serve makes anew."""
    home = tmp_path / "home"
    (home / "blobs" / "ab").mkdir(parents=True)
    (home / "blobs" / "ab" / "abcdef").write_bytes(b"a blob")
    (home / "blobs" / "ab" / ".abcdef.4242.tmp").write_bytes(b"half a blob")
    for sub in ("cur", "new", "tmp"):
        (home / "mailboxes" / "example.com" / "tmp" / sub).mkdir(parents=True)
    (home / "mailboxes" / "example.com" / "tmp" / "new" / "1.host").write_bytes(b"mail")
    (home / "mailboxes" / "example.com" / "tmp" / "tmp" / "2.host").write_bytes(b"half")
    (home / "scan-counts").mkdir()
    (home / "scan-counts" / "counter_1.db").write_bytes(b"x")
    (home / "worker.lock").write_text("")
    (home / "secret_key").write_text("k")
    with sqlite3.connect(home / "casegate.sqlite3") as connection:
        connection.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT,"
                           " name TEXT, applied TEXT)")
        connection.execute("INSERT INTO django_migrations (app, name, applied)"
                           " VALUES ('desk', '0001_initial', '2025-01-01')")
    return home


def test_a_backup_keeps_blobs_mailboxes_and_keys_and_leaves_out_what_is_remade(
        tmp_path: Path) -> None:
    manifest = backup(_config(_home(tmp_path)), tmp_path / "backup")
    kept = sorted(str(p.relative_to(tmp_path / "backup" / "home"))
                  for p in (tmp_path / "backup" / "home").rglob("*") if p.is_file())
    assert kept == ["blobs/ab/abcdef", "mailboxes/example.com/tmp/new/1.host", "secret_key"]
    assert (manifest.backend, manifest.migrations, manifest.files) == (
        "sqlite", {"desk": ["0001_initial"]}, 3)
    assert manifest.secret_key_file
    assert read_manifest(tmp_path / "backup") == manifest
    assert json.loads((tmp_path / "backup" / "backup.json").read_text())["version"]


def test_a_maildir_message_a_reader_renames_during_the_backup_is_kept_under_its_new_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path)
    maildir = home / "mailboxes" / "example.com" / "tmp"
    listing = backup_module._files

    def read_meanwhile(root: Path) -> Iterator[Path]:
        for relative in list(listing(root)):  # cur/ and new/ both listed before the copies
            if relative.name == "1.host":  # and then Dovecot marks it read
                (maildir / "new" / "1.host").rename(maildir / "cur" / "1.host:2,S")
            yield relative

    monkeypatch.setattr(backup_module, "_files", read_meanwhile)
    backup(_config(home), tmp_path / "backup")
    kept = tmp_path / "backup" / "home" / "mailboxes" / "example.com" / "tmp" / "cur"
    assert (kept / "1.host:2,S").read_bytes() == b"mail"
    assert not (kept.parent / "new" / "1.host").exists()  # once, under its new name


def test_a_message_renamed_between_its_copy_and_its_times_is_kept_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path)
    maildir = home / "mailboxes" / "example.com" / "tmp"
    copying = backup_module.shutil.copy2

    def renamed_midway(source: Path, target: Path) -> object:
        if Path(source).name == "1.host":  # the bytes copied, then Dovecot renames it
            backup_module.shutil.copyfile(source, target)
            Path(source).rename(maildir / "cur" / "1.host:2,S")
            raise FileNotFoundError(source)
        return copying(source, target)

    monkeypatch.setattr(backup_module.shutil, "copy2", renamed_midway)
    backup(_config(home), tmp_path / "backup")
    kept = tmp_path / "backup" / "home" / "mailboxes" / "example.com" / "tmp"
    assert sorted(p.name for p in kept.rglob("1.host*")) == ["1.host:2,S"]


def test_a_database_copied_in_steps_is_one_snapshot_while_another_connection_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path)
    with sqlite3.connect(home / "casegate.sqlite3") as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("CREATE TABLE mail (body BLOB)")
        connection.executemany("INSERT INTO mail VALUES (?)", [(b"x" * 4000,)] * 300)
    writer = sqlite3.connect(home / "casegate.sqlite3", isolation_level=None)
    paced = backup_module._Pacer.step
    steps = []

    def write_then_pace(pacer: backup_module._Pacer, *progress: int) -> None:
        steps.append(progress)
        assert len(steps) < 1000, "the copy starts again at each write"
        writer.execute("INSERT INTO mail VALUES (?)", (b"y" * 4000,))
        paced(pacer, *progress)

    monkeypatch.setattr(backup_module, "STEP_PAGES", 8)
    monkeypatch.setattr(backup_module._Pacer, "step", write_then_pace)
    backup(_config(home), tmp_path / "backup")

    copy = sqlite3.connect(tmp_path / "backup" / "casegate.sqlite3")
    assert copy.execute("SELECT count(*) FROM mail").fetchone() == (300,)
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert writer.execute("SELECT count(*) FROM mail").fetchone()[0] > 300 + 30


def test_a_backup_needs_an_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("")
    with pytest.raises(BackupError, match="is not empty; a backup goes into a new or empty"):
        backup(_config(_home(tmp_path)), tmp_path / "taken")


def test_a_backup_is_its_owner_s_alone_and_never_inside_the_home(tmp_path: Path) -> None:
    home = _home(tmp_path)
    backup(_config(home), tmp_path / "backup")
    assert (tmp_path / "backup").stat().st_mode & 0o777 == 0o700  # hashes and DKIM keys
    with pytest.raises(BackupError, match="is inside the home it would copy"):
        backup(_config(home), home / "backups" / "b1")  # it would copy itself for ever


def test_the_database_password_is_neither_on_a_command_line_nor_in_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = backup_module._Server.of("pgsql://casegate:s3cr%25t@127.0.0.1:1/desk")
    assert server.password == "s3cr%t" and "s3cr" not in server.conninfo()
    assert server.environment()["PGPASSWORD"] == "s3cr%t"
    with pytest.raises(BackupError) as refused:
        server.connect()  # nothing listens on port 1
    assert "s3cr" not in str(refused.value)
    ran: list[list[str]] = []
    monkeypatch.setattr(backup_module, "_tool", lambda name: name)
    monkeypatch.setattr(backup_module, "_postgresql_is_empty", lambda url: True)
    monkeypatch.setattr(backup_module.subprocess, "run", lambda command, **kw: (
        ran.append(command), backup_module.subprocess.CompletedProcess(command, 1, "",
                                                                     "s3cr%t refused"))[1])
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "backup.json").write_text(json.dumps({
        "format": 1, "version": "x", "backend": "postgresql", "created_at": "", "seconds": 0,
        "migrations": {}, "files": 0, "bytes": 0, "secret_key_file": False}))
    with pytest.raises(BackupError, match=r"pg_restore failed: \*\*\*\* refused"):
        restore(_config(tmp_path / "new",
                        CASEGATE_DATABASE_URL="pgsql://casegate:s3cr%25t@127.0.0.1:1/desk"),
                tmp_path / "backup")
    assert ran and not any("s3cr" in part for part in ran[0])
    in_query = backup_module._Server.of("postgresql://casegate@127.0.0.1/desk?password=s3cret")
    assert in_query.password == "s3cret" and "s3cret" not in in_query.conninfo()
    twice = backup_module._Server.of("postgresql://casegate:pw@127.0.0.1/desk?password=s3cret")
    assert twice.password == "pw" and "s3cret" not in twice.conninfo()


def test_a_restore_needs_a_complete_backup_an_empty_home_and_the_same_backend(
        tmp_path: Path) -> None:
    backup(_config(_home(tmp_path)), tmp_path / "backup")
    with pytest.raises(BackupError, match="not a complete casegate backup"):
        restore(_config(tmp_path / "new"), tmp_path)
    with pytest.raises(BackupError, match=r"\(CASEGATE_HOME\) is not empty"):
        restore(_config(tmp_path / "home"), tmp_path / "backup")
    with pytest.raises(BackupError, match="unset CASEGATE_DATABASE_URL"):
        restore(_config(tmp_path / "new", CASEGATE_DATABASE_URL="postgresql://x@127.0.0.1/y"),
                tmp_path / "backup")
    restore(_config(tmp_path / "new"), tmp_path / "backup")
    assert (tmp_path / "new" / "blobs" / "ab" / "abcdef").read_bytes() == b"a blob"
    with sqlite3.connect(tmp_path / "new" / "casegate.sqlite3") as connection:
        assert connection.execute("SELECT name FROM django_migrations").fetchall() == [
            ("0001_initial",)]


def test_a_backup_of_a_newer_casegate_is_refused_before_anything_is_written(
        tmp_path: Path) -> None:
    backup(_config(_home(tmp_path)), tmp_path / "backup")
    manifest = json.loads((tmp_path / "backup" / "backup.json").read_text())
    manifest["migrations"] = {"desk": ["0001_initial", "9999_from_the_future"],
                              "auth": ["9999_not_ours_to_judge"]}
    (tmp_path / "backup" / "backup.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match=r"newer casegate .*\(desk.9999_from_the_future\)"):
        restore(_config(tmp_path / "new"), tmp_path / "backup")
    assert not (tmp_path / "new").exists()


def test_a_configuration_naming_another_database_is_set_aside_by_a_restore(
        tmp_path: Path) -> None:
    home = _home(tmp_path)
    (home / "casegate.toml").write_text('hostname = "mx.example.com"\n')
    backup(_config(home), tmp_path / "backup")
    restore(_config(tmp_path / "same"), tmp_path / "backup")  # both on the home's SQLite
    assert (tmp_path / "same" / "casegate.toml").exists()
    # One naming no database is kept whatever the database restored into.
    (tmp_path / "third").mkdir()
    (tmp_path / "third" / "casegate.toml").write_text('hostname = "mx.example.com"\n')
    backup_module._set_aside_other_database(
        _config(tmp_path / "third", CASEGATE_DATABASE_URL="postgresql://x@db/desk"))
    assert (tmp_path / "third" / "casegate.toml").exists()
    # A home whose file names its database server, restored here into SQLite (or another
    # server): kept as it was, it would have the service work the old installation's queue.
    (tmp_path / "backup" / "home" / "casegate.toml").write_text(
        'database_url = "postgresql://x@production/desk"\n')
    restore(_config(tmp_path / "staging"), tmp_path / "backup")
    assert not (tmp_path / "staging" / "casegate.toml").exists()
    assert "production" in (tmp_path / "staging" / backup_module.SET_ASIDE).read_text()
