"""The DKIM signing keys of the company's domains.

The model keeps the ``delivery`` app label it was created under (its table is
``delivery_signingkey``); ``delivery.models`` imports it, which registers it there.
"""

from __future__ import annotations

from django.db import models


class SigningKey(models.Model):
    """A DKIM key of one of the company's domains, used to ARC-seal forwarded mail.

    Kept in the database so every gateway and worker host signs with the same key.
    """

    domain = models.CharField(max_length=253)
    selector = models.CharField(max_length=63)
    private_key = models.TextField(help_text="PEM (PKCS#8)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "delivery"
        constraints = [
            models.UniqueConstraint(fields=["domain", "selector"], name="unique_signing_key")
        ]
        ordering = ["domain", "-created_at"]

    def __str__(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"
