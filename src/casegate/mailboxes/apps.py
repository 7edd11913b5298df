from django.apps import AppConfig


class MailboxesConfig(AppConfig):
    name = "casegate.mailboxes"
    label = "mailboxes"
    verbose_name = "Mailboxes"
