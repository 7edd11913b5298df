"""Building test messages as bytes, the way a mail client would send them."""

from __future__ import annotations

import secrets
import struct
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


def winmail_dat(files: dict[str, bytes]) -> bytes:
    """An Outlook TNEF (winmail.dat) attachment holding ``files``, built field by field."""

    def attribute(level: int, attribute_id: int, data: bytes) -> bytes:
        checksum = sum(data) & 0xFFFF
        return struct.pack("<BII", level, attribute_id, len(data)) + data + struct.pack(
            "<H", checksum)

    message_level, attachment_level = 1, 2
    out = struct.pack("<IH", 0x223E9F78, 1)
    out += attribute(message_level, 0x00089006, struct.pack("<I", 0x00010000))  # version
    for name, data in files.items():
        out += attribute(attachment_level, 0x00069002, bytes(14))  # rendering data: starts one
        out += attribute(attachment_level, 0x00018010, name.encode() + b"\0")  # title
        out += attribute(attachment_level, 0x0006800F, data)  # contents
    return out
