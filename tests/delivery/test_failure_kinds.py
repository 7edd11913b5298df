"""Which failures pass (the disk or the database) and which are the message's own: only the
message's own lead to a delivery being set aside."""

from __future__ import annotations

import errno
import sqlite3

import psycopg
import pytest
from django.db import InterfaceError, OperationalError

from casegate.delivery.worker import _environmental


def wrapped(cause: BaseException) -> OperationalError:
    """The error as Django raises it, with the driver's error as its cause."""
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device"),
    InterfaceError("connection already closed"),
    wrapped(sqlite3.OperationalError("database is locked")),
    wrapped(sqlite3.OperationalError("database or disk is full")),
    wrapped(psycopg.OperationalError("the connection is closed")),
    wrapped(psycopg.errors.AdminShutdown("terminating connection")),
    wrapped(psycopg.errors.DeadlockDetected("deadlock detected")),
    wrapped(psycopg.errors.DiskFull("could not extend file")),
], ids=str)
def test_what_passes_is_the_disk_or_the_database(error: BaseException) -> None:
    assert _environmental(error)


@pytest.mark.parametrize("error", [
    ValueError("address parts cannot contain CR or LF"),
    wrapped(psycopg.errors.ProgramLimitExceeded("index row size exceeds btree maximum")),
    wrapped(sqlite3.OperationalError("too many SQL variables")),
], ids=str)
def test_what_the_same_message_meets_again_is_its_own(error: BaseException) -> None:
    assert not _environmental(error)
