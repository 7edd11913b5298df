from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "casegate.routing"
    label = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        # Imported here: models can be imported only once the app registry is ready.
        from casegate.directory.claims import add_claimant
        from casegate.routing import signals
        from casegate.routing.services import FORWARDING

        signals.connect()
        add_claimant(FORWARDING)
