from django.apps import AppConfig


class DeskConfig(AppConfig):
    name = "casegate.desk"
    label = "desk"
    verbose_name = "Case desk"
