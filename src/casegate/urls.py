from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path

from casegate.api.app import api


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("healthz", health),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
