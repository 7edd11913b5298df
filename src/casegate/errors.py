"""The base of every error casegate reports to a user with an actionable message."""


class CasegateError(Exception):
    """An operation was refused; ``str(error)`` says why and what to do."""
