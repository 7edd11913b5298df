from django.apps import AppConfig


class DeskConfig(AppConfig):
    name = "casegate.desk"
    label = "desk"
    verbose_name = "Case desk"

    def ready(self) -> None:
        # Imported here: models can be imported only once the app registry is ready.
        from casegate.desk.claims import INTAKES, desk_addresses
        from casegate.desk.models import Agent, Intake
        from casegate.directory.claims import add_claimant
        from casegate.routing.signals import watch
        from casegate.routing.sources import read_desk_from

        add_claimant(INTAKES)
        read_desk_from(desk_addresses)
        watch(Intake, Agent)
