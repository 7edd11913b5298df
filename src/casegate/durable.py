"""Making what was written durable: a whole filesystem in one call, or one file with its
folder's entry."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)


@contextmanager
def filesystem_flusher(directory: Path) -> Iterator[Callable[[], None]]:
    """A function that makes everything written on the filesystem of ``directory`` durable:
    syncfs(2), one call for many files (sync(2), every filesystem, where syncfs is missing).

    Open it before writing: syncfs reports only the write errors met since its folder was
    opened, and an error it reports is raised (sync(2) reports none)."""
    fd = os.open(directory, os.O_RDONLY)

    def flush() -> None:
        syncfs = getattr(_libc, "syncfs", None)
        if syncfs is None:
            os.sync()
        elif syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"cannot make {directory} durable: {os.strerror(error)}")

    try:
        yield flush
    finally:
        os.close(fd)


def fsync_folder(path: Path) -> None:
    """Make ``path``'s entries (files renamed or made in it) durable."""
    folder = os.open(path, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_durably(path: Path, text: str) -> None:
    """Write ``path`` and make it and its entry in its folder durable."""
    with open(path, "w") as written:
        written.write(text)
        written.flush()
        os.fsync(written.fileno())
    fsync_folder(path.parent)
