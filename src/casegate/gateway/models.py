"""The gateway app's models: the queue's messages and held mail, defined in the spool."""

from casegate.spool.models import Message, Quarantine

__all__ = ["Message", "Quarantine"]
