from __future__ import annotations

from django.db import models


class Throttle(models.Model):
    """Attempts one subject (an account, an email address, a client) made in its window.

    Kept in the database so every process serving HTTP counts against the same limit.
    """

    scope = models.CharField(max_length=40)
    subject = models.CharField(max_length=254)
    attempts = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "subject"],
                                               name="throttle_one_row_per_subject")]

    def __str__(self) -> str:
        return f"{self.scope}: {self.subject}"
