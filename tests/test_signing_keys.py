"""DKIM signatures on the mail casegate writes: what may not be added once it is signed."""

from __future__ import annotations

import re

import dkim
import pytest

from casegate.signing.keys import dkim_sign, generate_key
from tests.mails import mail

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("added", [b"Reply-To: attacker@evil.example\r\n",
                                   b"From: ceo@solarmora.com\r\n",
                                   b"Sender: attacker@evil.example\r\n"])
def test_no_field_a_reader_trusts_can_be_added_after_signing(added: bytes) -> None:
    key, record = generate_key("solarmora.com")
    published = re.sub(r'"\s*"', "", record).partition('"')[2].rpartition('"')[0].encode()

    def txt(name: bytes, timeout: float = 5) -> bytes:
        assert name == b"casegate._domainkey.solarmora.com."
        return published

    signed = dkim_sign(mail(sender="Help <help@solarmora.com>")[0], key)
    assert dkim.verify(signed, dnsfunc=txt)
    signature_end = signed.index(b"\r\n", signed.index(b"b=")) + 2
    while signed[signature_end:signature_end + 1] in (b" ", b"\t"):
        signature_end = signed.index(b"\r\n", signature_end) + 2
    assert not dkim.verify(signed[:signature_end] + added + signed[signature_end:], dnsfunc=txt)
