"""The case page: the requester's panel, the thread's HTML, attachments and previews, and
the keyboard shortcuts."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from casegate.access import roles_of
from casegate.desk.models import Case, Company, Contact, DeskMessage, Survey
from casegate.desk.requester import requester_panel
from casegate.desk.vocabulary import CaseStatus
from tests.api.factories import make_attachment
from tests.console.test_access import signed_in
from tests.console.test_case_tools import make

pytestmark = pytest.mark.django_db


def test_the_requester_panel_shows_the_contact_their_company_cases_and_answers() -> None:
    company = Company.objects.create(domain="acme.example", name="Acme Solar")
    contact = Contact.objects.create(address="ann@acme.example", name="Ann Lee",
                                     company=company, language="fr")
    older = make("Invoice missing", "Where is it?")
    Case.objects.filter(pk=older.pk).update(status=CaseStatus.SOLVED)
    Survey.objects.create(case=older, token_sha256="a" * 64, sent_at=timezone.now(),
                          rating="bad", comment="Too slow <b>really</b>")
    hidden = make("Billing question", "Private", team="Billing")
    case = make("Panel", "It beeps.")
    Case.objects.filter(pk=case.pk).update(contact=contact)
    page = signed_in("agent").get(f"/console/cases/{case.pk}/").content.decode()
    panel = page[page.index('id="requester"'):page.index('id="shortcuts"')]
    assert "Ann Lee" in panel and "ann@acme.example" in panel and "fr" in panel
    assert f'href="/console/companies/{company.pk}/">Acme Solar</a>' in panel
    assert f'href="/console/cases/{older.pk}/">#{older.pk}</a> Invoice missing' in panel
    assert '<span class="badge">solved</span>' in panel
    assert f"/console/cases/{hidden.pk}/" not in panel  # another team's case
    assert "Too slow &lt;b&gt;really&lt;/b&gt;" in panel


def test_the_panel_costs_two_queries_however_many_cases_the_requester_has() -> None:
    contact = Contact.objects.create(address="ann@acme.example",
                                     company=Company.objects.create(domain="acme.example"))
    cases = [make(f"Case {n}", "text") for n in range(15)]
    signed_in("viewer")
    user = get_user_model().objects.get(username="viewer")
    roles_of(user)  # read once per request by the permission check before the page
    with CaptureQueriesContext(connection) as queries:
        panel = requester_panel(cases[0].pk, "ann@acme.example", contact.pk, user)
        assert panel.contact is not None and panel.contact.company is not None
    assert len(queries) == 2
    assert [c["id"] for c in panel.other_cases] == [c.pk for c in reversed(cases[5:])]


def test_mail_html_is_shown_escaped_in_a_sandboxed_frame_and_quotes_are_folded() -> None:
    case = make("Panel", "It beeps.")
    DeskMessage.objects.create(case=case, text="Thanks!\n\n> old words", new_text="Thanks!",
                               html='<p>Thanks <b>a lot</b> &amp; more</p>',
                               sender="ann@acme.example", created_at=timezone.now())
    DeskMessage.objects.create(case=case, text="Still here\n\n> It beeps.",
                               new_text="Still here", sender="ann@acme.example",
                               created_at=timezone.now())
    page = signed_in("agent").get(f"/console/cases/{case.pk}/").content.decode()
    assert ('<iframe class="mail-html" sandbox srcdoc="&lt;p&gt;Thanks &lt;b&gt;a lot&lt;/b&gt; '
            '&amp;amp; more&lt;/p&gt;"') in page
    assert "<b>a lot</b>" not in page
    assert "<pre>Still here</pre>" in page
    assert "<summary>Quoted text</summary><pre>Still here\n\n&gt; It beeps.</pre>" in page


def test_attachments_download_and_only_raster_images_are_previewed() -> None:
    case = make("Panel", "Photo attached.")
    message = DeskMessage.objects.get(case=case)
    png = make_attachment(message, b"\x89PNG\r\n\x1a\n", filename="photo.png",
                          content_type="image/png")
    svg = make_attachment(message, b"<svg onload='alert(1)'/>", filename="logo.svg",
                          content_type="image/svg+xml")
    lost = make_attachment(message, None, filename="huge.zip", size=50_000_000,
                           problem="larger than the limit")
    client = signed_in("agent")
    page = client.get(f"/console/cases/{case.pk}/").content.decode()
    url = f"/console/cases/{case.pk}/attachments"
    assert f'<img class="preview" src="{url}/{png.pk}?preview"' in page
    assert f'src="{url}/{svg.pk}?preview"' not in page
    assert f'href="{url}/{svg.pk}" download>logo.svg</a>' in page
    assert "huge.zip" in page and f"{url}/{lost.pk}" not in page and "47.7\xa0MB" in page
    preview = client.get(f"{url}/{png.pk}?preview")
    assert preview["Content-Disposition"].startswith("inline;")
    assert preview["X-Content-Type-Options"] == "nosniff"
    forced = client.get(f"{url}/{svg.pk}?preview")
    assert forced["Content-Disposition"].startswith("attachment;")
    assert forced["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert client.get(f"{url}/{png.pk}")["Content-Disposition"].startswith("attachment;")
    assert client.get(f"{url}/{lost.pk}").status_code == 404
    other = make("Other", "text")
    assert client.get(f"/console/cases/{other.pk}/attachments/{png.pk}").status_code == 404


def test_attachments_of_a_case_the_agent_cannot_see_are_not_served() -> None:
    case = make("Billing", "Invoice attached.", team="Billing")
    attachment = make_attachment(DeskMessage.objects.get(case=case), b"%PDF")
    url = f"/console/cases/{case.pk}/attachments/{attachment.pk}"
    assert signed_in("agent").get(url).status_code == 404
    assert signed_in("viewer").get(url).status_code == 200


def test_the_shortcuts_are_listed_and_the_queue_links_work_without_script() -> None:
    oldest, solved, case, newer = (make(f"Case {n}", "text") for n in range(4))
    Case.objects.filter(pk=solved.pk).update(status=CaseStatus.SOLVED)
    page = signed_in("agent").get(f"/console/cases/{case.pk}/").content.decode()
    assert f'href="/console/cases/{newer.pk}/" id="previous-case"' in page
    assert f'href="/console/cases/{oldest.pk}/" id="next-case"' in page  # solved: skipped
    assert '<details id="shortcuts">' in page and "<kbd>r</kbd>" in page
    script = signed_in("viewer").get("/console/app.js").content.decode()
    assert '"#next-case"' in script and "TEXTAREA" in script
