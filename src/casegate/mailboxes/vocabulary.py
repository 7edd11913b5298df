"""The words a mailbox account is described with.

Free of models so the command line can offer them as choices before Django is set up.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Protocol(models.TextChoices):
    IMAP = "imap", "IMAP"
    POP3 = "pop3", "POP3"


class Tls(models.TextChoices):
    """How the connection is protected: TLS from the first byte (ports 993 and 995),
    STARTTLS after the greeting (143 and 110), or not at all (a server on this host)."""

    IMPLICIT = "implicit", "TLS from the start"
    STARTTLS = "starttls", "STARTTLS"
    NONE = "none", "none"


class AfterFetch(models.TextChoices):
    """What is done on the server with a message once it is stored: nothing, flag it
    \\Seen, move it to a folder, or delete it. Only ``keep`` and ``delete`` exist in POP3."""

    KEEP = "keep", "keep"
    SEEN = "seen", "flag as seen"
    MOVE = "move", "move to a folder"
    DELETE = "delete", "delete"


DEFAULT_PORTS = {(Protocol.IMAP, Tls.IMPLICIT): 993, (Protocol.IMAP, Tls.STARTTLS): 143,
                 (Protocol.IMAP, Tls.NONE): 143, (Protocol.POP3, Tls.IMPLICIT): 995,
                 (Protocol.POP3, Tls.STARTTLS): 110, (Protocol.POP3, Tls.NONE): 110}


@dataclass(frozen=True)
class AfterFetchAction:
    """``--after-fetch``'s value: ``keep``, ``seen``, ``delete`` or ``move:FOLDER``."""

    action: AfterFetch
    folder: str = ""

    @classmethod
    def parse(cls, text: str) -> AfterFetchAction:
        word, _, folder = text.partition(":")
        try:
            action = AfterFetch(word.strip().lower())
        except ValueError:
            raise ValueError(f"--after-fetch {text!r}: expected keep, seen, delete or"
                             " move:FOLDER") from None
        if (action == AfterFetch.MOVE) != bool(folder.strip()):
            raise ValueError(f"--after-fetch {text!r}: move takes a folder (move:Archive),"
                             " the others none")
        return cls(action, folder.strip())

    def __str__(self) -> str:
        return f"{self.action}:{self.folder}" if self.folder else str(self.action)
