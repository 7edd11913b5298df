"""Messages and attachments: their metadata, raw messages and attachment bytes."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from ninja import P, PathEx, Query, Router
from ninja.errors import HttpError

from casegate.api.remote_content import as_requested
from casegate.api.requests import AgentRequest
from casegate.api.schemas import MAX_ID, AttachmentDetail, HtmlOptions, MessageOut, responses
from casegate.desk import blobs
from casegate.desk.downloads import blob_response
from casegate.desk.models import Attachment, Blob, DeskMessage
from casegate.desk.output import attachment_as_dict, delivery_states, message_as_dict
from casegate.desk.visibility import message_scope
from casegate.spool.models import Message

log = logging.getLogger("casegate.api")
router = Router(tags=["messages"])

MessageId = PathEx[int, P(ge=1, le=MAX_ID, description="the message's id")]
AttachmentId = PathEx[int, P(ge=1, le=MAX_ID, description="the attachment's id")]


def thread_messages() -> QuerySet[DeskMessage]:
    """Messages with what showing them needs: their author and attachments."""
    return DeskMessage.objects.select_related("author").prefetch_related("attachments")


def _attachments(request: AgentRequest) -> QuerySet[Attachment]:
    """The attachments of the messages the caller may see."""
    return Attachment.objects.filter(
        message__in=DeskMessage.objects.filter(message_scope(request.auth)))


def message_items(messages: list[DeskMessage], remote_content: bool = False
                  ) -> list[dict[str, Any]]:
    """Messages as the API shows them, with where each outbound one's delivery stands.

    The delivery state is worked out as conversation_detail() does (services has no public
    function for it), so a message reads the same in a thread, in a page and on its own.
    """
    reports = spam_reports([m.pk for m in messages])
    return [as_requested({**message_as_dict(m, state), "case": m.case_id, "lead": m.lead_id,
                          "spam": reports.get(m.pk)}, remote_content)
            for m, state in zip(messages, delivery_states(messages), strict=True)]


def spam_reports(message_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The gateway's spam report of each message that has one, by the message's id."""
    queue_ids = dict(DeskMessage.objects.filter(pk__in=message_ids).exclude(queue_id="")
                     .values_list("pk", "queue_id"))
    reports = dict(Message.objects.filter(queue_id__in=set(queue_ids.values()))
                   .values_list("queue_id", "spam_report"))
    return {pk: reports[queue_id] for pk, queue_id in queue_ids.items() if reports.get(queue_id)}


def _bytes_answer(media_type: str, description: str) -> dict[str, Any]:
    """The 200 answer of a download, which ninja (documenting JSON bodies) cannot describe."""
    return {"responses": {200: {
        "description": description,
        "headers": {"Content-Disposition": {"schema": {"type": "string"},
                                            "description": "attachment, with the file name"}},
        "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
    }}}


def _download(blob: Blob, media_type: str, filename: str, fallback: str) -> HttpResponse:
    try:
        return blob_response(blob, media_type, filename, fallback)
    except blobs.BlobMissing as exc:
        log.warning("API download: %s", exc)
        raise HttpError(404, f"the bytes of {fallback} are missing from the blob store; "
                             "an administrator can look for the cause in the log") from None


@router.get("/messages/{message_id}", response=responses({200: MessageOut}, 404, 422))
def get_message(request: AgentRequest, message_id: MessageId, html: Query[HtmlOptions]
                ) -> dict[str, Any]:
    """A message with its attachments' metadata."""
    message = thread_messages().filter(message_scope(request.auth), pk=message_id).first()
    if message is None:
        raise HttpError(404, f"there is no message {message_id}")
    return message_items([message], html.remote_content)[0]


@router.get("/messages/{message_id}/raw", response=responses({200: None}, 404, 422),
            openapi_extra=_bytes_answer("message/rfc822", "the message as it arrived or left"))
def get_raw_message(request: AgentRequest, message_id: MessageId) -> HttpResponse:
    """The message as it arrived (or, for a reply, as it was sent)."""
    message = (DeskMessage.objects.select_related("raw")
               .filter(message_scope(request.auth), pk=message_id).first())
    if message is None:
        raise HttpError(404, f"there is no message {message_id}")
    if message.raw is None:
        raise HttpError(404, f"message {message_id} has no raw copy: it was written in the "
                             "desk and never mailed")
    return _download(message.raw, "message/rfc822", f"message-{message_id}.eml",
                     f"message-{message_id}.eml")


@router.get("/attachments/{attachment_id}", response=responses({200: AttachmentDetail}, 404, 422))
def get_attachment(request: AgentRequest, attachment_id: AttachmentId) -> dict[str, Any]:
    """An attachment's metadata; ``stored`` says whether its bytes can be downloaded."""
    attachment = _attachments(request).filter(pk=attachment_id).first()
    if attachment is None:
        raise HttpError(404, f"there is no attachment {attachment_id}")
    return {**attachment_as_dict(attachment), "message": attachment.message_id}


@router.get("/attachments/{attachment_id}/download", response=responses({200: None}, 404, 422),
            openapi_extra=_bytes_answer("*/*", "the attachment's bytes, with its content type"))
def download_attachment(request: AgentRequest, attachment_id: AttachmentId) -> HttpResponse:
    """An attachment's bytes, served as a download."""
    attachment = _attachments(request).select_related("blob").filter(pk=attachment_id).first()
    if attachment is None:
        raise HttpError(404, f"there is no attachment {attachment_id}")
    if attachment.blob is None:
        reason = attachment.problem or "its bytes were not kept"
        raise HttpError(404, f"attachment {attachment_id} is not stored: {reason}")
    return _download(attachment.blob, attachment.content_type, attachment.filename,
                     f"attachment-{attachment_id}")
