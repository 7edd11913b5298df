"""Running a parsed command once Django is set up: who the audit log names, and database
errors as one line."""

from __future__ import annotations

import argparse
import getpass

from auditlog.context import set_extra_data
from django.db import DatabaseError

from casegate.errors import CasegateError


def run(args: argparse.Namespace) -> int:
    try:
        if args.long_running:  # a server's changes are its users' and workers', not the CLI's
            result = args.func(args)
        else:  # the audit log names who changed something from the command line
            with set_extra_data({"actor_email": f"cli:{getpass.getuser()}"}):
                result = args.func(args)
    except DatabaseError as exc:
        if not args.creates_database and ("no such table" in str(exc)
                                          or "does not exist" in str(exc)):
            detail = " ".join(str(exc).split())
            raise CasegateError(
                f"the database is not initialised ({detail}); run: casegate init"
            ) from None
        raise CasegateError(f"database error: {' '.join(str(exc).split())}") from None
    return int(result or 0)
