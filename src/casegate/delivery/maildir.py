"""Delivering into a Maildir: write to tmp/, fsync, rename into new/, fsync the folder."""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from casegate.durable import fsync_folder


class MaildirError(OSError):
    """The mailbox folder cannot be written."""


def mailbox_path(root: Path, address: str) -> Path:
    local, _, domain = address.rpartition("@")
    safe_local = local.replace("/", "_").replace("\x00", "_")
    if safe_local in ("", ".", ".."):
        safe_local = f"_{safe_local}"
    return root / domain / safe_local


def _made(folder: Path) -> None:
    """Make ``folder`` and any missing parents, each entry durable in its parent: a message
    in a folder whose entry a power loss took is lost with it."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(exist_ok=True)
        fsync_folder(made.parent)


def _stored(folder: Path, unique: str) -> Iterator[Path]:
    """The files earlier deliveries of ``unique`` left, new or read, whatever host wrote them."""
    return itertools.chain((folder / "new").glob(f"{unique}.*"),
                           (folder / "cur").glob(f"{unique}.*"))


def deliver(mailbox: Path, unique: str, data: bytes, junk: bool = False) -> Path:
    """Store ``data`` once: a second call with the same ``unique`` finds the first file."""
    folder = mailbox / ".Junk" if junk else mailbox
    for sub in ("tmp", "new", "cur"):
        _made(folder / sub)
    if (earlier := next(_stored(folder, unique), None)) is not None:
        return earlier
    name = f"{unique}.{socket.gethostname().replace('/', '_').replace(':', '_')}"
    final = folder / "new" / name
    tmp = folder / "tmp" / name
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, final)
    fsync_folder(folder / "new")
    return final


def remove(mailbox: Path, unique: str) -> list[Path]:
    """Remove the message :func:`deliver` stored as ``unique``, new or read, in the inbox or
    in Junk; returns the files removed."""
    removed = []
    for folder in (mailbox, mailbox / ".Junk"):
        for found in list(_stored(folder, unique)):
            found.unlink(missing_ok=True)
            removed.append(found)
    return removed
