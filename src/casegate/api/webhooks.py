"""Webhooks over the API, for the mail-settings administrator (and the super
administrator), like the triggers. A webhook's secret is in the answer that creates it and
never again."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import P, PathEx, Query, Router, Status
from ninja.errors import HttpError

from casegate.api.schemas import (
    MAX_ID,
    WebhookAttemptOut,
    WebhookAttemptsQuery,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
    WebhookPauseIn,
    responses,
)
from casegate.desk.models import Webhook
from casegate.desk.webhooks.hooks import (
    WebhookError,
    add_webhook,
    attempt_dict,
    attempts,
    change_webhook,
    pause_webhook,
    remove_webhook,
    resume_webhook,
    webhook_dict,
)
from casegate.desk.webhooks.sending import send_webhook_test

router = Router(tags=["webhooks"])

WebhookId = PathEx[int, P(ge=1, le=MAX_ID, description="the webhook number")]


def _found(webhook_id: int) -> Webhook:
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None:
        raise HttpError(404, f"there is no webhook {webhook_id}")
    return webhook


@router.get("/webhooks", response=responses({200: list[WebhookOut]}, 403))
def list_webhooks(request: HttpRequest) -> list[dict[str, Any]]:
    """The webhooks, by name, with their secrets masked."""
    return [webhook_dict(w) for w in Webhook.objects.order_by("name")]


@router.post("/webhooks", response=responses({201: WebhookCreatedOut}, 400, 403, 422))
def create_webhook(request: HttpRequest, webhook: WebhookIn) -> Status[dict[str, Any]]:
    """Add a webhook; the answer holds its secret, shown this once."""
    try:
        created = add_webhook(webhook.name, webhook.url, webhook.events)
    except WebhookError as exc:
        raise HttpError(400, str(exc)) from None
    return Status(201, {**webhook_dict(created.webhook, 0), "secret": created.secret})


@router.patch("/webhooks/{webhook_id}", response=responses({200: WebhookOut}, 400, 403, 404,
                                                             422))
def patch_webhook(request: HttpRequest, webhook_id: WebhookId, body: WebhookPatch
                  ) -> dict[str, Any]:
    """Change a webhook's name, URL or events."""
    _found(webhook_id)
    try:
        webhook = change_webhook(webhook_id, body.name, body.url, body.events)
    except WebhookError as exc:
        raise HttpError(400, str(exc)) from None
    return webhook_dict(webhook)


@router.delete("/webhooks/{webhook_id}", response=responses({204: None}, 403, 404, 422))
def delete_webhook(request: HttpRequest, webhook_id: WebhookId) -> Status[None]:
    """Remove a webhook, its waiting events and its attempts."""
    remove_webhook(_found(webhook_id).pk)
    return Status(204, None)


@router.post("/webhooks/{webhook_id}/pause", response=responses({200: WebhookOut}, 403, 404,
                                                                  422))
def pause(request: HttpRequest, webhook_id: WebhookId, body: WebhookPauseIn) -> dict[str, Any]:
    """Send the webhook nothing until it is resumed; its events wait."""
    return webhook_dict(pause_webhook(_found(webhook_id).pk, body.reason))


@router.post("/webhooks/{webhook_id}/resume", response=responses({200: WebhookOut}, 403, 404,
                                                                   422))
def resume(request: HttpRequest, webhook_id: WebhookId) -> dict[str, Any]:
    """Send the webhook its events again, those that waited at once."""
    return webhook_dict(resume_webhook(_found(webhook_id).pk))


@router.post("/webhooks/{webhook_id}/test", response=responses({200: WebhookAttemptOut}, 403,
                                                                 404, 422))
def test(request: HttpRequest, webhook_id: WebhookId) -> dict[str, Any]:
    """Post a signed ``ping`` event to the webhook now; the attempt and the answer."""
    return attempt_dict(send_webhook_test(_found(webhook_id)))


@router.get("/webhooks/{webhook_id}/attempts",
            response=responses({200: list[WebhookAttemptOut]}, 403, 404, 422))
def list_attempts(request: HttpRequest, webhook_id: WebhookId,
                  query: Query[WebhookAttemptsQuery]) -> list[dict[str, Any]]:
    """The webhook's latest attempts, newest first: the answer, or why none came."""
    return [attempt_dict(a) for a in attempts(_found(webhook_id), query.limit)]
