"""Building test messages as bytes, the way a mail client would send them."""

from __future__ import annotations

import secrets
from email.message import EmailMessage
from email.policy import SMTP


def new_message_id() -> str:
    return f"<{secrets.token_hex(8)}@client.example.net>"


def mail(subject: str = "Help", body: str = "Hello", sender: str = "Dana <dana@example.net>",
         to: str = "help@solarmora.com", message_id: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or new_message_id()
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP), msg["Message-ID"]
