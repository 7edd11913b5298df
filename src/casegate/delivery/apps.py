from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "casegate.delivery"
    label = "delivery"
    verbose_name = "Delivery"
