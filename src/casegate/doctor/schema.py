"""The database's migrations against this casegate's: those it lacks, and those a newer
casegate applied."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@dataclass(frozen=True)
class SchemaState:
    pending: list[str]  # this casegate's migrations the database lacks, in order
    unknown: list[str]  # migrations applied to the database that this casegate lacks


def schema_state() -> SchemaState:
    executor = MigrationExecutor(connection)
    loader = executor.loader
    plan = executor.migration_plan(loader.graph.leaf_nodes())
    return SchemaState(
        pending=[f"{m.app_label}.{m.name}" for m, backwards in plan if not backwards],
        unknown=sorted(f"{app}.{name}" for app, name in loader.applied_migrations
                       if (app, name) not in loader.graph.nodes),
    )
