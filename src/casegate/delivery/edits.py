"""Applying a rule's changes to the copy of a message one delivery sends.

The stored message is never changed: each delivery carries its edits (a
:class:`~casegate.spool.copy_edits.CopyEdits`) and the worker applies them to the bytes it
sends. Added headers are only prepended, so a DKIM signature over the original still
verifies; a subject prefix or removed attachments change signed content, as they do in
every gateway that offers them.
"""

from __future__ import annotations

import re
from email import policy
from email.header import Header, decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser

from casegate.mail.headers import header_block
from casegate.spool.copy_edits import CopyEdits

_SMTP = policy.SMTP.clone(max_line_length=998)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _header_line(name: str, value: str) -> bytes:
    """One header field; control characters (a CR or LF decoded from an encoded word
    above all) become spaces, so no value can start another header."""
    value = _CONTROL.sub(" ", value).strip()
    if value.isascii():
        return f"{name}: {value}\r\n".encode()
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode()


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # 8-bit text in a header is Latin-1 more often than not
        return raw.decode("latin-1")


def prefixed_subject(raw: bytes, prefix: str) -> bytes:
    """``raw`` with ``prefix`` put before its subject (a Subject added when it has none);
    a subject that already starts with the prefix is left alone. One space separates
    them, however many the prefix ends with."""
    prefix = prefix.strip()
    head = header_block(raw)
    lines = head.splitlines(keepends=True)  # the line ends header_block knows, bare CR too
    start = next((i for i, line in enumerate(lines) if line[:8].lower() == b"subject:"), None)
    if start is None:
        return _header_line("Subject", prefix) + raw
    end = start + 1
    while end < len(lines) and lines[end][:1] in (b" ", b"\t"):
        end += 1
    folded = b"".join(line.rstrip(b"\r\n") for line in lines[start:end])[8:]
    text = _text(folded).strip()
    try:
        subject = str(make_header(decode_header(text)))
    except (ValueError, LookupError):  # a broken encoded word: keep the text as it is
        subject = text
    if subject.startswith(prefix):
        return raw
    new = _header_line("Subject", f"{prefix} {subject}".strip())
    return b"".join(lines[:start]) + new + b"".join(lines[end:]) + raw[len(head):]


def _notice(part: EmailMessage) -> EmailMessage:
    name = part.get_filename() or "unnamed"
    size = len(part.get_payload(decode=True) or b"")
    notice = EmailMessage(policy=policy.default)
    notice.set_content(
        f"The attachment {name} ({part.get_content_type()}, {size:,} bytes) was removed "
        "by the recipient's mail policy.\n")
    return notice


def _is_attachment(part: EmailMessage) -> bool:
    if part.is_multipart():
        return False
    if part.is_attachment():
        return True
    return bool(part.get_filename()) and part.get_content_maintype() != "text"


def without_attachments(raw: bytes) -> bytes:
    """``raw`` with each attachment replaced by a short text part that names it."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    changed = False
    if _is_attachment(message):
        notice = _notice(message)
        for name in [n for n in message if n.lower().startswith("content-")]:
            del message[name]
        message.set_content(notice.get_content())
        changed = True
    for container in message.walk():
        if not container.is_multipart():
            continue
        parts = container.get_payload()
        assert isinstance(parts, list)  # a multipart's payload is the list of its parts
        for index, part in enumerate(parts):
            if _is_attachment(part):
                parts[index] = _notice(part)
                changed = True
    if not changed:
        return raw
    return message.as_bytes(policy=_SMTP)


def apply_edits(raw: bytes, edits: CopyEdits) -> bytes:
    """The bytes one delivery sends: ``raw`` with its rules' edits."""
    if edits.remove_attachments:
        raw = without_attachments(raw)
    if edits.subject_prefix:
        raw = prefixed_subject(raw, edits.subject_prefix)
    if edits.headers:
        raw = b"".join(_header_line(name, value) for name, value in edits.headers) + raw
    return raw
