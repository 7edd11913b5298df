"""``casegate backup DIR`` and ``casegate restore DIR``.

A backup is taken while mail flows. The database comes first, as one consistent snapshot:
SQLite's online backup API inside one read transaction (in WAL mode the gateway keeps
writing meanwhile), copied in paced steps so that the gateway's commits do not queue
behind a gigabyte of writes, or ``pg_dump``'s custom format (one snapshot transaction).
Then the home's files, paced alike: blobs and Maildir messages are written and made
durable before the transaction that refers to them commits, so everything the snapshot
names is on disk by the time it is copied; what arrives later is copied too or not, and
refers to nothing in the snapshot. The manifest is written last, once every copy is on
disk: a backup with a manifest is complete even after a crash.

Neither needs Django: a restore must find the home empty, and setting Django up writes
into it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from casegate import __version__
from casegate.config import FILE_NAME, Config, make_home
from casegate.durable import filesystem_flusher, write_durably
from casegate.errors import CasegateError
from casegate.text import listed

MANIFEST = "backup.json"
FORMAT = 1
HOME_COPY = "home"
SQLITE_COPY = "casegate.sqlite3"
POSTGRESQL_DUMP = "database.dump"
SQLITE, POSTGRESQL = "sqlite", "postgresql"
# What a running installation makes anew: the scan counters, the worker's lock and wake-up
# socket, files being written (a blob's .NAME.tmp, a Maildir's tmp/).
NOT_COPIED = frozenset({"scan-counts", "worker.lock"})
MAILDIR = frozenset({"cur", "new", "tmp"})
# How much a backup copies between two flushes: pages of the SQLite database (16 MiB of
# 4 KiB pages), bytes of the home's files.
STEP_PAGES = 4096
STEP_BYTES = 16 * 2**20
# A pause as long as the step it follows: measured with bench/backup.py, twice as long
# slowed intake no less and made the copy half as long again.
PAUSE_PER_STEP = 1.0


class BackupError(CasegateError):
    """A backup or a restore cannot be made as asked."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds: written last, so a backup without it is incomplete."""

    format: int
    version: str
    backend: str
    created_at: str
    seconds: float
    migrations: dict[str, list[str]]
    files: int
    bytes: int
    secret_key_file: bool

    @property
    def migration_count(self) -> int:
        return sum(len(names) for names in self.migrations.values())


def _migrations(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in rows:
        applied.setdefault(app, []).append(name)
    return applied


MIGRATIONS_QUERY = "SELECT app, name FROM django_migrations ORDER BY id"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed; it comes with PostgreSQL's client"
                          " programs (Debian: apt-get install postgresql-client)")
    return found


@dataclass(frozen=True)
class _Server:
    """How to reach the PostgreSQL server ``CASEGATE_DATABASE_URL`` names, read as Django
    reads it (dj_database_url): the connection's parameters, and the password apart, so that
    it is handed to pg_dump and pg_restore in their environment, not on a command line any
    user can list, and never shows in an error."""

    parameters: dict[str, str]
    password: str

    @classmethod
    def of(cls, url: str) -> _Server:
        import dj_database_url

        try:
            read = dj_database_url.parse(url)
        except Exception:
            raise BackupError("CASEGATE_DATABASE_URL cannot be read as a database URL") from None
        options = dict(read.get("OPTIONS", {}))
        # libpq's ?password=… form too: apart, never on pg_dump's command line.
        given = options.pop("password", "")  # never left among the parameters
        password = str(read.get("PASSWORD") or given or "")
        parameters = {"dbname": read.get("NAME"), "user": read.get("USER"),
                      "host": read.get("HOST"), "port": read.get("PORT"), **options}
        return cls({key: str(value) for key, value in parameters.items() if value}, password)

    def connect(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.conninfo(), password=self.password or None)
        except psycopg.Error as exc:
            raise BackupError(f"cannot reach the database: {_without(str(exc), self.password)}"
                              ) from None

    def conninfo(self) -> str:
        """The parameters as pg_dump's and pg_restore's --dbname, without the password."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(**self.parameters)

    def environment(self) -> dict[str, str]:
        return {**os.environ, "PGPASSWORD": self.password} if self.password else dict(os.environ)


def _without(text: str, secret: str) -> str:
    return text.replace(secret, "****") if secret else text


def _run(command: list[str], what: str, env: dict[str, str] | None = None,
         secret: str = "") -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        detail = " ".join(result.stderr.split()) or f"exit status {result.returncode}"
        raise BackupError(f"{what} failed: {_without(detail, secret)}")


class _Pacer:
    """Between the steps of a copy: what it wrote made durable by ``flush``, then a pause
    :data:`PAUSE_PER_STEP` times as long as the step took. The writes never pile up into one
    long flush that the gateway's commits would queue behind, and the copy takes about half
    of a core and of the disk, leaving the rest to the mail."""

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush
        self._since = time.monotonic()

    def step(self, *_progress: int) -> None:
        self._flush()
        time.sleep(PAUSE_PER_STEP * (time.monotonic() - self._since))
        self._since = time.monotonic()


def _backup_sqlite(config: Config, dest: Path) -> dict[str, list[str]]:
    if not config.sqlite_path.exists():
        raise BackupError(f"there is no database at {config.sqlite_path}; run: casegate init")
    copy = dest / SQLITE_COPY
    with closing(sqlite3.connect(config.sqlite_path, timeout=30,
                                 isolation_level=None)) as source, \
            closing(sqlite3.connect(copy)) as target:
        # One read transaction for the whole copy: in WAL mode it holds its snapshot while
        # the gateway goes on writing, so the copy can go in steps (a step outside it would
        # start the copy again whenever another connection wrote).
        source.execute("BEGIN")
        migrations = source.execute(MIGRATIONS_QUERY).fetchall()  # the snapshot starts here
        target.execute("PRAGMA journal_mode = OFF")  # a copy cut short is thrown away anyway
        written = os.open(copy, os.O_RDONLY)
        try:
            source.backup(target, pages=STEP_PAGES,
                          progress=_Pacer(lambda: os.fdatasync(written)).step)
            os.fsync(written)
        finally:
            os.close(written)
            source.execute("COMMIT")
    return _migrations(migrations)


def _backup_postgresql(url: str, dest: Path) -> dict[str, list[str]]:
    server = _Server.of(url)
    with server.connect() as connection:
        rows = connection.execute(MIGRATIONS_QUERY).fetchall()
    _run([_tool("pg_dump"), "--format=custom", "--file", str(dest / POSTGRESQL_DUMP),
          "--dbname", server.conninfo()], "pg_dump", server.environment(), server.password)
    return _migrations(rows)


def _files(root: Path) -> Iterator[Path]:
    """The home's files worth keeping, as paths relative to it."""
    for folder, subfolders, names in os.walk(root):
        maildir = set(subfolders) >= MAILDIR
        subfolders[:] = [name for name in subfolders
                         if name not in NOT_COPIED and not (maildir and name == "tmp")]
        for name in names:
            path = Path(folder, name)
            relative = path.relative_to(root)
            if (name.startswith(".") and name.endswith(".tmp")) or name in NOT_COPIED or (
                    len(relative.parts) == 1 and name.startswith(SQLITE_COPY)):
                continue
            yield relative


def _copy_files(source: Path, dest: Path, pacer: _Pacer | None = None) -> tuple[int, int]:
    """Copy the files of ``source`` under ``dest``; returns how many and their bytes.
    ``pacer``: stepped every :data:`STEP_BYTES` copied."""
    count = size = stepped = 0
    names = _MaildirNames()
    for relative in _files(source):
        if (source / relative).exists() and not (source / relative).is_file():
            continue  # a socket, say
        target = _copy_kept(source, relative, dest, names)
        if target is None:  # removed since it was listed
            continue
        count += 1
        size += target.stat().st_size
        if pacer is not None and size - stepped >= STEP_BYTES:
            pacer.step()
            stepped = size
    return count, size


def _copy_kept(source: Path, relative: Path, dest: Path, names: _MaildirNames
               ) -> Path | None:
    """Copy the file listed as ``relative``; a Maildir message a reader moved meanwhile
    under the name it has now. The copy, or None when it was removed."""
    path: Path | None = source / relative
    for _ in range(4):  # renamed again as it was copied: looked for once more
        if path is None:
            return None
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(path, target)
        except FileNotFoundError:
            target.unlink(missing_ok=True)  # copied, then renamed before its times were read
            path = names.now(source / relative)
            continue
        return target
    return None


class _MaildirNames:
    """The names of a Maildir's messages by their unique part (before the colon), read once
    a folder and again only when a message is not found under the name read: a reader that
    marks a whole folder read renames every message in it during a backup."""

    def __init__(self) -> None:
        self._read: dict[Path, dict[str, Path]] = {}

    def now(self, path: Path) -> Path | None:
        """The message listed as ``path`` under the name it has now, in new/ or cur/
        (a reader moved it or changed its flags, the part after the colon), else None."""
        if path.parent.name not in ("new", "cur"):
            return None
        maildir, unique = path.parent.parent, path.name.split(":", 1)[0]
        found = self._read.get(maildir, {}).get(unique)
        if found is None or not found.exists():
            self._read[maildir] = {entry.name.split(":", 1)[0]: Path(entry.path)
                                   for folder in ("new", "cur")
                                   for entry in _entries(maildir / folder)}
            found = self._read[maildir].get(unique)
        return found


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except FileNotFoundError:
        return []


def _empty(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def backup(config: Config, dest: Path) -> Manifest:
    """Back up the installation ``config`` names into the new or empty directory ``dest``,
    readable by its owner alone (it holds password hashes and DKIM private keys)."""
    if not _empty(dest):
        raise BackupError(f"{dest} is not empty; a backup goes into a new or empty directory")
    if dest.resolve().is_relative_to(config.home.resolve()):
        raise BackupError(f"{dest} is inside the home it would copy ({config.home}); a backup"
                          " goes elsewhere")
    started = datetime.now(UTC)
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    dest.chmod(0o700)
    with filesystem_flusher(dest) as flush:
        if config.database_url:
            backend, migrations = POSTGRESQL, _backup_postgresql(config.database_url, dest)
        else:
            backend, migrations = SQLITE, _backup_sqlite(config, dest)
        files, size = _copy_files(config.home, dest / HOME_COPY, _Pacer(flush))
        flush()  # the copies are durable before the manifest says it is complete
    manifest = Manifest(FORMAT, __version__, backend, started.isoformat(timespec="seconds"),
                        round((datetime.now(UTC) - started).total_seconds(), 3), migrations,
                        files, size, (config.home / "secret_key").is_file())
    write_durably(dest / MANIFEST, json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


def read_manifest(source: Path) -> Manifest:
    try:
        fields: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} is not a complete casegate backup: it has no"
                          f" {MANIFEST}") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source / MANIFEST} cannot be read: {exc}") from None
    if fields.get("format") != FORMAT:
        raise BackupError(f"{source} is a backup of format {fields.get('format')!r}; this"
                          f" casegate reads format {FORMAT}")
    return Manifest(**fields)


def _postgresql_is_empty(url: str) -> bool:
    with _Server.of(url).connect() as connection:
        row = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    return row is None or row[0] == 0


def restore(config: Config, source: Path) -> Manifest:
    """Restore the backup in ``source`` into the empty home (and empty PostgreSQL database)
    ``config`` names."""
    manifest = read_manifest(source)
    if not _empty(config.home):
        raise BackupError(f"{config.home} (CASEGATE_HOME) is not empty; a backup is restored"
                          " into a new or empty home, so that nothing of another"
                          " installation mixes with it")
    if manifest.backend == POSTGRESQL and not config.database_url:
        raise BackupError("the backup is of a PostgreSQL database: set CASEGATE_DATABASE_URL"
                          " to an empty database to restore it into")
    if manifest.backend == SQLITE and config.database_url:
        raise BackupError("the backup is of the embedded SQLite database: unset"
                          " CASEGATE_DATABASE_URL to restore it into the home")
    if config.database_url and not _postgresql_is_empty(config.database_url):
        raise BackupError("the database CASEGATE_DATABASE_URL names has tables already; a"
                          " backup is restored into an empty database (createdb a new one)")
    unknown = _unknown_migrations(manifest)
    if unknown:
        raise BackupError(f"the backup was taken by a newer casegate ({manifest.version}): its"
                          f" database has migrations casegate {__version__} does not know"
                          f" ({listed(unknown)}); restore it with that casegate or a later"
                          " one")
    make_home(config.home)
    if config.database_url:
        server = _Server.of(config.database_url)
        # One transaction: a restore that fails halfway leaves the database empty, so that
        # it can be tried again.
        _run([_tool("pg_restore"), "--no-owner", "--no-acl", "--exit-on-error",
              "--single-transaction", "--dbname", server.conninfo(),
              str(source / POSTGRESQL_DUMP)], "pg_restore", server.environment(),
             server.password)
    else:
        shutil.copyfile(source / SQLITE_COPY, config.sqlite_path)
    _release_claims(config)
    _copy_files(source / HOME_COPY, config.home)
    _set_aside_other_database(config)
    return manifest


# The backed-up home's configuration file, when it names another database than the one
# restored into (a restore to a new database, for staging or a move).
SET_ASIDE = f"{FILE_NAME}.from-backup"


def _set_aside_other_database(config: Config) -> None:
    """Rename the restored ``casegate.toml`` :data:`SET_ASIDE` when its ``database_url`` is
    not the one restored into: read as it is, it would point ``casegate upgrade`` and the
    service at the backed-up installation's database."""
    restored = config.home / FILE_NAME
    try:
        named = tomllib.loads(restored.read_text()).get("database_url", "")
    except (OSError, tomllib.TOMLDecodeError):  # none, or not TOML: nothing to compare
        return
    if named and str(named) != (config.database_url or ""):
        restored.rename(config.home / SET_ASIDE)


def _unknown_migrations(manifest: Manifest) -> list[str]:
    """The migrations of casegate's own apps in the backup's database that this casegate's
    source does not have (read from the files: the database is not set up yet)."""
    package = Path(__file__).resolve().parent.parent
    unknown = []
    for app, applied in sorted(manifest.migrations.items()):
        folder = package / app / "migrations"
        if folder.is_dir():  # Django's and other libraries' apps are not compared
            known = {path.stem for path in folder.glob("*.py")}
            unknown += [f"{app}.{name}" for name in applied if name not in known]
    return unknown


# Deliveries a worker of the backed-up installation had claimed: no worker of this one holds
# them, so they are due at once instead of when that worker's lease would have ended.
RELEASE_CLAIMS = ("UPDATE delivery_delivery SET state = 'pending', lease_until = NULL"
                  " WHERE state = 'inflight'")
HAS_DELIVERIES = {
    "sqlite": "SELECT count(*) FROM sqlite_master WHERE name = 'delivery_delivery'",
    "postgresql": "SELECT count(*) FROM pg_tables WHERE tablename = 'delivery_delivery'",
}


def _release_claims(config: Config) -> None:
    if config.database_url:
        with _Server.of(config.database_url).connect() as server:
            found = server.execute(HAS_DELIVERIES["postgresql"]).fetchone()
            if found and found[0]:  # a backup cut short may hold no tables
                server.execute(RELEASE_CLAIMS)
    else:
        with closing(sqlite3.connect(config.sqlite_path)) as embedded, embedded:
            if embedded.execute(HAS_DELIVERIES["sqlite"]).fetchone()[0]:
                embedded.execute(RELEASE_CLAIMS)
