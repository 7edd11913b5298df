"""A rule's changes applied to the copy one delivery sends."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from casegate.delivery.edits import apply_edits, prefixed_subject, without_attachments
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
    out = apply_edits(raw, {"headers": [["X-Team", "support"], ["X-Note", "café"]]})
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
