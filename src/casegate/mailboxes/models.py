"""A mailbox account, what the fetcher knows of its folder, and the messages it set aside."""

from __future__ import annotations

from django.db import models

from casegate.mailboxes.vocabulary import AfterFetch, Protocol, Tls


class Mailbox(models.Model):
    """One mailbox casegate fetches from. The secret itself is never stored: only the file
    that holds the password or the command that prints an OAuth2 access token."""

    name = models.CharField(max_length=100, unique=True)
    protocol = models.CharField(max_length=4, choices=Protocol.choices)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField()
    tls = models.CharField(max_length=8, choices=Tls.choices, default=Tls.IMPLICIT)
    user = models.CharField(max_length=320)
    password_file = models.CharField(max_length=1000, blank=True, default="")
    token_command = models.CharField(max_length=2000, blank=True, default="")
    folder = models.CharField(max_length=500, default="INBOX")
    deliver_to = models.CharField(max_length=320)
    since = models.DateTimeField(null=True, blank=True,
                                 help_text="mail received before this is not imported")
    after_fetch = models.CharField(max_length=8, choices=AfterFetch.choices,
                                   default=AfterFetch.KEEP)
    move_to = models.CharField(max_length=500, blank=True, default="",
                               help_text="the folder of --after-fetch move:FOLDER")
    paused = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    # How the last rounds went.
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0, help_text="consecutive failed rounds")
    errors = models.PositiveIntegerField(default=0, help_text="failed rounds, ever")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    fetched = models.PositiveIntegerField(default=0, help_text="messages stored, ever")

    # IMAP: the folder's UIDVALIDITY and the highest UID dealt with; every UID up to it is
    # stored or set aside.
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    resync_below = models.BigIntegerField(
        default=0, help_text="after a change of UIDVALIDITY, messages below this UID are"
                             " looked up by Message-ID among those stored before")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def address(self) -> str:
        return f"{self.protocol}://{self.host}:{self.port}/{self.folder}"


class SeenUidl(models.Model):
    """POP3: a message on the server that is stored or set aside (UIDL, RFC 1939). Kept
    while the server still lists it."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="seen_uidls")
    uidl = models.CharField(max_length=70)
    stored = models.BooleanField(default=True, help_text="False: set aside, or older than"
                                                         " --since (never deleted)")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mailbox", "uidl"],
                                               name="mailboxes_seen_uidl_once")]


class SetAside(models.Model):
    """A message the fetcher could not store (over the size limit, not a message, refused
    for good): left on the server, remembered here, reported in the mailbox's status, and
    passed over so the messages after it are fetched."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="set_aside")
    key = models.CharField(max_length=100, help_text="UIDVALIDITY:UID, or the POP3 UIDL")
    size = models.PositiveBigIntegerField(default=0)
    reason = models.CharField(max_length=1000)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at"]
        constraints = [models.UniqueConstraint(fields=["mailbox", "key"],
                                               name="mailboxes_set_aside_once")]
