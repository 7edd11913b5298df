"""The database: reachable, and its tables up to date with this casegate."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from casegate.doctor.base import Finding, Host
from casegate.doctor.vocabulary import CheckStatus

NAME = "database"


def check(host: Host) -> Finding:
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"cannot reach the database: {' '.join(str(exc).split())}")
    if pending:
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"{len(pending)} migrations are not applied: run casegate init")
    name = connection.settings_dict["NAME"]
    return Finding(NAME, host.name, CheckStatus.OK,
                   f"{connection.vendor} database {name}, every migration applied")
