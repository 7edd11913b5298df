"""The database: reachable, and its tables up to date with this casegate."""

from __future__ import annotations

from django.db import DatabaseError, connection

from casegate import __version__
from casegate.doctor.base import Finding, Host
from casegate.doctor.schema import schema_state
from casegate.doctor.vocabulary import CheckStatus
from casegate.text import listed

NAME = "database"


def check(host: Host) -> Finding:
    try:
        connection.ensure_connection()
        state = schema_state()
    except DatabaseError as exc:
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"cannot reach the database: {' '.join(str(exc).split())}")
    if state.unknown:
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"a newer casegate upgraded the database: {len(state.unknown)} migrations"
                       f" casegate {__version__} does not know ({listed(state.unknown)}); run"
                       " that casegate here")
    if state.pending:
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"{len(state.pending)} migrations are not applied"
                       f" ({listed(state.pending)}): run casegate upgrade")
    name = connection.settings_dict["NAME"]
    return Finding(NAME, host.name, CheckStatus.OK,
                   f"{connection.vendor} database {name}, every migration applied")
