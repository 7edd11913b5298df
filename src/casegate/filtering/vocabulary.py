"""The words a spam verdict is stated in (stored in each message's spam report)."""

from __future__ import annotations

from django.db import models


class SpamAction(models.TextChoices):
    """What the gateway does with a message, as its classifiers decided.

    Declared from the weakest to the strongest: when several classifiers answer, the
    strongest verdict decides (:func:`casegate.filtering.classifiers.classify`).
    """

    HAM = "ham", "not spam"
    NOT_SCANNED = "not_scanned", "accepted without a scan (the filter did not answer)"
    SPAM = "spam", "spam (routing decides: bypass rules deliver it, otherwise quarantine)"
    TEMPFAIL = "tempfail", "refused for now: the filter did not answer (451)"
    GREYLIST = "greylist", "greylisted (451)"
    SOFT_REJECT = "soft_reject", "refused for now (451)"
    REJECT = "reject", "rejected (550)"


STRENGTH = {action: rank for rank, action in enumerate(SpamAction)}
