"""Making what was written durable: a whole filesystem in one call, or one file with its
folder's entry."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)


def flush_filesystem(directory: Path) -> None:
    """Make everything written on the filesystem of ``directory`` durable: syncfs(2), one
    call for many files (sync(2), every filesystem, where syncfs is missing)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        if getattr(_libc, "syncfs", None) is None or _libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def write_durably(path: Path, text: str) -> None:
    """Write ``path`` and make it and its entry in its folder durable."""
    with open(path, "w") as written:
        written.write(text)
        written.flush()
        os.fsync(written.fileno())
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
