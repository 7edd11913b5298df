from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import include, path
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from casegate.api.app import api
from casegate.config import get_config
from casegate.console.sign_in import AdminSignInForm, SignInView
from casegate.console.survey_views import survey
from casegate.delivery.metrics import QueueCollector
from casegate.filtering.scanners import SCAN_COUNTS, SCAN_SECONDS, SCANS
from casegate.mailboxes.metrics import MailboxCollector


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


_REGISTRY = CollectorRegistry(auto_describe=False)  # collect only when scraped
_REGISTRY.register(QueueCollector())
_REGISTRY.register(MailboxCollector())
_IN_PROCESS = CollectorRegistry(auto_describe=False)  # scans counted by this process's gateway
_IN_PROCESS.register(SCANS)
_IN_PROCESS.register(SCAN_SECONDS)


def metrics(request: HttpRequest) -> HttpResponse:
    counts = get_config().home / SCAN_COUNTS
    if counts.is_dir():  # serve --processes N: the gateway processes' files, added up
        scans = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(scans, path=str(counts))
    else:
        scans = _IN_PROCESS
    body = generate_latest(_REGISTRY) + generate_latest(scans)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


admin.site.login_form = AdminSignInForm

urlpatterns = [
    path("healthz", health),
    path("metrics", metrics),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("console/login/", SignInView.as_view(), name="login"),
    path("console/", include("casegate.console.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("survey/<int:case_id>/<str:token>/", survey, name="survey"),
    path("", lambda request: redirect("console:home")),
]
