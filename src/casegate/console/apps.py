from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "casegate.console"
    label = "console"
    verbose_name = "Web console"

    def ready(self) -> None:
        from casegate.console.audit import register_audited_models

        register_audited_models()
