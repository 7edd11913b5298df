from __future__ import annotations

from django.db import models

from casegate.routing.vocabulary import AccountType, ListMode, MatchType, Rewrite, RuleAction


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

    # Short names the command line uses; the vocabularies are MatchType and Rewrite.
    MATCH_ADDRESS = MatchType.ADDRESS
    MATCH_PATTERN = MatchType.PATTERN
    MATCH_GROUP = MatchType.GROUP
    MATCH_ALL = MatchType.ALL
    REWRITE_RECIPIENT = Rewrite.RECIPIENT
    REWRITE_USER = Rewrite.USER
    REWRITE_DOMAIN = Rewrite.DOMAIN

    # The account types a rule affects, stored as a comma-separated subset of AccountType.
    APPLY_ALL = ",".join(AccountType)
    APPLY_RECOGNIZED = ",".join((AccountType.USERS, AccountType.GROUPS))
    APPLY_UNRECOGNIZED = AccountType.UNRECOGNIZED.value

    position = models.PositiveIntegerField(help_text="1 is the highest priority")
    action = models.CharField(max_length=10, choices=RuleAction.choices, default=RuleAction.MODIFY)
    reject_text = models.CharField(max_length=300, blank=True, default="",
                                   help_text="the SMTP reply's text when the action is reject")
    description = models.CharField(max_length=500, blank=True, default="")
    enabled = models.BooleanField(default=True)
    match_type = models.CharField(max_length=10, choices=MatchType.choices)
    match_value = models.CharField(max_length=1000, blank=True, default="")
    rewrite = models.CharField(max_length=10, choices=Rewrite.choices, blank=True,
                               default=Rewrite.NONE)
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
    sender_list_mode = models.CharField(max_length=6, choices=ListMode.choices, blank=True,
                                        default="")
    recipient_list = models.ForeignKey(AddressList, null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="recipient_rules")
    recipient_list_mode = models.CharField(max_length=6, choices=ListMode.choices, blank=True,
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

    @property
    def affects(self) -> list[str]:
        """The kinds of address the rule applies to: users, groups, unrecognized."""
        return self.apply_to.split(",")


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
