from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "casegate.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        # Imported here: models can be imported only once the app registry is ready.
        from auditlog.registry import auditlog

        from casegate.api.models import ApiToken

        auditlog.register(ApiToken, exclude_fields=["key_sha256", "last_used_at"])
