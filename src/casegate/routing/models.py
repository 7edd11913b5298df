from __future__ import annotations

from django.db import models


class AddressList(models.Model):
    """A named list of addresses and domains, for rules that skip or only affect them."""

    name = models.CharField(max_length=100, unique=True)
    entries = models.JSONField(default=list, blank=True,
                               help_text="addresses (user@domain) and domains (domain.example)")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Route(models.Model):
    """A named next hop a rule can send mail to instead of MX or the mailbox."""

    name = models.CharField(max_length=100, unique=True)
    host = models.CharField(max_length=253)
    port = models.PositiveIntegerField(default=25)
    require_tls = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.host}:{self.port})"


class Rule(models.Model):
    """A default-routing rule, as in the article's admin console."""

    MATCH_ADDRESS = "address"
    MATCH_PATTERN = "pattern"
    MATCH_GROUP = "group"
    MATCH_ALL = "all"
    MATCH_CHOICES = [
        (MATCH_ADDRESS, "single recipient"),
        (MATCH_PATTERN, "pattern (regular expression)"),
        (MATCH_GROUP, "group membership"),
        (MATCH_ALL, "all recipients"),
    ]

    REWRITE_NONE = ""
    REWRITE_RECIPIENT = "recipient"
    REWRITE_USER = "user"
    REWRITE_DOMAIN = "domain"
    REWRITE_CHOICES = [
        (REWRITE_NONE, "keep the envelope recipient"),
        (REWRITE_RECIPIENT, "replace recipient"),
        (REWRITE_USER, "replace username"),
        (REWRITE_DOMAIN, "replace domain"),
    ]

    # The account types a rule affects, stored as a comma-separated subset.
    USERS = "users"
    GROUPS = "groups"
    UNRECOGNIZED = "unrecognized"
    ACCOUNT_TYPES = (USERS, GROUPS, UNRECOGNIZED)
    APPLY_ALL = "users,groups,unrecognized"
    APPLY_RECOGNIZED = "users,groups"
    APPLY_UNRECOGNIZED = "unrecognized"

    LIST_BYPASS = "bypass"
    LIST_ONLY = "only"
    LIST_MODES = [(LIST_BYPASS, "bypass the rule for listed addresses"),
                  (LIST_ONLY, "apply the rule only to listed addresses")]

    ACTION_MODIFY = "modify"
    ACTION_REJECT = "reject"
    ACTION_QUARANTINE = "quarantine"
    ACTION_CHOICES = [
        (ACTION_MODIFY, "modify the message"),
        (ACTION_REJECT, "reject the message"),
        (ACTION_QUARANTINE, "send to quarantine"),
    ]

    position = models.PositiveIntegerField(help_text="1 is the highest priority")
    action = models.CharField(max_length=10, choices=ACTION_CHOICES, default=ACTION_MODIFY)
    reject_text = models.CharField(max_length=300, blank=True, default="",
                                   help_text="the SMTP reply's text when the action is reject")
    description = models.CharField(max_length=500, blank=True, default="")
    enabled = models.BooleanField(default=True)
    match_type = models.CharField(max_length=10, choices=MATCH_CHOICES)
    match_value = models.CharField(max_length=1000, blank=True, default="")
    rewrite = models.CharField(max_length=10, choices=REWRITE_CHOICES, blank=True, default="")
    rewrite_value = models.CharField(max_length=320, blank=True, default="")
    bypass_spam = models.BooleanField(default=False)
    also_deliver = models.JSONField(default=list, blank=True)
    apply_to = models.CharField(max_length=40, default=APPLY_ALL,
                                help_text="account types: users, groups, unrecognized")
    org_unit = models.ForeignKey("directory.OrgUnit", null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="rules",
                                 help_text="empty: the top level")
    sender_list = models.ForeignKey(AddressList, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="sender_rules")
    sender_list_mode = models.CharField(max_length=6, choices=LIST_MODES, blank=True,
                                        default="")
    recipient_list = models.ForeignKey(AddressList, null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="recipient_rules")
    recipient_list_mode = models.CharField(max_length=6, choices=LIST_MODES, blank=True,
                                           default="")
    original_recipient_header = models.CharField(
        max_length=76, blank=True, default="",
        help_text="name of a header that records the original envelope recipient")
    spam_headers = models.BooleanField(default=False,
                                       help_text="add the spam and phishing verdict headers")
    custom_headers = models.JSONField(default=list, blank=True,
                                      help_text="[name, value] pairs to add")
    subject_prefix = models.CharField(max_length=100, blank=True, default="")
    route = models.ForeignKey(Route, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="rules")
    remove_attachments = models.BooleanField(default=False)
    require_tls = models.BooleanField(
        default=False, help_text="defer rather than send the onward hop in clear")
    rate_limit = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="messages per minute each matched recipient takes (empty: the default)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["match_type", "match_value"])]

    def __str__(self) -> str:
        return f"rule #{self.pk} ({self.match_type} {self.match_value})".strip()


class RoutingVersion(models.Model):
    """One row whose number grows with every change to rules or the directory.

    Each gateway process compares it before a mail transaction and reloads its
    in-memory routing table when it moved, so a saved rule applies to the next message.
    """

    version = models.BigIntegerField(default=1)


class RuleVersion(models.Model):
    """One change to the rule set (a rule added, changed, moved or removed, an import, a
    rollback), with the operations that made it, so any version can be restored."""

    number = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=200, blank=True, default="")
    summary = models.CharField(max_length=500)
    operations = models.JSONField(
        default=list,
        help_text='[{"op": "insert"|"delete", "rule": {...}}, {"op": "move", "id", "from", '
                  '"to"}, {"op": "update", "id", "before": {...}, "after": {...}}]')

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"version {self.number}: {self.summary}"
