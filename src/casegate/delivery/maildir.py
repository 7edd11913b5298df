"""Delivering into a Maildir: write to tmp/, fsync, rename into new/, fsync the folder."""

from __future__ import annotations

import os
import socket
from pathlib import Path


class MaildirError(OSError):
    """The mailbox folder cannot be written."""


def mailbox_path(root: Path, address: str) -> Path:
    local, _, domain = address.rpartition("@")
    safe_local = local.replace("/", "_").replace("\x00", "_")
    if safe_local in ("", ".", ".."):
        safe_local = f"_{safe_local}"
    return root / domain / safe_local


def _ensure(folder: Path) -> None:
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)


def deliver(mailbox: Path, unique: str, data: bytes, junk: bool = False) -> Path:
    """Store ``data`` once: a second call with the same ``unique`` finds the first file."""
    folder = mailbox / ".Junk" if junk else mailbox
    _ensure(folder)
    name = f"{unique}.{socket.gethostname().replace('/', '_').replace(':', '_')}"
    final = folder / "new" / name
    if final.exists() or any((folder / "cur").glob(f"{name}*")):
        return final
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
    dir_fd = os.open(folder / "new", os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


def remove(mailbox: Path, unique: str) -> list[Path]:
    """Remove the message :func:`deliver` stored as ``unique``, new or read, in the inbox or
    in Junk; returns the files removed."""
    removed = []
    for folder in (mailbox, mailbox / ".Junk"):
        for found in (*(folder / "new").glob(f"{unique}.*"), *(folder / "cur").glob(f"{unique}.*")):
            found.unlink(missing_ok=True)
            removed.append(found)
    return removed
