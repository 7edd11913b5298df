"""Django's outgoing mail (password resets) goes through casegate's own delivery queue.

Each message is routed like mail casegate writes itself (the rules apply to local
addresses), stored durably and delivered by the worker, with retries and a trace entry.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.db import transaction

from casegate.config import get_config
from casegate.routing.snapshot import load_table
from casegate.spool.messages import enqueue, generated_message


class QueueBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        if not email_messages:
            return 0
        table = load_table()
        hostname = get_config().hostname
        queued = []
        for email in email_messages:
            targets = table.reachable(email.recipients())
            if not targets:
                if not self.fail_silently:
                    raise ValueError(f"no route to {', '.join(email.recipients())}")
                continue
            mime = email.message()  # each call makes a new Message-ID: build it once
            # Django's MIME classes take the line ending; its stubs say they do not.
            raw = mime.as_bytes(linesep="\r\n")  # type: ignore[call-arg]
            queued.append(generated_message(targets, raw, hostname,
                                            str(mime["Message-ID"] or "")))
        if queued:
            with transaction.atomic():
                enqueue(queued)
        return len(queued)
