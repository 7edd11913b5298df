"""The REST API (django-ninja), served under /api/ with its schema at /api/openapi.json."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(title="casegate", version="1", urls_namespace="api")


@api.get("/health")
def health(request) -> dict[str, str]:
    return {"status": "ok"}
