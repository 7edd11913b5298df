"""The database schema against this casegate's migrations: ``casegate upgrade`` applies
the missing ones, and no command runs a server on a database a newer casegate changed."""

from __future__ import annotations

from django.core.management import call_command

from casegate import __version__
from casegate.doctor.schema import SchemaState, schema_state
from casegate.errors import CasegateError
from casegate.text import listed


class SchemaError(CasegateError):
    """The database and the installed casegate do not fit."""


def _refuse_newer(state: SchemaState) -> None:
    if state.unknown:
        raise SchemaError(
            f"the database was upgraded by a newer casegate: it has {len(state.unknown)}"
            f" migrations casegate {__version__} does not know ({listed(state.unknown)});"
            " run the casegate that upgraded it, or restore the backup taken before that"
            " upgrade (a database is never downgraded)")


def require_current_schema() -> None:
    """Refuse to run on a database that is behind or ahead of this casegate."""
    state = schema_state()
    _refuse_newer(state)
    if state.pending:
        raise SchemaError(
            f"the database lacks {len(state.pending)} migrations of casegate {__version__}"
            f" ({listed(state.pending)}); run: casegate upgrade")


def upgrade() -> list[str]:
    """Apply the missing migrations; returns them. Refuses a database a newer casegate
    changed."""
    state = schema_state()
    _refuse_newer(state)
    if state.pending:
        call_command("migrate", verbosity=0, interactive=False)
    return state.pending
