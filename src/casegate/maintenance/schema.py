"""The database schema against this casegate's migrations: ``casegate upgrade`` applies
the missing ones, and no command runs a server on a database a newer casegate changed."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from casegate import __version__
from casegate.errors import CasegateError

SHOWN = 5  # migrations named in a message; the rest are counted


class SchemaError(CasegateError):
    """The database and the installed casegate do not fit."""


@dataclass(frozen=True)
class SchemaState:
    pending: list[str]  # this casegate's migrations the database lacks, in order
    unknown: list[str]  # migrations applied to the database that this casegate lacks


def _names(migrations: list[str]) -> str:
    more = len(migrations) - SHOWN
    return ", ".join(migrations[:SHOWN]) + (f" and {more} more" if more > 0 else "")


def schema_state() -> SchemaState:
    executor = MigrationExecutor(connection)
    loader = executor.loader
    plan = executor.migration_plan(loader.graph.leaf_nodes())
    return SchemaState(
        pending=[f"{m.app_label}.{m.name}" for m, backwards in plan if not backwards],
        unknown=sorted(f"{app}.{name}" for app, name in loader.applied_migrations
                       if (app, name) not in loader.graph.nodes),
    )


def _refuse_newer(state: SchemaState) -> None:
    if state.unknown:
        raise SchemaError(
            f"the database was upgraded by a newer casegate: it has {len(state.unknown)}"
            f" migrations casegate {__version__} does not know ({_names(state.unknown)});"
            " run the casegate that upgraded it, or restore the backup taken before that"
            " upgrade (a database is never downgraded)")


def require_current_schema() -> None:
    """Refuse to run on a database that is behind or ahead of this casegate."""
    state = schema_state()
    _refuse_newer(state)
    if state.pending:
        raise SchemaError(
            f"the database lacks {len(state.pending)} migrations of casegate {__version__}"
            f" ({_names(state.pending)}); run: casegate upgrade")


def upgrade() -> list[str]:
    """Apply the missing migrations; returns them. Refuses a database a newer casegate
    changed."""
    state = schema_state()
    _refuse_newer(state)
    if state.pending:
        call_command("migrate", verbosity=0, interactive=False)
    return state.pending
