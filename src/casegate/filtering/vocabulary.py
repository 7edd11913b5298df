"""The words of the spam step: the results of sender authentication (RFC 8601), the
policies a domain's owner publishes for mail that fails DMARC (RFC 7489), and the verdict a
classifier states (stored in each message's spam report).

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
    POLICY = "policy", "verified, but not accepted here (DKIM's l= leaving content unsigned)"
    NONE = "none", "none: nothing to check"
    TEMPERROR = "temperror", "temporary error (DNS)"
    PERMERROR = "permerror", "permanent error (a broken record or signature)"


# What DMARC can come to (RFC 8601 section 2.7.1 with RFC 7489): softfail and neutral are SPF's.
DMARC_RESULTS = (AuthResult.PASS, AuthResult.FAIL, AuthResult.NONE, AuthResult.TEMPERROR,
                 AuthResult.PERMERROR)


class DmarcPolicy(models.TextChoices):
    """What a domain asks receivers to do with mail that fails DMARC (``p=``, ``sp=``)."""

    NONE = "none", "none"
    QUARANTINE = "quarantine", "quarantine"
    REJECT = "reject", "reject"


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
