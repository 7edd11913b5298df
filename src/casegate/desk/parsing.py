"""Turning a raw message into what a case shows: subject, requester, text, HTML, attachments.

Parsing never raises: malformed MIME, unknown charsets and broken encodings are recorded
in ``problems`` and the best readable text is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser, HeaderParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parsedate_tz
from functools import cache, lru_cache

import nh3
from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES
from tnefparse import TNEF

from casegate.mail.senders import one_line, read_from, writable
from casegate.text import storable


@lru_cache(maxsize=4096)
def _parsed_header(name: str, value: str) -> str:
    return policy.default.header_fetch_parse(name, value)


class _ParsedHeaderCache(EmailPolicy):
    """``policy.default``, except that a header's parse is reused.

    The standard policy parses a header again on every read: ``get_content_type()`` alone
    parses Content-Type ten times per message. Header objects are immutable, and most
    values (Content-Type, MIME-Version, Precedence …) repeat across messages.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        if hasattr(value, "name") or len(value) > 1000:  # already parsed, or long and rare
            return super().header_fetch_parse(name, value)
        return _parsed_header(name, value)


_POLICY = _ParsedHeaderCache()
_PARSER = BytesParser(policy=_POLICY)
_HEADERS = HeaderParser(policy=_POLICY)
MAX_SUBJECT = 998
# cid: keeps inline images pointing at their parts; remote images are the console's concern.
_URL_SCHEMES = {"http", "https", "mailto", "cid"}


_REPLY_LANGUAGES = frozenset(MAIL_LANGUAGES) - {"david"}
_REPLY_PARSER_LIMIT = 200_000  # characters; longer bodies are shown whole
TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}


@dataclass
class AttachmentInfo:
    filename: str
    content_type: str
    size: int
    content_id: str = ""
    inline: bool = False
    container: str = ""
    problem: str = ""
    data: bytes = field(default=b"", repr=False)


@dataclass
class ParsedMail:
    subject: str = ""
    sender: str = ""
    sender_name: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    reported_message_id: str = ""
    automated: str = ""
    language: str = ""
    cc: list[str] = field(default_factory=list)
    text: str = ""
    new_text: str = ""
    html: str = ""
    attachments: list[AttachmentInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _raw_values(msg: Message, name: str) -> list[str]:
    """A header's values as sent: encoded words left encoded, nothing parsed."""
    wanted = name.lower()
    return [value for key, value in msg.raw_items() if key.lower() == wanted]


def _texts(msg: Message, name: str, problems: list[str]) -> list[str]:
    """A header's decoded values; the values as sent when the policy cannot decode them.

    Decoding can fail on hostile input, such as an encoded word that hides a line break in
    an address: the message is kept, with the header as sent and the problem noted.
    """
    try:
        texts = [str(value) for value in msg.get_all(name, failobj=[])]
    except Exception as exc:
        problems.append(f"{name}: {exc}")
        return [one_line(value) for value in _raw_values(msg, name)]
    if any(c in text for text in texts for c in "\r\n\x00"):
        problems.append(f"{name}: a line break or NUL inside the value")
    return texts


def _header(msg: Message, name: str, problems: list[str]) -> str:
    """The first value of a header, on one line ("" when there is none)."""
    texts = _texts(msg, name, problems)
    return one_line(texts[0]) if texts else ""


def _addresses(msg: Message, name: str, problems: list[str]) -> list[str]:
    return [addr.lower() for _, addr in getaddresses(_texts(msg, name, problems))
            if "@" in addr and writable(addr)][:50]


@cache
def _reply_parser(language: str) -> EmailReplyParser:
    return EmailReplyParser(languages=["en"] if language == "en" else ["en", language])


def _may_quote(parsed: ParsedMail) -> bool:
    """Whether the text can hold quoted history: mail-parser-reply is only asked then.

    Asking it costs as much as the rest of parsing; a message that is not an answer or a
    forward and has no quoted line nor an address in its text has nothing for it to remove.
    """
    return bool(parsed.in_reply_to or parsed.references or _REPLY_SUBJECT.match(parsed.subject)
                or _QUOTE_SIGN.search(parsed.text))


def new_text_of(text: str, language: str = "en") -> str:
    """The text of a reply without the quoted history and signature (mail-parser-reply).

    Quote headers are looked for in English and in ``language`` when the parser knows it:
    each language it tries costs as much again on every message.
    """
    if not text.strip() or len(text) > _REPLY_PARSER_LIMIT:
        return text
    language = language[:2].lower()
    try:
        reply = _reply_parser(language if language in _REPLY_LANGUAGES else "en"
                              ).parse_reply(text=text)
    except Exception:  # a parser failure only costs the folding of quotes
        return text
    return reply if reply.strip() else text


def _content(part: MIMEPart, problems: list[str]) -> str:
    try:
        content = part.get_content()
    except Exception as exc:
        problems.append(f"{part.get_content_type()}: {exc}")
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if isinstance(content, bytes):
        return content.decode("utf-8", errors="replace")
    return content if isinstance(content, str) else str(content)


_REPLY_SUBJECT = re.compile(r"\s*(re|aw|sv|vs|antw|ref|rif|odp|fwd?|wg|tr|enc)\s*(\[\d+\])?\s*:",
                            re.IGNORECASE)
# A quoted line, or a quote header naming its author's address ("From: Bob <bob@…>",
# "De : …", "On … <bob@…> wrote:").
_QUOTE_SIGN = re.compile(r"^[ \t]*>|^[^\n]{0,200}@[^\n]*$", re.MULTILINE)
_MSGID = re.compile(r"<[^<>\s]{1,900}>")
_ROBOT_LOCAL = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+-]|$)",
                          re.IGNORECASE)


def automated_reason(msg: Message, sender: str, problems: list[str]) -> str:
    """Why this message was sent by a program (RFC 3834 and common practice), or ""."""
    auto = _header(msg, "Auto-Submitted", problems).strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = _header(msg, "Precedence", problems).strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    for name in ("List-Id", "List-Unsubscribe", "X-Autoreply", "X-Autorespond",
                 "X-Auto-Response-Suppress", "Feedback-ID"):
        if name in msg:  # X-Auto-Response-Suppress: the sender asks for none
            return f"{name} header"
    if msg.get_content_type() == "multipart/report":
        return "a delivery or disposition report"
    if _ROBOT_LOCAL.match(sender.partition("@")[0]):
        return f"sent by {sender}"
    return ""


def sanitize_html(html: str) -> str:
    """HTML safe to show in the console: no scripts, handlers, remote styles or frames."""
    return nh3.clean(html, link_rel="noopener noreferrer nofollow", url_schemes=_URL_SCHEMES)


def html_to_text(html: str) -> str:
    return nh3.clean(html, tags=set()).strip()


def _make_storable(parsed: ParsedMail) -> ParsedMail:
    for name in ("subject", "sender", "sender_name", "message_id", "in_reply_to", "automated",
                 "reported_message_id",
                 "language", "text", "new_text", "html"):
        setattr(parsed, name, storable(getattr(parsed, name)))
    parsed.references = [storable(r) for r in parsed.references]
    parsed.cc = [storable(c) for c in parsed.cc]
    parsed.problems = [storable(p) for p in parsed.problems]
    for info in parsed.attachments:
        info.filename, info.content_type, info.content_id, info.container, info.problem = (
            storable(info.filename), storable(info.content_type), storable(info.content_id),
            storable(info.container), storable(info.problem))
    return parsed


def parse_message(raw: bytes) -> ParsedMail:
    """Parse ``raw``; every string in the result can be stored as it is."""
    return _make_storable(_parse(raw))


def _parse(raw: bytes) -> ParsedMail:
    parsed = ParsedMail()
    problems = parsed.problems
    try:
        msg = _PARSER.parsebytes(raw)
    except Exception as exc:  # such as RecursionError, for a multipart nested too deep
        problems.append(f"unparseable message: {exc}")
        parsed.text = raw.decode("utf-8", errors="replace")
        _read_headers(_PARSER.parsebytes(raw, headersonly=True), parsed)
        return parsed
    assert isinstance(msg, EmailMessage)
    _read_headers(msg, parsed)
    for defect in msg.defects:
        problems.append(type(defect).__name__)

    body_parts: set[int] = set()
    try:
        text_part = msg.get_body(preferencelist=("plain",))
        html_part = msg.get_body(preferencelist=("html",))
    except Exception as exc:
        problems.append(f"body: {exc}")
        text_part = html_part = None
    if html_part is not None:
        body_parts.add(id(html_part))
        parsed.html = sanitize_html(_content(html_part, problems))
    if text_part is not None:
        body_parts.add(id(text_part))
        parsed.text = _content(text_part, problems)
    elif parsed.html:
        parsed.text = html_to_text(parsed.html)

    try:
        parts = list(msg.walk())
    except Exception as exc:
        problems.append(f"walk: {exc}")
        parts = []
    for part in parts:
        if part.is_multipart() or id(part) in body_parts:
            continue
        parsed.attachments.extend(_attachments_of(part, problems))
    if not parsed.text:
        parsed.text = next((info.data.decode("utf-8", "replace") for info in parsed.attachments
                            if info.container and info.filename == "body.txt"), "")
    if _may_quote(parsed):
        parsed.new_text = new_text_of(parsed.text, parsed.language)
    else:
        parsed.new_text = parsed.text
    if msg.get_content_type() == "multipart/report":
        parsed.reported_message_id = _reported_message_id(parts, problems)
    return parsed


def _read_headers(msg: Message, parsed: ParsedMail) -> None:
    """Subject, sender, Message-ID, threading, automation and language, into ``parsed``."""
    problems = parsed.problems
    parsed.subject = _header(msg, "Subject", problems)[:MAX_SUBJECT]
    parsed.message_id = _header(msg, "Message-ID", problems)[:MAX_SUBJECT]
    sender = read_from(_raw_values(msg, "From"))
    parsed.sender, parsed.sender_name = sender.address, sender.name
    problems.extend(sender.problems)
    parsed.in_reply_to = (_MSGID.findall(_header(msg, "In-Reply-To", problems)) or [""])[0]
    parsed.references = _MSGID.findall(_header(msg, "References", problems))[-50:]
    parsed.automated = automated_reason(msg, parsed.sender, problems)
    parsed.language = _header(msg, "Content-Language", problems).split(",")[0].strip()[:16]
    parsed.cc = _addresses(msg, "Cc", problems)
    _note_unread(msg, problems)


def _note_unread(msg: Message, problems: list[str]) -> None:
    """Problems in headers the desk keeps only in the raw message, so the case tells."""
    for name in ("To", "Reply-To"):
        if any("=?" in value or "\x00" in value for value in _raw_values(msg, name)):
            _texts(msg, name, problems)
    for value in _raw_values(msg, "Date"):
        if parsedate_tz(value) is None:
            problems.append(f"Date: not a date: {one_line(value)[:100]}")


def _reported_message_id(parts: list[EmailMessage], problems: list[str]) -> str:
    """The Message-ID of the message a delivery report is about (RFC 3462/6522)."""
    for part in parts:
        headers: Message
        try:
            if part.get_content_type() == "text/rfc822-headers":
                headers = _HEADERS.parsestr(_content(part, problems))
            elif (part.get_content_type() == "message/rfc822"
                  and isinstance(payload := part.get_payload(), list) and payload
                  and isinstance(payload[0], Message)):
                headers = payload[0]
            else:
                continue
            found = _MSGID.findall(str(headers.get("Message-ID", "")))
        except Exception as exc:
            problems.append(f"report: {exc}")
            continue
        if found:
            return found[0][:MAX_SUBJECT]
    return ""


def _attachments_of(part: EmailMessage, problems: list[str]) -> list[AttachmentInfo]:
    """A leaf part as attachments: itself, or the files inside a winmail.dat; [] for text."""
    filename = ""
    try:
        filename = part.get_filename() or ""
    except Exception as exc:
        problems.append(f"filename: {exc}")
    disposition = part.get_content_disposition()
    if not filename and disposition != "attachment" and part.get_content_maintype() == "text":
        return []
    info = AttachmentInfo(
        filename=filename[:500],
        content_type=part.get_content_type(),
        size=0,
        content_id=str(part.get("Content-ID", "") or "").strip("<> ")[:500],
        inline=disposition == "inline" or (disposition is None and bool(part.get("Content-ID"))),
    )
    failure = []
    try:
        payload = part.get_payload(decode=True)
        info.data = payload if isinstance(payload, bytes) else b""
    except Exception as exc:
        failure.append(str(exc))
    # Decoding records what was wrong with the transfer encoding among the part's defects.
    defects = [type(d).__name__ for d in part.defects] + failure
    if defects:
        # Kept as it arrived: the decoded bytes cannot be trusted.
        encoded = part.get_payload(decode=False)
        info.data = encoded.encode("utf-8", "surrogateescape") if isinstance(encoded, str) else b""
        info.problem = f"malformed ({', '.join(defects)}); kept as sent"[:500]
        problems.append(f"attachment {filename!r}: {info.problem}")
    info.size = len(info.data)
    if not defects and (info.content_type in TNEF_TYPES or filename.lower() == "winmail.dat"):
        return _unpack_tnef(info, problems)
    return [info]


def _unpack_tnef(container: AttachmentInfo, problems: list[str]) -> list[AttachmentInfo]:
    """The files (and the body) inside an Outlook winmail.dat; the file itself if unreadable."""
    try:
        tnef = TNEF(container.data, do_checksum=False)
        files = [AttachmentInfo(filename=(a.long_filename() or a.name or "")[:500],
                                content_type="application/octet-stream", size=len(a.data),
                                container=container.filename or "winmail.dat", data=a.data)
                 for a in tnef.attachments]
        body = tnef.body or tnef.htmlbody
    except Exception as exc:
        container.problem = f"cannot unpack: {exc}"[:500]
        problems.append(f"winmail.dat: {container.problem}")
        return [container]
    if body:
        data = body if isinstance(body, bytes) else str(body).encode()
        files.append(AttachmentInfo(filename="body.txt" if tnef.body else "body.html",
                                    content_type="text/plain" if tnef.body else "text/html",
                                    size=len(data), container=container.filename or "winmail.dat",
                                    data=data))
    return files
