"""The words of sender authentication: the results of a check (RFC 8601) and the policies a
domain's owner publishes for mail that fails DMARC (RFC 7489).

Free of models so the command line can offer them as choices before Django is set up.
"""

from __future__ import annotations

from django.db import models


class AuthResult(models.TextChoices):
    """The result of one check, as the Authentication-Results header writes it."""

    PASS = "pass", "pass"
    FAIL = "fail", "fail"
    SOFTFAIL = "softfail", "soft fail (SPF)"
    NEUTRAL = "neutral", "neutral"
    NONE = "none", "none: nothing to check"
    TEMPERROR = "temperror", "temporary error (DNS)"
    PERMERROR = "permerror", "permanent error (a broken record or signature)"


class DmarcPolicy(models.TextChoices):
    """What a domain asks receivers to do with mail that fails DMARC (``p=``, ``sp=``)."""

    NONE = "none", "none"
    QUARANTINE = "quarantine", "quarantine"
    REJECT = "reject", "reject"
