from __future__ import annotations

from django.db import models


class Domain(models.Model):
    """A mail domain the company owns; mail for it is accepted by the gateway."""

    name = models.CharField(max_length=253, unique=True, help_text="IDNA A-labels, lower case")
    mailbox_transport = models.CharField(
        max_length=300,
        blank=True,
        default="",
        help_text=(
            "Where accounts' mail is stored: empty for Maildir under $CASEGATE_HOME/mailboxes, "
            "or smtp:HOST:PORT / lmtp:HOST:PORT for an existing mail store."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrgUnit(models.Model):
    """An organisational unit: accounts and groups belong to one; routing rules set at a
    unit apply to it and its sub-units. No unit (``None``) is the top level."""

    name = models.CharField(max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["parent", "name"],
                                               name="unique_unit_name_in_parent")]

    def __str__(self) -> str:
        return self.path

    @property
    def path(self) -> str:
        """``/Sales/EMEA``: the unit's names from the top level down."""
        names = []
        unit: OrgUnit | None = self
        while unit is not None:
            names.append(unit.name)
            unit = unit.parent
        return "/" + "/".join(reversed(names))


class RecognizedAddress(models.Model):
    """An address at one of the company's domains that the directory knows."""

    address = models.CharField(max_length=320, unique=True)
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="%(class)ss")
    org_unit = models.ForeignKey(OrgUnit, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="%(class)ss")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["address"]

    def __str__(self) -> str:
        return self.address


class Account(RecognizedAddress):
    """A real user with a mailbox."""

    display_name = models.CharField(max_length=200, blank=True, default="")
    suspended = models.BooleanField(
        default=False, help_text="a suspended account counts as unrecognized for routing")


class Group(RecognizedAddress):
    """A group address; mail to it goes to every member."""

    name = models.CharField(max_length=200, blank=True, default="")


class GroupMember(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="members")
    address = models.CharField(max_length=320)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "address"], name="unique_group_member")
        ]
        ordering = ["address"]

    def __str__(self) -> str:
        return f"{self.address} in {self.group.address}"
