"""The words a routing rule stores: what it matches, how it rewrites, what it does.

The labels are the console's. Free of models so the command line can offer them as
choices before Django is set up.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class MatchType(models.TextChoices):
    """Which envelope recipients a rule matches."""

    ADDRESS = "address", _("Single recipient")
    PATTERN = "pattern", _("Pattern match")
    GROUP = "group", _("Group membership")
    ALL = "all", _("All recipients")


class Rewrite(models.TextChoices):
    """How a rule changes the envelope recipient."""

    NONE = "", _("No change")
    RECIPIENT = "recipient", _("Replace recipient")
    USER = "user", _("Replace username")
    DOMAIN = "domain", _("Replace domain")


class AccountType(models.TextChoices):
    """The kinds of recipient a rule affects (a rule stores a comma-separated subset)."""

    USERS = "users", _("Users")
    GROUPS = "groups", _("Groups")
    UNRECOGNIZED = "unrecognized", _("Unrecognized addresses")


class RuleAction(models.TextChoices):
    MODIFY = "modify", _("Modify message")
    REJECT = "reject", _("Reject message")
    QUARANTINE = "quarantine", _("Send to quarantine")


class ListMode(models.TextChoices):
    """How a rule uses its address list of senders or recipients."""

    BYPASS = "bypass", _("Bypass this rule for the listed addresses")
    ONLY = "only", _("Apply this rule only to the listed addresses")
