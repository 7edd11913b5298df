from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "casegate.gateway"
    label = "gateway"
    verbose_name = "Gateway"
