from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "casegate.api"
    label = "api"
    verbose_name = "REST API"
