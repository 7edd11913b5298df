"""Turning a raw message into what a case shows: subject, requester, text, HTML, attachments.

Parsing never raises: malformed MIME, unknown charsets and broken encodings are recorded
in ``problems`` and the best readable text is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser, HeaderParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parsedate_tz
from functools import lru_cache
from html import escape as escape_html
from html import unescape as unescape_html
from typing import Any, cast

import nh3
from mailparser_reply import parser as reply_parser
from mailparser_reply.constants import MAIL_LANGUAGES
from tnefparse import TNEF

from casegate.desk.charsets import (
    Decoded,
    charset_note,
    decode_text,
    is_latin,
    reads_as_another_script,
)
from casegate.mail.senders import one_line, read_from, writable
from casegate.text import storable


def _readable(name: str, value: str) -> Any:
    """The package's parse of a field, with its parameters read (some fail only then)."""
    header = policy.default.header_fetch_parse(name, value)
    dict(getattr(header, "params", {}))
    return header


_PARAMETERIZED = frozenset({"content-type", "content-disposition"})


def _tolerant_parse(name: str, value: str) -> Any:
    """A field as ``policy.default`` reads it; Content-Type and Content-Disposition without
    the parameters its parser trips on (``charset*`` with no value, a NUL in an RFC 2231
    value), so that the rest of the field, and the part, hold."""
    try:
        return _readable(name, value)
    except RecursionError:
        raise
    except Exception:
        if name.lower() not in _PARAMETERIZED:
            raise
        main, *parameters = value.split(";")
        kept = [p for p in parameters if _parses(name, f"{main};{p}")]
        return _readable(name, ";".join([main, *kept]) if _parses(name, main) else "")


def _parses(name: str, value: str) -> bool:
    try:
        _readable(name, value)
    except RecursionError:
        raise
    except Exception:
        return False
    return True


@lru_cache(maxsize=4096)
def _parsed_header(name: str, value: str) -> str:
    return cast(str, _tolerant_parse(name, value))


class _ParsedHeaderCache(EmailPolicy):
    """``policy.default``, except that a header's parse is reused.

    The standard policy parses a header again on every read: ``get_content_type()`` alone
    parses Content-Type ten times per message. Header objects are immutable, and most
    values (Content-Type, MIME-Version, Precedence …) repeat across messages.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        if hasattr(value, "name"):  # already parsed
            return super().header_fetch_parse(name, value)
        if len(value) > 1000:  # long and rare
            return cast(str, _tolerant_parse(name, value))
        return _parsed_header(name, value)


_POLICY = _ParsedHeaderCache()
_PARSER = BytesParser(policy=_POLICY)
_HEADERS = HeaderParser(policy=_POLICY)
MAX_SUBJECT = 998
_BLOCK_END = re.compile(r"<br\b[^>]*>|</(p|div|li|tr|h[1-6]|blockquote|pre|table)\s*>",
                        re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n[ \t]*(\n[ \t]*)+\n")
# cid: keeps inline images pointing at their parts; remote images are the console's concern.
_URL_SCHEMES = {"http", "https", "mailto", "cid"}


_REPLY_LANGUAGES = frozenset(MAIL_LANGUAGES) - {"david"}
_REPLY_PARSER_LIMIT = 200_000  # characters; longer bodies are shown whole
TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}
TNEF_BODIES = ("body.txt", "body.html")  # the text of a winmail.dat, as its files list it


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
    # Reading a message asks for a dozen headers: index them by name once.
    index: dict[str, list[str]] | None = getattr(msg, "_raw_index", None)
    if index is None:
        index = {}
        for key, value in msg.raw_items():
            index.setdefault(key.lower(), []).append(value)
        msg._raw_index = index  # type: ignore[attr-defined]
    return index.get(name.lower(), [])


def _texts(msg: Message, name: str, problems: list[str], likely: Iterable[str] = ()
           ) -> list[str]:
    """A header's decoded values; the values as sent when the policy cannot decode them.

    Decoding can fail on hostile input, such as an encoded word that hides a line break in
    an address: the message is kept, with the header as sent and the problem noted. Text in
    a missing or wrong charset is read again by :func:`_recovered`, trying ``likely`` charsets.
    """
    sent = _raw_values(msg, name)
    if name.lower() in _UNSTRUCTURED and all(_plain(value) for value in sent):
        texts = [value.replace("\r", "").replace("\n", "") for value in sent]
    elif name.lower() == "message-id" and all(_PLAIN_MESSAGE_ID.fullmatch(v) for v in sent):
        texts = sent
    else:
        texts = _decoded(msg, name, sent, problems, likely)
    if any(c in text for text in texts for c in "\r\n\x00"):
        problems.append(f"{name}: a line break or NUL inside the value")
    return texts


# Headers the email package reads as unstructured text: one in ASCII with no encoded word
# reads as its value unfolded, without the cost of the package's parser
# (tests/desk/test_parsing.py holds the two equal).
_UNSTRUCTURED = frozenset({"subject", "in-reply-to", "references", "auto-submitted",
                           "precedence", "content-language"})


# A Message-ID of the usual shape, which the email package reads as it is.
_PLAIN_MESSAGE_ID = re.compile(r"[ \t]*<[A-Za-z0-9_+=$%-]+(?:\.[A-Za-z0-9_+=$%-]+)*"
                               r"@[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*>[ \t]*")


def _plain(value: str) -> bool:
    return value.isascii() and "=?" not in value


def _decoded(msg: Message, name: str, sent: list[str], problems: list[str],
             likely: Iterable[str]) -> list[str]:
    """A header's values read by the email package (see :func:`_texts`)."""
    try:
        texts = [str(value) for value in msg.get_all(name, failobj=[])]
        if any(_misread(text, raw) for text, raw in zip(texts, sent, strict=True)):
            texts = [_recovered(raw, text, name, problems, likely) if _misread(text, raw) else text
                     for text, raw in zip(texts, sent, strict=True)]
    except Exception as exc:
        problems.append(f"{name}: {exc}")
        return [one_line(value) for value in sent]
    return texts


def _header(msg: Message, name: str, problems: list[str], likely: Iterable[str] = ()) -> str:
    """The first value of a header, on one line ("" when there is none)."""
    texts = _texts(msg, name, problems, likely)
    return one_line(texts[0]) if texts else ""


def _addresses(msg: Message, name: str, problems: list[str]) -> list[str]:
    return [addr.lower() for _, addr in getaddresses(_texts(msg, name, problems))
            if "@" in addr and writable(addr)][:50]


class _Fragments(reply_parser.EmailMessage):
    """mail-parser-reply's split of a text into its replies, without the signatures and
    disclaimers it looks for in each: the latest reply is a fragment's content, which
    they do not change, and looking for them was most of the parser's time."""

    def _process_signatures_disclaimers(self, text: str) -> tuple[list[str], str]:
        return [], ""


def _may_quote(parsed: ParsedMail) -> bool:
    """Whether the text can hold quoted history: mail-parser-reply is only asked then.

    Asking it costs as much as the rest of parsing; a message that is not an answer or a
    forward and has no quoted line nor an address in its text has nothing for it to remove.
    """
    return bool(parsed.in_reply_to or parsed.references or _REPLY_SUBJECT.match(parsed.subject)
                or _QUOTE_SIGN.search(parsed.text))


def new_text_of(text: str, language: str = "en") -> str:
    """The text of a reply without the quoted history (mail-parser-reply).

    Quote headers are looked for in English and in ``language`` when the parser knows it:
    each language it tries costs as much again on every message.
    """
    if not text.strip() or len(text) > _REPLY_PARSER_LIMIT:
        return text
    language = language[:2].lower()
    try:
        known = language if language in _REPLY_LANGUAGES else "en"
        languages = ["en"] if known == "en" else ["en", known]
        reply = _Fragments(text=text, languages=languages).read().latest_reply
    except Exception:  # a parser failure only costs the folding of quotes
        return text
    return reply if reply.strip() else text


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # how the email package keeps bytes it cannot read
_ENCODED_WORD_CHARSET = re.compile(r"=\?([^?*\s]+)")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _content(part: MIMEPart, problems: list[str]) -> Decoded:
    """A text part's content, read by :func:`decode_text`."""
    what = part.get_content_type()
    try:
        payload = part.get_payload(decode=True)
        declared = part.get_content_charset()
    except Exception as exc:
        problems.append(f"{what}: {exc}")
        return Decoded("", "")
    decoded = decode_text(payload if isinstance(payload, bytes) else b"", declared)
    if note := charset_note(what, declared, decoded):
        problems.append(note)
    return decoded


def _misread(text: str, raw: str) -> bool:
    """Whether the email package's reading ``text`` of a header sent as ``raw`` lost bytes, or
    read another script in an encoded word's Latin charset."""
    if text.isascii():
        return False
    if "\ufffd" in text or _ESCAPED_BYTE.search(text):
        return True
    return (any(is_latin(charset) for charset in _ENCODED_WORD_CHARSET.findall(raw))
            and reads_as_another_script(text))


def _recovered(raw: str, fallback: str, what: str, problems: list[str], likely: Iterable[str]
               ) -> str:
    """A header value as sent, decoded by :func:`decode_text`: each encoded word from its
    charset, the rest as undeclared text (``fallback`` when the encoded words are broken).

    The email package reads what a header's charset cannot (8-bit bytes sent bare, an encoded
    word in an unknown or a wrong charset) as UTF-8, and U+FFFD where that fails.
    """
    try:
        unfolded = _LINE_BREAK.sub("", raw)
        chunks = decode_header(unfolded.encode("utf-8", "surrogateescape").decode("latin-1"))
    except Exception as exc:  # such as broken base64 in an encoded word
        problems.append(f"{what}: {exc}")
        return fallback
    texts = []
    for chunk, charset in chunks:
        decoded = decode_text(chunk if isinstance(chunk, bytes) else chunk.encode("latin-1"),
                              charset, likely)
        bare_utf8 = charset is None and decoded.charset == "utf-8"  # as RFC 6532 allows
        if not bare_utf8 and (note := charset_note(what, charset, decoded)):
            problems.append(note)
        texts.append(decoded.text)
    return "".join(texts)


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
                 "X-Auto-Response-Suppress", "Feedback-ID", "X-Loop"):
        if _raw_values(msg, name):  # X-Auto-Response-Suppress: the sender asks for none
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
    """The text of HTML: no tags, entities read, a line break after each block."""
    text = unescape_html(nh3.clean(_BLOCK_END.sub(r"\g<0>\n", html), tags=set()))
    return _BLANK_LINES.sub("\n\n", text).strip()


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
    read: set[int] = set()
    body_problems: list[str] = []
    try:
        pieces = _pieces(msg, read, body_problems)
    except Exception as exc:  # such as RecursionError, for a multipart nested deep
        body_problems.append(f"body: {exc}")
        pieces = []
    # Headers in no charset or a wrong one are most likely in the body's.
    _read_headers(msg, parsed, likely=[piece.charset for piece in pieces])
    problems.extend(type(defect).__name__ for defect in msg.defects)
    problems.extend(body_problems)
    parsed.text = _joined([piece.text for piece in pieces])
    if any(piece.html for piece in pieces):
        parsed.html = sanitize_html(_as_html(pieces))

    try:
        parts = list(msg.walk())
    except Exception as exc:
        problems.append(f"walk: {exc}")
        parts = []
    enclosed: set[int] = set()
    # Another rendering of the body (text/watch-html, text/x-amp-html): no file.
    alternatives = {id(child) for part in parts if part.get_content_type() ==
                    "multipart/alternative" for child in part.iter_parts()
                    if child.get_content_maintype() == "text"}
    for part in parts:
        if id(part) in enclosed or (id(part) in alternatives and not _filename(part, [])):
            continue
        if part.get_content_type() == "message/rfc822":  # a message forwarded as a whole
            enclosed.update(id(inner) for inner in part.walk())
            parsed.attachments.append(_enclosed_message(part, problems))
            continue
        if part.is_multipart() or id(part) in read:
            continue
        parsed.attachments.extend(_attachments_of(part, problems))
    if not parsed.text:
        parsed.text = next((info.data.decode("utf-8", "replace") for info in parsed.attachments
                            if info.container and info.filename == "body.txt"), "")
    if _may_quote(parsed):
        parsed.new_text = new_text_of(parsed.text, parsed.language)
    else:
        parsed.new_text = parsed.text
    if msg.get_content_type() == "multipart/report" and _delivery_failed(msg, parts):
        parsed.reported_message_id = _reported_message_id(parts, problems)
    return parsed


@dataclass
class _Piece:
    """A part of what the sender wrote, in the order written: its text, and its HTML if any."""

    text: str
    html: str = ""  # as sent, sanitized once the pieces are joined
    charset: str = ""  # the charset the part was read in


def _pieces(part: MIMEPart, read: set[int], problems: list[str]) -> list[_Piece]:
    """What ``part`` shows, in order; the ids of the parts read for it go into ``read``.

    Every inline text and HTML part of a multipart/mixed shows, in order (an HTML part, a
    photo, then a text part: both parts); a multipart/alternative is one piece, the text of its
    first plain alternative with the HTML of its first rich one; a multipart/related shows its
    root. A text part with a file name (and no "inline") is a file, unless nothing came before
    it: then it is the body, as some servers name theirs.
    """
    if part.is_attachment():
        return []
    content_type = part.get_content_type()
    if content_type in ("text/plain", "text/html"):
        if read and part.get_content_disposition() != "inline" and _filename(part, problems):
            return []
        read.add(id(part))
        content = _content(part, problems)
        if content_type == "text/plain":
            return [_Piece(content.text, charset=content.charset)]
        return [_Piece(html_to_text(content.text), content.text, content.charset)]
    if part.get_content_maintype() != "multipart" or not part.is_multipart():
        return []
    children = list(part.iter_parts())
    if part.get_content_subtype() == "alternative":
        return _alternative(children, read, problems)
    if part.get_content_subtype() == "related" and children:
        start = part.get_param("start")
        children = [next((child for child in children if start and child["Content-ID"] == start),
                         children[0])]
    elif part.get_content_subtype() == "report":
        children = children[:1]  # the human-readable part (RFC 6522); the rest is for programs
    return [piece for child in children for piece in _pieces(child, read, problems)]


def _alternative(options: list[MIMEPart], read: set[int], problems: list[str]
                 ) -> list[_Piece]:
    """A multipart/alternative's piece: its first plain alternative's text, with its first rich
    alternative's HTML (the pieces of the one there is, when there is only one kind).

    The alternatives not shown are not marked read.
    """
    shown, read_by = [], []
    for option in options:
        before = set(read)
        shown.append(_pieces(option, read, problems))
        read_by.append(read - before)
    plain = next((i for i, pieces in enumerate(shown)
                  if pieces and not any(piece.html for piece in pieces)), None)
    rich = next((i for i, pieces in enumerate(shown) if any(piece.html for piece in pieces)), None)
    for i, ids in enumerate(read_by):
        if i not in (plain, rich):
            read -= ids
    if plain is None or rich is None:
        chosen = rich if plain is None else plain
        return [] if chosen is None else shown[chosen]
    return [_Piece(_joined([piece.text for piece in shown[plain]]), _as_html(shown[rich]),
                   shown[plain][0].charset)]


def _joined(texts: list[str]) -> str:
    """Texts one after the other, each from a new line; blank ones left out (unless all are)."""
    texts = [text for text in texts if text.strip()] or texts[:1]
    return "".join(text if text.endswith(("\n", "\r")) else text + "\n"
                   for text in texts[:-1]) + (texts[-1] if texts else "")


def _as_html(pieces: list[_Piece]) -> str:
    """The pieces as one HTML document, text pieces as preformatted text."""
    return "".join(piece.html or f"<pre>{escape_html(piece.text)}</pre>" for piece in pieces)


def _read_headers(msg: Message, parsed: ParsedMail, likely: Iterable[str] = ()) -> None:
    """Subject, sender, Message-ID, threading, automation and language, into ``parsed``.

    The subject and the sender's name, if not in the charset they say, are tried in the
    ``likely`` charsets.
    """
    problems = parsed.problems
    parsed.subject = _header(msg, "Subject", problems, likely)[:MAX_SUBJECT]
    parsed.message_id = _header(msg, "Message-ID", problems)[:MAX_SUBJECT]
    sent_from = _raw_values(msg, "From")
    sender = read_from(sent_from)
    parsed.sender, parsed.sender_name = sender.address, sender.name
    if _misread(sender.name, " ".join(sent_from)):
        recovered = [_recovered(raw, "", "From", problems, likely) for raw in sent_from]
        parsed.sender_name = next((one_line(name) for name, address in getaddresses(recovered)
                                   if address.lower() == sender.address), sender.name)
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


def _delivery_failed(report: Message, parts: list[EmailMessage]) -> bool:
    """Whether a report says the message could not be delivered: a delivery status (RFC
    3464) with a recipient whose Action is ``failed``, not a delay, a success or a read
    receipt (RFC 8098)."""
    if str(report.get_param("report-type", "")).lower() != "delivery-status":
        return False
    for part in parts:
        if part.get_content_type() != "message/delivery-status":
            continue
        fields = part.get_payload()
        if isinstance(fields, list) and any(
                isinstance(block, Message)
                and str(block.get("Action", "")).strip().lower() == "failed"
                for block in fields):
            return True
    return False


def _reported_message_id(parts: list[EmailMessage], problems: list[str]) -> str:
    """The Message-ID of the message a delivery report is about (RFC 3462/6522)."""
    for part in parts:
        headers: Message
        try:
            if part.get_content_type() == "text/rfc822-headers":
                headers = _HEADERS.parsestr(_content(part, problems).text)
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


def _enclosed_message(part: EmailMessage, problems: list[str]) -> AttachmentInfo:
    """A message/rfc822 part as one ``.eml`` attachment, its own parts inside it."""
    filename = _filename(part, problems) or "message.eml"
    try:
        [inner] = cast(list[Message], part.get_payload())
        data = inner.as_bytes(policy=policy.SMTP)
        problem = ""
    except Exception as exc:
        encoded = part.get_payload(decode=False)
        data = encoded.encode("utf-8", "surrogateescape") if isinstance(encoded, str) else b""
        problem = f"malformed ({exc}); kept as sent"[:500]
        problems.append(f"attachment {filename!r}: {problem}")
    return AttachmentInfo(filename=filename[:500], content_type="message/rfc822",
                          size=len(data), problem=problem, data=data)


def _attachments_of(part: EmailMessage, problems: list[str]) -> list[AttachmentInfo]:
    """A leaf part as attachments: itself, or the files inside a winmail.dat; [] for the
    plain and HTML text of the body (shown, or an alternative of what is shown). Other text
    (a calendar invitation, a CSV file) is a file even without a name."""
    filename = _filename(part, problems)
    disposition = part.get_content_disposition()
    if not filename and disposition != "attachment" and part.get_content_type() in (
            "text/plain", "text/html"):
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


def _filename(part: MIMEPart, problems: list[str]) -> str:
    try:
        return part.get_filename() or ""
    except Exception as exc:
        problems.append(f"filename: {exc}")
        return ""


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
        files.append(AttachmentInfo(filename=TNEF_BODIES[0] if tnef.body else TNEF_BODIES[1],
                                    content_type="text/plain" if tnef.body else "text/html",
                                    size=len(data), container=container.filename or "winmail.dat",
                                    data=data))
    # Nothing to unpack (its text only in compressed RTF, say): the file itself is kept.
    return files or [container]
