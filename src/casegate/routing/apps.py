from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "casegate.routing"
    label = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from casegate.routing import signals

        signals.connect()
