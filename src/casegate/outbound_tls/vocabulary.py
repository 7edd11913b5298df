"""The words of outbound TLS: the modes an MTA-STS policy publishes (RFC 8461 section 5).

Free of models so the command line can offer them as choices before Django is set up.
"""

from __future__ import annotations

from django.db import models


class PolicyMode(models.TextChoices):
    """What a domain's MTA-STS policy asks of senders."""

    ENFORCE = "enforce", "enforce: verified TLS to a listed MX host, or no delivery"
    TESTING = "testing", "testing: deliver, and report what would have failed"
    NONE = "none", "none: no policy"
