"""The words of ``casegate doctor``: how a check came out, worst last.

Free of models so the command line can offer them as choices before Django is set up.
"""

from __future__ import annotations

from django.db import models


class CheckStatus(models.TextChoices):
    OK = "ok", "ok"
    WARNING = "warning", "warning: works, but should be put right"
    FAILING = "failing", "failing: mail is lost, refused or spoofable until it is put right"


# The exit code of a run whose worst finding is this (as Nagios plugins answer).
EXIT_CODES = {CheckStatus.OK: 0, CheckStatus.WARNING: 1, CheckStatus.FAILING: 2}
