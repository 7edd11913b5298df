from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "casegate.directory"
    label = "directory"
    verbose_name = "Directory"
