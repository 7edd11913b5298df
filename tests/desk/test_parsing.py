"""parse_message: what a case shows, from well-formed, foreign and broken mail."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from email import policy
from email.header import Header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casegate.desk import parsing
from casegate.desk.parsing import (
    AttachmentInfo,
    ParsedMail,
    html_to_text,
    new_text_of,
    parse_message,
    sanitize_html,
)
from tests.mails import winmail_dat

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
NOT_MAIL = {"README.md", "SOURCE.md"}


def encoded_word(text: str, charset: str) -> str:
    return Header(text, charset).encode()


def simple(headers: str, body: str = "body\r\n") -> bytes:
    return (headers.strip().replace("\n", "\r\n") + "\r\n\r\n" + body).encode("ascii")


def alternative(html: str, text: str | None = "plain text") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "customer@example.net"
    msg["Subject"] = "with html"
    if text is None:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
    return msg


# --- headers -------------------------------------------------------------------------------


def test_plain_subject_and_message_id() -> None:
    parsed = parse_message(simple("Subject: My panel stopped charging\nMessage-ID: <a1@x.example>"))
    assert parsed.subject == "My panel stopped charging"
    assert parsed.message_id == "<a1@x.example>"
    assert parsed.problems == []


@pytest.mark.parametrize("charset", ["utf-8", "iso-8859-8", "windows-1255"])
def test_rfc2047_hebrew_subject_is_decoded(charset: str) -> None:
    subject = "הפאנל הפסיק לטעון"
    parsed = parse_message(simple(f"Subject: {encoded_word(subject, charset)}"))
    assert parsed.subject == subject


@pytest.mark.parametrize("charset", ["utf-8", "iso-8859-6", "windows-1256"])
def test_rfc2047_arabic_subject_is_decoded(charset: str) -> None:
    subject = "لوحتي توقفت عن الشحن"
    parsed = parse_message(simple(f"Subject: {encoded_word(subject, charset)}"))
    assert parsed.subject == subject


def test_rfc2047_subject_mixing_encoded_and_plain_words() -> None:
    hebrew = base64.b64encode("שלום".encode()).decode()
    parsed = parse_message(simple(f"Subject: Re: =?UTF-8?B?{hebrew}?= order 42"))
    assert parsed.subject == "Re: שלום order 42"


def test_folded_subject_is_joined_on_one_line() -> None:
    parsed = parse_message(simple("Subject: first part\n  second   part"))
    assert parsed.subject == "first part second part"


def test_overlong_subject_is_cut_to_998_characters() -> None:
    parsed = parse_message(simple("Subject: " + "word " * 400))
    assert len(parsed.subject) == 998


def test_from_display_name_and_address() -> None:
    parsed = parse_message(simple('From: "Dana Cohen" <Dana.Cohen@Example.NET>'))
    assert parsed.sender == "dana.cohen@example.net"
    assert parsed.sender_name == "Dana Cohen"


def test_from_with_rfc2047_hebrew_display_name() -> None:
    name = "דנה כהן"
    parsed = parse_message(simple(f"From: {encoded_word(name, 'utf-8')} <dana@example.net>"))
    assert parsed.sender == "dana@example.net"
    assert parsed.sender_name == name


def test_from_with_rfc2047_arabic_display_name() -> None:
    name = "سارة أحمد"
    parsed = parse_message(simple(f"From: {encoded_word(name, 'utf-8')} <sara@example.net>"))
    assert parsed.sender_name == name


def test_from_without_display_name() -> None:
    parsed = parse_message(simple("From: bob@example.net"))
    assert (parsed.sender, parsed.sender_name) == ("bob@example.net", "")


def test_missing_from_gives_empty_sender() -> None:
    parsed = parse_message(simple("Subject: anonymous"))
    assert (parsed.sender, parsed.sender_name) == ("", "")


# --- hostile headers ------------------------------------------------------------------------

DESK_HEADERS = ["From", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID", "References",
                "In-Reply-To"]
CRLF_WORD = "=?utf-8?b?eA0KWTogeg==?="  # "x\r\nY: z"
HOSTILE_VALUES = {
    "crlf encoded word": f"{CRLF_WORD} <p@example.net>",
    "crlf encoded word alone": CRLF_WORD,
    "nul": "a\x00b <p@example.net>",
    "2000 characters": "x" * 2000,
    "invalid encoded word": "=?utf-8?q?=ZZ?= =?bogus?x?abc?= <p@example.net>",
    "bare 8-bit": "J\xf6rg \xff\xfe <p@example.net>",
}


def with_header(name: str, value: str) -> bytes:
    """A message with one hostile header; the others are well formed."""
    good = {"From": "ann@example.net", "Subject": "hello", "Message-ID": "<m1@example.net>"}
    good[name] = value
    lines = "".join(f"{key}: {text}\r\n" for key, text in good.items())
    return (lines + "\r\nbody\r\n").encode("latin-1")


def test_an_address_with_an_encoded_line_break_keeps_the_header_as_sent() -> None:
    parsed = parse_message(simple(f"From: {CRLF_WORD} <p@example.net>\nCc: {CRLF_WORD} <c@x.net>"
                                  "\nSubject: s"))
    assert (parsed.sender, parsed.sender_name) == ("p@example.net", CRLF_WORD)
    assert parsed.cc == ["c@x.net"]
    assert [p.split(":")[0] for p in parsed.problems] == ["From", "Cc"]


def test_an_encoded_line_break_in_the_subject_is_one_line_and_noted() -> None:
    parsed = parse_message(simple(f"Subject: {CRLF_WORD}"))
    assert parsed.subject == "x Y: z"
    assert parsed.problems == ["Subject: a line break or NUL inside the value"]


@pytest.mark.parametrize("kind", list(HOSTILE_VALUES))
@pytest.mark.parametrize("name", DESK_HEADERS)
def test_a_hostile_header_never_raises_nor_breaks_a_line(name: str, kind: str) -> None:
    parsed = parse_message(with_header(name, HOSTILE_VALUES[kind]))
    header_safe = [parsed.subject, parsed.sender, parsed.sender_name, parsed.message_id,
                   parsed.in_reply_to, *parsed.references, *parsed.cc]
    assert not any(c in value for value in header_safe for c in "\r\n\x00")
    if name != "From":
        assert parsed.sender == "ann@example.net"
    if name != "Subject":
        assert parsed.subject == "hello"


PDF_PART = ("From: ann@example.net\nContent-Type: multipart/mixed; boundary=x\n\n--x\n"
            "Content-Type: text/plain\n\nhi\n--x\n{}\n\nPDF\n--x--\n")


@pytest.mark.parametrize("raw", [
    PDF_PART.format("Content-Type: application/pdf\nContent-Disposition: attachment; filename*"),
    PDF_PART.format("Content-Type: application/pdf\nContent-Disposition: attachment;"
                    " filename*=bogus\x00''x; size=3"),
    PDF_PART.format("Content-Type: application/pdf; name*"),
], ids=["a parameter without its value", "a NUL in an RFC 2231 value", "in Content-Type"])
def test_a_parameter_the_parser_trips_on_costs_the_parameter_not_the_message(raw: str) -> None:
    parsed = parse_message(raw.encode("latin-1"))
    assert parsed.text == "hi" and parsed.problems == []
    [attachment] = parsed.attachments
    assert (attachment.content_type, attachment.data) == ("application/pdf", b"PDF")
    alone = parse_message(b"From: ann@example.net\nContent-Type: text/plain; charset*\n\nhello\n")
    assert alone.text == "hello\n" and alone.problems == []


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([*DESK_HEADERS, "Content-Type", "Content-Language", "Auto-Submitted",
                        "List-Id", "Precedence"]),
       st.text(st.characters(max_codepoint=0xFF, blacklist_characters="\r\n"), max_size=300)
       | st.sampled_from(list(HOSTILE_VALUES.values())),
       st.text(st.sampled_from("=?utf-8bqBQ<>@\"(), :;\\x\x00\r\n"), max_size=60))
def test_parse_message_never_raises_whatever_a_header_holds(name: str, value: str,
                                                             encoded: str) -> None:
    parse_message(with_header(name, value + encoded))


# --- what the body cannot take away ----------------------------------------------------------


def nested_multipart(depth: int) -> bytes:
    opening = b"".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'
                       .encode() for i in range(depth))
    closing = b"".join(f"\r\n--b{i}--".encode() for i in reversed(range(depth)))
    return (b"From: Ann <ann@example.net>\r\nSubject: deep one\r\n"
            b"Message-ID: <deep@example.net>\r\nMIME-Version: 1.0\r\n"
            + opening + b"Content-Type: text/plain\r\n\r\nhello" + closing + b"\r\n")


def test_a_1000_deep_multipart_keeps_subject_requester_and_message_id() -> None:
    parsed = parse_message(nested_multipart(1000))
    assert parsed.subject == "deep one"
    assert (parsed.sender, parsed.sender_name) == ("ann@example.net", "Ann")
    assert parsed.message_id == "<deep@example.net>"
    assert "hello" in parsed.text
    assert parsed.problems and parsed.problems[0].startswith("unparseable message")


# --- bodies ----------------------------------------------------------------------------------


def test_plain_text_body() -> None:
    parsed = parse_message(simple("Subject: x", "It stopped at noon.\r\n"))
    assert parsed.text == "It stopped at noon.\r\n"
    assert parsed.html == ""
    assert parsed.attachments == []


def test_quoted_printable_utf8_body_is_decoded() -> None:
    raw = simple(
        "Subject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable",
        "=D7=A9=D7=9C=D7=95=D7=9D\r\n",
    )
    assert parse_message(raw).text.strip() == "שלום"


def test_multipart_alternative_keeps_the_plain_text() -> None:
    parsed = parse_message(alternative("<p>Hello <b>there</b></p>").as_bytes())
    assert parsed.text.strip() == "plain text"
    assert "<b>there</b>" in parsed.html
    assert parsed.attachments == []


def test_html_only_message_gets_text_from_the_html() -> None:
    parsed = parse_message(alternative("<p>Hello <b>there</b></p>", text=None).as_bytes())
    assert parsed.text == "Hello there"


def test_text_from_html_has_its_entities_read_and_a_line_per_block() -> None:
    html = "<p>Fish &amp; chips &lt;3</p><div>Line one<br class='x'>line two</div>caf&eacute;"
    assert html_to_text(html) == "Fish & chips <3\nLine one\nline two\ncafé"


def test_script_is_removed_from_html() -> None:
    parsed = parse_message(alternative("<p>hi</p><script>alert(1)</script>").as_bytes())
    assert "<script" not in parsed.html.lower()
    assert "alert(1)" not in parsed.html


def test_event_handler_attributes_are_removed_from_html() -> None:
    html = '<p onclick="steal()">hi <img src="https://x.example/a.png" onerror="alert(1)"></p>'
    parsed = parse_message(alternative(html).as_bytes())
    assert "onerror" not in parsed.html.lower()
    assert "onclick" not in parsed.html.lower()
    assert "alert" not in parsed.html


def test_javascript_links_are_removed_from_html() -> None:
    html = '<a href="javascript:alert(1)">click</a> <a href="JaVaScRiPt:alert(2)">me</a>'
    parsed = parse_message(alternative(html).as_bytes())
    assert "javascript:" not in parsed.html.lower()
    assert "click" in parsed.html


def test_safe_links_are_kept_with_a_safe_rel() -> None:
    parsed = parse_message(alternative('<a href="https://solarmora.com/">site</a>').as_bytes())
    assert 'href="https://solarmora.com/"' in parsed.html
    assert "noopener" in parsed.html


def test_iframes_and_styles_are_removed_from_html() -> None:
    html = '<iframe src="https://evil.example"></iframe><style>p{}</style><p>ok</p>'
    cleaned = sanitize_html(html)
    assert "<iframe" not in cleaned
    assert "<style" not in cleaned
    assert "<p>ok</p>" in cleaned


# --- attachments --------------------------------------------------------------------------------


def test_attachments_are_listed_with_names_types_and_sizes() -> None:
    msg = alternative("<p>see attached</p>")
    msg.add_attachment(b"%PDF-1.4 offer", maintype="application", subtype="pdf",
                       filename="offer.pdf")
    msg.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="data.csv")
    parsed = parse_message(msg.as_bytes())
    assert parsed.attachments == [
        AttachmentInfo("offer.pdf", "application/pdf", 14, data=b"%PDF-1.4 offer"),
        AttachmentInfo("data.csv", "text/csv", 8, data=b"a,b\n1,2\n"),
    ]
    assert parsed.text.strip() == "plain text"


def test_attachment_with_rfc2231_unicode_filename() -> None:
    msg = EmailMessage()
    msg.set_content("see attached")
    msg.add_attachment(b"x" * 3, maintype="application", subtype="octet-stream",
                       filename="חשבונית.pdf")
    parsed = parse_message(msg.as_bytes())
    assert [(a.filename, a.size) for a in parsed.attachments] == [("חשבונית.pdf", 3)]


def test_attachment_without_filename_is_listed() -> None:
    raw = simple(
        'Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"',
        "--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        "--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        "\r\nAAECAw==\r\n--B--\r\n",
    )
    parsed = parse_message(raw)
    assert parsed.attachments == [
        AttachmentInfo("", "application/octet-stream", 4, data=b"\x00\x01\x02\x03")]


def test_inline_image_keeps_its_content_id() -> None:
    msg = alternative('<p>logo <img src="cid:logo123@solarmora.com"></p>')
    html_part = msg.get_payload()[1]
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    html_part.add_related(png, maintype="image", subtype="png", cid="<logo123@solarmora.com>")
    parsed = parse_message(msg.as_bytes())
    assert parsed.attachments == [
        AttachmentInfo("", "image/png", len(png), content_id="logo123@solarmora.com",
                       inline=True, data=png)
    ]


# --- broken input --------------------------------------------------------------------------------


def test_broken_base64_part_does_not_raise() -> None:
    raw = simple(
        'Subject: broken\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"',
        "--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "!!!not base64 at all@@@\r\n"
        '--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="x.pdf"'
        "\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD=====zz!!\r\n--B--\r\n",
    )
    parsed = parse_message(raw)
    assert isinstance(parsed, ParsedMail)
    assert parsed.subject == "broken"
    assert [a.filename for a in parsed.attachments] == ["x.pdf"]


def test_unknown_charset_does_not_raise() -> None:
    raw = simple(
        "Subject: =?x-no-such-charset?Q?abc?=\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=x-no-such-charset",
        "hello\r\n",
    )
    parsed = parse_message(raw)
    assert "hello" in parsed.text


def test_invalid_utf8_in_headers_does_not_raise() -> None:
    raw = b"Subject: caf\xe9 \xff\xfe\r\nFrom: J\xf6rg <j@example.net>\r\n\r\nbody\xff\r\n"
    parsed = parse_message(raw)
    assert isinstance(parsed, ParsedMail)
    assert parsed.sender == "j@example.net"


def test_unterminated_multipart_does_not_raise() -> None:
    raw = simple(
        'Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"',
        "--B\r\nContent-Type: text/plain\r\n\r\nstarted but never ended\r\n",
    )
    assert "started but never ended" in parse_message(raw).text


def test_message_without_headers_does_not_raise() -> None:
    parsed = parse_message(b"just a body line\r\nand another\r\n")
    assert isinstance(parsed, ParsedMail)
    assert parsed.subject == ""
    assert parsed.sender == ""


def test_empty_message_does_not_raise() -> None:
    parsed = parse_message(b"")
    assert parsed == ParsedMail()


def test_message_of_only_a_blank_line_does_not_raise() -> None:
    assert parse_message(b"\r\n\r\nbody").text.strip() == "body"


def test_nul_bytes_and_bare_cr_do_not_raise() -> None:
    assert isinstance(parse_message(b"Subject: a\x00b\rFrom: x\r\rbody\x00"), ParsedMail)


# --- the parsing corpus: each tests/desk/corpus/NAME.eml with its expected parse NAME.json ---

PARSES = Path(__file__).parent / "corpus"
ALWAYS_EXPECTED = {"subject", "sender", "automated", "text", "html", "attachments", "problems"}
ATTACHMENT_FIELDS = ["filename", "content_type", "size"]


def _as_expected(parsed: ParsedMail, expected: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``parsed`` that ``expected`` names, shaped like it."""
    wanted = expected["attachments"]
    return {key: getattr(parsed, key) for key in expected if key != "attachments"} | {
        "attachments": [{field: getattr(info, field)
                         for field in (wanted[i] if i < len(wanted) else ATTACHMENT_FIELDS)}
                        for i, info in enumerate(parsed.attachments)]}


@pytest.mark.parametrize("name", sorted(path.stem for path in PARSES.glob("*.eml")))
def test_a_corpus_message_parses_as_expected(name: str) -> None:
    expected = json.loads((PARSES / f"{name}.json").read_text(encoding="utf-8"))
    assert expected.keys() >= ALWAYS_EXPECTED, "missing fields"
    parsed = parse_message((PARSES / f"{name}.eml").read_bytes())
    assert _as_expected(parsed, expected) == expected


def test_every_corpus_message_has_its_expected_parse() -> None:
    assert {path.stem for path in PARSES.glob("*.eml")} == {
        path.stem for path in PARSES.glob("*.json")}


# --- the third-party corpus -----------------------------------------------------------------------


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in NOT_MAIL)


def _written_parts(part: Message) -> Iterator[Message]:
    """The text and HTML parts someone wrote for reading: not files, not the parts of an
    attached message, not a report's parts for programs."""
    if part.get_content_maintype() == "message":
        return
    if part.is_multipart():
        children = part.get_payload()
        assert isinstance(children, list)
        yield from (written for child in children[:1 if part.get_content_subtype() == "report"
                                                   else None]
                    for written in _written_parts(child))
    elif part.get_content_type() in ("text/plain", "text/html") and not part.is_attachment():
        yield part


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]{4,}", text))


def _lost_words(raw: bytes, parsed: ParsedMail) -> list[str]:
    """Words of a written part that the parse neither shows nor lists as a file."""
    shown = _words(parsed.text) | _words(html_to_text(parsed.html))
    files = {info.filename for info in parsed.attachments}
    lost: set[str] = set()
    for part in _written_parts(BytesParser(policy=policy.default).parsebytes(raw)):
        if part.get_filename() in files:
            continue
        try:
            content = part.get_content()
        except LookupError:  # an unknown charset: its ASCII words are enough here
            content = (part.get_payload(decode=True) or b"").decode("latin-1")
        if part.get_content_subtype() == "html":
            content = html_to_text(content)
        lost |= _words(content) - shown
    return sorted(lost)


def test_every_corpus_file_parses_without_raising_or_losing_text() -> None:
    if not CORPUS.is_dir():
        reason = f"the mail corpus is not present at {CORPUS}"
        print(f"SKIP {reason}")
        pytest.skip(reason)
    files = _corpus_files()
    assert files, f"no mail files under {CORPUS}"
    failures = []
    for path in files:
        raw = path.read_bytes()
        try:
            parsed = parse_message(raw)
        except Exception as exc:  # report every file that fails, not only the first
            failures.append(f"{path.relative_to(CORPUS)}: {exc!r}")
            continue
        if not isinstance(parsed, ParsedMail):
            failures.append(f"{path.relative_to(CORPUS)}: returned {type(parsed).__name__}")
        elif lost := _lost_words(raw, parsed):
            failures.append(f"{path.relative_to(CORPUS)}: text not shown: {' '.join(lost[:10])}")
    assert not failures, "\n".join(failures)


def test_sanitized_html_keeps_inline_image_references() -> None:
    from casegate.desk.parsing import sanitize_html

    cleaned = sanitize_html('<img src="cid:logo@x" onerror="x()"><a href="javascript:y()">z</a>')
    assert 'src="cid:logo@x"' in cleaned
    assert "onerror" not in cleaned and "javascript:" not in cleaned


# --- new text apart from the quoted history (talon's replies from common mail clients) -------

TALON = CORPUS / "talon" / "standard_replies"
# Bottom-posted (Thunderbird) and Russian-language (Android) quotes are not recognised by the
# reply parser: those are shown whole, which loses nothing.
SHOWN_WHOLE = {"android.eml", "thunderbird.eml"}


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


@pytest.mark.skipif(not TALON.is_dir(), reason="../shared/corpus/talon is not here")
@pytest.mark.parametrize("name", sorted(p.name for p in TALON.glob("*.eml")) if TALON.is_dir()
                         else [])
def test_new_text_of_replies_from_common_mail_clients(name: str) -> None:
    parsed = parse_message((TALON / name).read_bytes())
    expected = TALON / f"{name.removesuffix('.eml')}_reply_text"
    if expected.exists():
        assert _lines(parsed.new_text) == _lines(expected.read_text())
    elif name in SHOWN_WHOLE:
        assert _lines(parsed.new_text) == _lines(parsed.text)
    else:
        assert _lines(parsed.new_text) == ["Hello"]


def _as_the_reply_parser_reads_it(text: str, language: str) -> str:
    from mailparser_reply import EmailReplyParser

    languages = ["en"] if language == "en" else ["en", language]
    reply = EmailReplyParser(languages=languages).parse_reply(text=text)
    return reply if reply.strip() else text


REPLY_PARSER_TEXTS = CORPUS / "email-reply-parser"


@pytest.mark.skipif(not REPLY_PARSER_TEXTS.is_dir(),
                    reason="../shared/corpus/email-reply-parser is not here")
def test_new_text_is_the_reply_parsers_latest_reply_on_its_own_corpus() -> None:
    for path in sorted(REPLY_PARSER_TEXTS.glob("*.txt")):
        text = path.read_text(errors="replace")
        assert new_text_of(text) == _as_the_reply_parser_reads_it(text, "en"), path.name


_REPLY_LINES = st.sampled_from([
    "Thanks, it works now.", "", "> quoted line", ">> older quote", "-- ", "Best regards,",
    "Ann", "Sent from my iPhone", "On Mon, 1 Jan 2024 at 10:00, Ann <ann@example.net> wrote:",
    "Am 01.01.2024 um 10:00 schrieb Ann <ann@example.net>:", "Le lun. 1 janv. 2024, Ann a écrit :",
    "From: Ann <ann@example.net>", "Von: Ann", "-----Original Message-----",
    "________________________________", "This e-mail is confidential and intended for the"
    " addressee only.", "Get Outlook for iOS", "- a listed item",
])


@settings(max_examples=200)
@given(st.lists(_REPLY_LINES, max_size=14), st.sampled_from(["en", "de", "fr"]))
def test_new_text_is_the_reply_parsers_latest_reply(lines: list[str], language: str) -> None:
    text = "\n".join(lines)
    if text.strip():
        assert new_text_of(text, language) == _as_the_reply_parser_reads_it(text, language)


_PRINTABLE = "".join(chr(c) for c in range(32, 127)) + "\t"


@settings(max_examples=300)
@given(st.sampled_from(sorted(parsing._UNSTRUCTURED)),
       st.lists(st.text(_PRINTABLE, max_size=40), min_size=1, max_size=3))
def test_plain_unstructured_headers_read_as_the_email_package_reads_them(
        name: str, lines: list[str]) -> None:
    value = "\r\n ".join(lines)  # folded where the lines meet
    msg = BytesParser(policy=policy.default).parsebytes(f"{name}: {value}\r\n\r\n".encode())
    sent = parsing._raw_values(msg, name)
    fast = parsing._texts(msg, name, [])
    if all(parsing._plain(raw) for raw in sent):
        assert fast == parsing._decoded(msg, name, sent, [], ())


_ID_ATOM = st.text("aZ09_+=$%-", min_size=1, max_size=8)
_ID_LABEL = st.text("aZ09_-", min_size=1, max_size=8)


@settings(max_examples=300)
@given(st.lists(_ID_ATOM, min_size=1, max_size=3), st.lists(_ID_LABEL, min_size=1, max_size=3),
       st.sampled_from(["", " ", "\t"]), st.sampled_from(["", " "]))
def test_a_plain_message_id_reads_as_the_email_package_reads_it(
        local: list[str], domain: list[str], before: str, after: str) -> None:
    value = f"{before}<{'.'.join(local)}@{'.'.join(domain)}>{after}"
    msg = BytesParser(policy=policy.default).parsebytes(f"Message-ID: {value}\r\n\r\n".encode())
    sent = parsing._raw_values(msg, "Message-ID")
    assert parsing._PLAIN_MESSAGE_ID.fullmatch(sent[0])
    assert parsing._texts(msg, "Message-ID", []) == parsing._decoded(msg, "Message-ID", sent,
                                                                     [], ())


# --- delivery reports ------------------------------------------------------------------------


def report(report_type: str, status_type: str, fields: str) -> bytes:
    """A multipart/report about <reply@desk.example> with ``fields`` as its status part."""
    return simple(
        f'From: MAILER-DAEMON@mx.example\nSubject: report\nMIME-Version: 1.0\n'
        f'Content-Type: multipart/report; report-type={report_type}; boundary="b"',
        f"--b\r\nContent-Type: text/plain\r\n\r\nabout your mail\r\n"
        f"--b\r\nContent-Type: {status_type}\r\n\r\n{fields}\r\n"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: <reply@desk.example>\r\nSubject: Re: panel\r\n\r\n--b--\r\n")


PER_MESSAGE = "Reporting-MTA: dns; mx.example\r\n\r\n"


def test_only_a_report_of_failure_names_the_message_it_is_about() -> None:
    failed = report("delivery-status", "message/delivery-status",
                    PER_MESSAGE + "Final-Recipient: rfc822; bo@acme.example\r\n"
                    "Action: failed\r\nStatus: 5.1.1\r\n")
    assert parse_message(failed).reported_message_id == "<reply@desk.example>"
    for action in ("delayed", "delivered", "relayed", "expanded"):
        other = report("delivery-status", "message/delivery-status",
                       PER_MESSAGE + f"Final-Recipient: rfc822; bo@acme.example\r\n"
                       f"Action: {action}\r\nStatus: 4.4.1\r\n")
        assert parse_message(other).reported_message_id == "", action
    read_receipt = report("disposition-notification", "message/disposition-notification",
                          "Final-Recipient: rfc822; bo@acme.example\r\n"
                          "Disposition: manual-action/MDN-sent-manually; displayed\r\n")
    parsed = parse_message(read_receipt)
    assert parsed.reported_message_id == "" and parsed.automated


@pytest.mark.parametrize(("header", "reason"), [
    ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
    ("Precedence: bulk", "Precedence: bulk"),
    ("List-Id: <news.example.com>", "List-Id header"),
    ("X-Autoreply: yes", "X-Autoreply header"),
    ("X-Loop: desk@example.com", "X-Loop header"),  # procmail's and OTRS's responders
])
def test_automated_mail_is_known_by_its_headers(header: str, reason: str) -> None:
    assert parse_message(simple(f"From: a@example.net\n{header}")).automated == reason
    assert parse_message(simple("From: a@example.net\nAuto-Submitted: no")).automated == ""


MIXED = ("From: ann@example.net\nContent-Type: multipart/mixed; boundary=x\n\n--x\n"
         "Content-Type: text/plain\n\nsee the files\n--x\n{}\n--x--\n")


@pytest.mark.parametrize(("part", "content_type"), [
    ("Content-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\nEND:VCALENDAR\n",
     "text/calendar"),
    ("Content-Type: text/csv\n\nsku,count\nP-40,12\n", "text/csv"),
])
def test_text_that_is_no_body_is_kept_as_a_file_even_without_a_name(
        part: str, content_type: str) -> None:
    parsed = parse_message(MIXED.format(part).encode())
    assert parsed.text == "see the files"
    [kept] = parsed.attachments
    assert kept.content_type == content_type and kept.data == part.partition("\n\n")[2].encode()


def test_a_message_forwarded_whole_is_one_eml_file_with_its_own_parts_inside() -> None:
    inner = ("From: carl@customer.example\nSubject: the original\nContent-Type: multipart/mixed;"
             " boundary=y\n\n--y\nContent-Type: text/plain\n\nthe original text\n--y\n"
             "Content-Type: application/pdf; name=quote.pdf\n\nPDF\n--y--\n")
    parsed = parse_message(MIXED.format(f"Content-Type: message/rfc822\n\n{inner}").encode())
    assert parsed.text == "see the files" and parsed.problems == []
    [forwarded] = parsed.attachments
    assert (forwarded.filename, forwarded.content_type) == ("message.eml", "message/rfc822")
    assert b"the original text" in forwarded.data and b"name=quote.pdf" in forwarded.data


def test_a_winmail_dat_with_nothing_to_unpack_is_kept_as_it_came() -> None:
    empty = winmail_dat({})
    msg = EmailMessage()
    msg["From"] = "ann@example.net"
    msg.set_content("see attached")
    msg.add_attachment(empty, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    [kept] = parse_message(msg.as_bytes()).attachments
    assert (kept.filename, kept.data) == ("winmail.dat", empty)


def test_another_rendering_of_the_body_is_no_file() -> None:
    msg = alternative("<p>Hello</p>")
    msg.get_body(("html",)).add_alternative("<p>watch</p>", subtype="watch-html")
    parsed = parse_message(msg.as_bytes())
    assert parsed.attachments == [] and parsed.text.strip() == "plain text"
