from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "casegate.console"
    label = "console"
    verbose_name = "Web console"
