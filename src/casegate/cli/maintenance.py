"""``casegate backup``, ``restore`` and ``upgrade``: keeping an installation.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from casegate.cli.base import Subcommands
from casegate.config import FILE_NAME, get_config


def register(subcommands: Subcommands) -> None:
    p = subcommands.add_parser(
        "backup", help="back up the database, blobs, mailboxes, keys and settings while mail"
                       " flows")
    p.add_argument("dir", metavar="DIR", help="a new or empty directory")
    p.set_defaults(func=backup, needs_django=False)

    p = subcommands.add_parser("restore", help="restore a backup into an empty home")
    p.add_argument("dir", metavar="DIR", help="a directory casegate backup wrote")
    p.set_defaults(func=restore, needs_django=False)

    p = subcommands.add_parser(
        "upgrade", help="apply this version's database migrations (refuses a database a"
                        " newer casegate changed)")
    p.set_defaults(func=upgrade, creates_database=True)


def backup(args: argparse.Namespace) -> None:
    from casegate.maintenance.backup import backup as run_backup

    config = get_config()
    manifest = run_backup(config, Path(args.dir))
    print(f"backed up casegate {manifest.version} ({manifest.backend},"
          f" {manifest.migration_count} migrations) and {manifest.files} files"
          f" ({manifest.bytes} bytes) into {Path(args.dir).resolve()} in"
          f" {manifest.seconds:.1f} s")
    outside = [str(path) for path in (config.config_file,)
               if path.exists() and not path.is_relative_to(config.home)]
    if config.is_set("CASEGATE_SECRET_KEY") and not manifest.secret_key_file:
        outside.append("CASEGATE_SECRET_KEY")
    if outside:
        print(f"not in the backup, keep them with it: {', '.join(outside)}")


def restore(args: argparse.Namespace) -> None:
    from casegate.maintenance.backup import SET_ASIDE
    from casegate.maintenance.backup import restore as run_restore

    config = get_config()
    manifest = run_restore(config, Path(args.dir))
    print(f"restored the backup of {manifest.created_at} (casegate {manifest.version},"
          f" {manifest.backend}) into {config.home}; next: casegate upgrade, then start"
          " casegate")
    if not manifest.secret_key_file:
        print("the backed-up installation took its secret key from CASEGATE_SECRET_KEY:"
              " set the same value here")
    if (config.home / SET_ASIDE).exists():
        print(f"the backup's {FILE_NAME} names another database than this restore's: it is"
              f" kept as {config.home / SET_ASIDE}; copy the settings wanted from it")


def upgrade(args: argparse.Namespace) -> None:
    from casegate.maintenance.schema import upgrade as run_upgrade

    applied = run_upgrade()
    print(f"applied {len(applied)} migrations: {', '.join(applied)}" if applied
          else "the database is up to date")
