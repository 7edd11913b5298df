"""Messages and attachments over the API: metadata, downloads, raw messages, 404s."""

from __future__ import annotations

import pytest
from django.test import Client

from casegate.api.remote_content import without_remote_content
from casegate.desk import blobs
from casegate.desk.downloads import content_disposition
from casegate.desk.models import Blob, DeskMessage, Intake
from casegate.desk.parsing import sanitize_html
from casegate.desk.vocabulary import Direction
from tests.api.factories import make_attachment, make_case, make_message

pytestmark = pytest.mark.django_db

RAW = b"From: dana@example.net\r\nSubject: Inverter beeps\r\n\r\nIt beeps.\r\n"


@pytest.fixture
def message(intake: Intake) -> DeskMessage:
    return make_message(make_case(intake), raw=RAW, text="It beeps.")


def test_a_message_with_its_attachments(api: Client, message: DeskMessage) -> None:
    attachment = make_attachment(message, b"%PDF-1.4 report")
    body = api.get(f"/api/messages/{message.pk}").json()
    assert body["id"] == message.pk and body["case"] == message.case_id and body["lead"] is None
    assert body["text"] == "It beeps." and body["raw_sha256"] == blobs.digest(RAW)
    assert body["attachments"] == [{
        "id": attachment.pk, "filename": "report.pdf", "content_type": "application/pdf",
        "size": 15, "content_id": "", "inline": False, "container": None, "problem": None,
        "sha256": blobs.digest(b"%PDF-1.4 report"), "stored": True}]
    assert api.get("/api/messages/999").json() == {"detail": "there is no message 999"}


def test_attachment_metadata(api: Client, message: DeskMessage) -> None:
    attachment = make_attachment(message, None, problem="larger than the 10-byte limit per file",
                                 size=99)
    body = api.get(f"/api/attachments/{attachment.pk}").json()
    assert body["message"] == message.pk and body["stored"] is False
    assert body["problem"] == "larger than the 10-byte limit per file"
    assert api.get("/api/attachments/999").status_code == 404


def test_a_download_is_the_bytes_as_an_attachment(api: Client, message: DeskMessage) -> None:
    data = bytes(range(256)) * 4
    attachment = make_attachment(message, data, filename="Prüfbericht 3.pdf")
    response = api.get(f"/api/attachments/{attachment.pk}/download")
    assert response.status_code == 200
    assert response.content == data
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"Pr_fbericht 3.pdf\"; "
        "filename*=UTF-8''Pr%C3%BCfbericht%203.pdf")


def test_a_download_never_serves_a_forged_content_type(api: Client, message: DeskMessage
                                                        ) -> None:
    html = make_attachment(message, b"<script>alert(1)</script>", content_type="text/html",
                           filename="page.html")
    response = api.get(f"/api/attachments/{html.pk}/download")
    assert response["Content-Type"] == "text/html"
    assert response["Content-Security-Policy"].endswith("sandbox")
    assert response["Content-Disposition"].startswith("attachment;")
    odd = make_attachment(message, b"x", content_type="text/plain\r\nX-Evil: 1", filename="")
    response = api.get(f"/api/attachments/{odd.pk}/download")
    assert response["Content-Type"] == "application/octet-stream"
    assert f'filename="attachment-{odd.pk}"' in response["Content-Disposition"]


@pytest.mark.parametrize(("name", "plain", "encoded"), [
    ("../../etc/passwd", "_.._etc_passwd", "_.._etc_passwd"),
    ('a"b\\c.txt', "a_b_c.txt", "a_b_c.txt"),
    ("evil\r\nSet-Cookie: x", "evilSet-Cookie: x", "evilSet-Cookie%3A%20x"),
    ("invoice\u202egpj.exe", "invoicegpj.exe", "invoicegpj.exe"),
    ("100%.txt", "100_.txt", "100_.txt"),
    ("  ...  ", "fallback", "fallback"),
    ("日本.txt", "__.txt", "%E6%97%A5%E6%9C%AC.txt"),
])
def test_file_names_are_made_safe(name: str, plain: str, encoded: str) -> None:
    assert content_disposition(name, "fallback") == (
        f"attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}")


def test_an_attachment_not_stored_is_404_with_the_reason(api: Client, message: DeskMessage
                                                         ) -> None:
    attachment = make_attachment(message, None, problem="larger than the 10-byte limit per file")
    response = api.get(f"/api/attachments/{attachment.pk}/download")
    assert response.status_code == 404
    assert response.json() == {"detail": f"attachment {attachment.pk} is not stored: larger "
                                         "than the 10-byte limit per file"}
    assert api.get("/api/attachments/999/download").status_code == 404


def test_bytes_missing_from_the_store_are_404_not_500(api: Client, message: DeskMessage) -> None:
    Blob.objects.create(sha256="ab" * 32, size=3, data=None)  # its file is nowhere
    attachment = make_attachment(message, None)
    attachment.blob_id = "ab" * 32
    attachment.save()
    response = api.get(f"/api/attachments/{attachment.pk}/download")
    assert response.status_code == 404
    assert "missing from the blob store" in response.json()["detail"]


def test_the_raw_message(api: Client, message: DeskMessage, intake: Intake) -> None:
    response = api.get(f"/api/messages/{message.pk}/raw")
    assert response.status_code == 200 and response.content == RAW
    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="message-{message.pk}.eml"')
    note = make_message(make_case(intake), direction=Direction.NOTE)
    missing = api.get(f"/api/messages/{note.pk}/raw")
    assert missing.status_code == 404 and "no raw copy" in missing.json()["detail"]
    assert api.get("/api/messages/999/raw").status_code == 404


TRACKED = ('<p>Hi<img src="https://track.example/p.gif" alt="pixel">'
           '<img src="//track.example/q.gif"><img src="cid:logo@acme">'
           '<a href="https://acme.example/">site</a></p>')


def test_html_comes_without_remote_images_unless_asked_for(api: Client, intake: Intake) -> None:
    case = make_case(intake)
    tracked = make_message(case, html=sanitize_html(TRACKED))
    plain = make_message(case, html=sanitize_html("<p>No images</p>"))
    served = [api.get(f"/api/messages/{tracked.pk}").json(),
              api.get(f"/api/cases/{case.pk}").json()["messages"][0],
              api.get(f"/api/cases/{case.pk}/messages").json()["items"][0]]
    for body in served:
        assert "track.example" not in body["html"] and body["remote_content_blocked"]
        assert 'src="cid:logo@acme"' in body["html"] and 'href="https://acme.example/"' in body[
            "html"] and 'alt="pixel"' in body["html"]
    assert not api.get(f"/api/messages/{plain.pk}").json()["remote_content_blocked"]
    asked = api.get(f"/api/messages/{tracked.pk}", {"remote_content": "true"}).json()
    assert 'src="https://track.example/p.gif"' in asked["html"]
    assert not asked["remote_content_blocked"]
    thread = api.get(f"/api/cases/{case.pk}/messages", {"remote_content": "true"}).json()
    assert "track.example" in thread["items"][0]["html"]


@pytest.mark.parametrize("html", [
    '<img srcset="https://track.example/a.png 1x, cid:a 2x">',
    '<table><tr><td background="https://track.example/bg.png">x</td></tr></table>',
    '<p style="background-image: url(https://track.example/bg.png)">x</p>',
    '<p style="background: u\\72l(https://track.example/bg.png)">x</p>',
    '<p style="background-image: image-set(\'https://track.example/a.png\' 1x)">x</p>',
])
def test_every_way_html_fetches_an_image_is_removed(html: str) -> None:
    cleaned, removed = without_remote_content(html)
    assert removed and "track.example" not in cleaned


REPORT = {"classifier": "rspamd", "action": "spam", "filter_action": "add header",
          "scanned": True, "score": 11.1, "required_score": 15.0,
          "symbols": {"CASEGATE_TEST_SPAM": 10.0, "RDNS_NONE": 1.0, "ARC_NA": 0.0},
          "reason": "rspamd: add header, score 11.10 of 15.00"}


def test_an_inbound_message_shows_the_gateways_spam_report(
        api: Client, message: DeskMessage) -> None:
    from django.utils import timezone

    from casegate.spool.models import Message

    Message.objects.create(queue_id="Q42", received_at=timezone.now(), raw=RAW, spam=True,
                           spam_report=REPORT)
    message.queue_id = "Q42"
    message.save(update_fields=["queue_id"])
    assert api.get(f"/api/messages/{message.pk}").json()["spam"] == REPORT
    thread = api.get(f"/api/cases/{message.case_id}").json()["messages"]
    assert [m["spam"] for m in thread] == [REPORT]
    paged = api.get(f"/api/cases/{message.case_id}/messages").json()["items"]
    assert [m["spam"] for m in paged] == [REPORT]


def test_a_message_without_a_report_has_none(api: Client, message: DeskMessage) -> None:
    assert api.get(f"/api/messages/{message.pk}").json()["spam"] is None
