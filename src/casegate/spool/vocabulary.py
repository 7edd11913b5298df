"""The words the delivery queue stores: where a delivery stands, how it is made, its report.

Free of models so the command line can offer them as choices before Django is set up.
"""

from __future__ import annotations

from django.db import models


class DeliveryState(models.TextChoices):
    PENDING = "pending", "pending"
    INFLIGHT = "inflight", "in flight"
    DEFERRED = "deferred", "deferred"
    HELD = "held", "held"
    DELIVERED = "delivered", "delivered"
    BOUNCED = "bounced", "bounced"
    EXPIRED = "expired", "expired"
    DELETED = "deleted", "deleted"
    # Set aside after failing on its own (a message the worker cannot handle), for an
    # operator to look at and retry: never retried by itself, and not bounced.
    FAILED = "failed", "failed (set aside)"


# The states in which a delivery has failed for good (and its sender gets a report).
FINAL_FAILURES = (DeliveryState.BOUNCED, DeliveryState.EXPIRED)


class DeliveryKind(models.TextChoices):
    """Who takes the message: the case desk, a local mailbox, or a remote SMTP server."""

    DESK = "desk", "case desk"
    MAILBOX = "mailbox", "mailbox"
    REMOTE = "remote", "remote SMTP"


class Lane(models.TextChoices):
    """The delivery worker's two loops, each woken only when mail of its kinds is queued:
    one files locally (desk, mailbox), the other sends to remote servers."""

    LOCAL = "local", "local delivery"
    REMOTE = "remote", "remote delivery"

    @property
    def kinds(self) -> tuple[DeliveryKind, ...]:
        if self is Lane.REMOTE:
            return (DeliveryKind.REMOTE,)
        return (DeliveryKind.DESK, DeliveryKind.MAILBOX)

    @classmethod
    def of(cls, kind: str) -> Lane:
        return cls.REMOTE if kind == DeliveryKind.REMOTE else cls.LOCAL


class Source(models.TextChoices):
    """How a message reached casegate."""

    SMTP = "smtp", "SMTP"
    LMTP = "lmtp", "LMTP from the local mail server"
    PIPE = "pipe", "casegate deliver (a pipe from the local mail server)"
    MAILBOX = "mailbox", "fetched from a mailbox"
    IMPORT = "import", "imported from old mail"


# Where the envelope sender is the sending server's own, so that an empty one is the null
# sender (RFC 5321: a delivery report or another program's mail). A fetched or imported
# message has none known, and ``casegate deliver`` may be run without ``--sender``.
ENVELOPE_SOURCES = frozenset({Source.SMTP, Source.LMTP})
# Mail written and received elsewhere, whatever brought it here: an Authentication-Results
# field in it that names our authserv-id is forged.
FOREIGN_SOURCES = frozenset({Source.MAILBOX, Source.IMPORT})


class DsnState(models.TextChoices):
    """Where the delivery status notification (bounce or delay warning) of a delivery stands."""

    NONE = "", "none"
    PENDING = "pending", "pending"
    SENT = "sent", "sent"
    SUPPRESSED = "suppressed", "suppressed"
    WARNED = "warned", "warned"


class QuarantineDecision(models.TextChoices):
    """What a person does with held mail."""

    RELEASE = "release", "release: route it as not spam"
    DELETE = "delete", "delete for good"


BULK_LIMIT = 10_000  # held entries one request or command decides at most
