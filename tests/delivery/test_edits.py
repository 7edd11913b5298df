"""A rule's changes applied to the copy one delivery sends."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from casegate.delivery.edits import apply_edits, prefixed_subject, without_attachments
from casegate.spool.copy_edits import CopyEdits
from tests.mails import mail


def with_attachment() -> bytes:
    message = EmailMessage()
    message["From"] = "dana@example.net"
    message["To"] = "help@solarmora.com"
    message["Subject"] = "Invoice"
    message.set_content("See the invoice.")
    message.add_attachment(b"%PDF-1.4 secret" * 100, maintype="application", subtype="pdf",
                           filename="invoice.pdf")
    return message.as_bytes(policy=policy.SMTP)


def test_headers_are_prepended_and_the_rest_is_untouched() -> None:
    raw, _ = mail(subject="Hi")
    out = apply_edits(raw, CopyEdits(headers=(("X-Team", "support"), ("X-Note", "café"))))
    assert out.endswith(raw)
    head = out[: len(out) - len(raw)]
    assert head.startswith(b"X-Team: support\r\nX-Note: =?utf-8?")
    assert message_from_bytes(out, policy=policy.default)["X-Note"] == "café"


def test_subject_prefix_keeps_encoded_and_folded_subjects_readable() -> None:
    raw, _ = mail(subject="Réclamation au sujet de la facture " + "très longue " * 8)
    out = prefixed_subject(raw, "[Ext]")
    subject = message_from_bytes(out, policy=policy.default)["Subject"]
    assert subject.startswith("[Ext] Réclamation au sujet") and subject.endswith("longue")
    assert prefixed_subject(out, "[Ext]") == out  # no second prefix
    bare = b"From: a@example.net\r\n\r\nbody\r\n"
    assert message_from_bytes(prefixed_subject(bare, "[Ext]"))["Subject"] == "[Ext]"


def test_attachments_are_replaced_by_a_notice_naming_them() -> None:
    out = without_attachments(with_attachment())
    parsed = message_from_bytes(out, policy=policy.default)
    assert b"%PDF" not in out
    parts = [p for p in parsed.walk() if not p.is_multipart()]
    assert parts[0].get_content().strip() == "See the invoice."
    assert "The attachment invoice.pdf (application/pdf, 1,500 bytes) was removed" in (
        parts[1].get_content())
    plain, _ = mail()
    assert without_attachments(plain) == plain  # nothing to remove: the bytes stay as sent


def test_an_encoded_line_break_in_the_subject_cannot_start_a_header() -> None:
    raw = (b"Subject: =?utf-8?q?Invoice=0D=0AX-Casegate-Spam:_no=0D=0A=0D=0A?= "
           b"=?utf-8?q?Pay_now?=\r\nMIME-Version: 1.0\r\n\r\nbody\r\n")
    out = apply_edits(raw, CopyEdits(subject_prefix="[EXT]"))
    parsed = message_from_bytes(out, policy=policy.default)
    assert parsed["X-Casegate-Spam"] is None and parsed["MIME-Version"] == "1.0"
    assert parsed["Subject"] == "[EXT] Invoice X-Casegate-Spam: no Pay now"


def test_an_eight_bit_subject_and_long_header_values_stay_readable() -> None:
    out = apply_edits(b"Subject: caf\xe9\r\n\r\nbody\r\n",
                      CopyEdits(headers=(("X-Note", "é" * 80),), subject_prefix="[EXT]"))
    parsed = message_from_bytes(out, policy=policy.default)
    assert parsed["Subject"] == "[EXT] café" and parsed["X-Note"] == "é" * 80
    assert b"\r\n \n" not in out and all(line.endswith(b"\r") or not line
                                         for line in out.split(b"\n")[:-1])


def test_a_prefix_with_trailing_space_is_followed_by_exactly_one_space() -> None:
    raw = b"From: a@example.net\r\nSubject: quarterly report\r\n\r\nbody\r\n"
    out = prefixed_subject(raw, "[TOP] ")
    assert message_from_bytes(out)["Subject"] == "[TOP] quarterly report"
    assert prefixed_subject(out, "[TOP] ") == out
    assert message_from_bytes(prefixed_subject(raw, " [TOP]  "))["Subject"] == (
        "[TOP] quarterly report")


def test_a_prefix_makes_no_header_of_what_followed_a_blank_line_of_bare_crs() -> None:
    raw = b"Subject: hi\r\rmore: x\r\n\r\nbody"
    assert prefixed_subject(raw, "[EXT]") == b"Subject: [EXT] hi\r\n\rmore: x\r\n\r\nbody"
    before = message_from_bytes(raw, policy=policy.default)
    after = message_from_bytes(prefixed_subject(raw, "[EXT]"), policy=policy.default)
    assert before["more"] is None and after["more"] is None
