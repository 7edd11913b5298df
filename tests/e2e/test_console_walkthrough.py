"""An agent's morning in the console, in French, in a real browser (Debian's chromium
through playwright) against a running casegate: find a case by a word, read it (mail HTML
in its sandboxed frame, an image attachment previewed, times relative in French), assign
it, merge a second case into it, see a colleague open it, and the team lead's reports. A
screenshot of each step is saved in the test's temporary directory."""

from __future__ import annotations

import base64
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.e2e.test_console_browser import PASSWORD, sign_in
from tests.mails import mail
from tests.support import instance

PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def photographed_mail() -> tuple[bytes, str]:
    message = EmailMessage()
    message["From"] = "Nora Diaz <nora@customer.example>"
    message["To"] = "help@solarmora.com"
    message["Subject"] = "Inverter shows E42"
    message["Message-ID"] = message_id = "<walkthrough.1@customer.example>"
    message.set_content("The inverter shows E42 since this morning.")
    message.add_alternative("<p>The inverter shows <b>E42</b> since this morning.</p>",
                            subtype="html")
    message.add_attachment(PIXEL_PNG, maintype="image", subtype="png", filename="display.png")
    return message.as_bytes(), message_id


def signed_in(browser: Any, base: str, username: str) -> Any:
    """A French-speaking browser in Paris signed in as ``username``."""
    page = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    sign_in(page, f"{base}/console/", username)
    page.wait_for_load_state()
    return page


def test_an_agents_walk_through_the_case_page_in_french(backend: str, browser: Any,
                                                       tmp_path: Path) -> None:
    with instance(backend) as inst:
        inst.run("demo")
        for username, role in (("ana", "agent"), ("bob", "agent"),
                               ("lead", "super")):
            inst.run("user", "add", username, "--role", role, "--password", PASSWORD,
                     "--email", f"{username}@agents.example")
        for username, name in (("ana", "Ana Silva"), ("bob", "Bob Martin")):
            inst.run("agent", "add", f"{username}@agents.example", "--username",
                     username, "--name", name, "--no-notify")
        inst.start(http=True)
        data, message_id = photographed_mail()
        inst.send("nora@customer.example", ["help@solarmora.com"], data)
        case = inst.case_with(message_id)
        again, again_id = mail(subject="Still E42", body="Any news about the inverter?",
                               sender="Nora Diaz <nora@customer.example>")
        inst.send("nora@customer.example", ["help@solarmora.com"], again)
        second = inst.case_with(again_id)
        base = f"http://127.0.0.1:{inst.http_port}"
        errors: list[str] = []

        page = signed_in(browser, base, "ana")
        page.on("pageerror", lambda error: errors.append(str(error)))
        assert page.get_attribute("html", "lang") == "fr"
        page.goto(f"{base}/console/cases/")
        page.fill("#q", "inverter")
        page.press("#q", "Enter")
        page.wait_for_selector("#search-results")
        results = page.inner_text("#search-results")
        assert "Inverter shows E42" in results and "Still E42" in results
        page.screenshot(path=tmp_path / "1-search.png", full_page=True)

        page.click(f"#search-results a[href='/console/cases/{case['id']}/']")
        page.wait_for_url(f"{base}/console/cases/{case['id']}/")
        frame = page.frame_locator("iframe.mail-html").first
        assert "E42" in frame.locator("b").inner_text()
        assert page.get_attribute("iframe.mail-html", "sandbox") == ""
        preview = page.locator("img.preview").first
        preview.wait_for()
        assert page.evaluate("img => img.naturalWidth", preview.element_handle()) == 1
        assert "display.png" in page.inner_text("ul.attachments")
        relative = page.inner_text("#thread time")
        assert re.search(r"maintenant|il y a", relative), relative
        panel = page.inner_text("#requester")
        assert "nora@customer.example" in panel and f"#{second['id']}" in panel
        page.screenshot(path=tmp_path / "2-case-in-french.png", full_page=True)

        page.keyboard.press("?")
        assert page.get_attribute("#shortcuts", "open") is not None
        page.keyboard.press("n")
        assert page.evaluate("document.activeElement.id") == "reply-text"
        assert page.is_checked("#reply-form [name=kind][value=note]")
        page.keyboard.press("s")  # typed in the reply: not a shortcut
        assert page.input_value("#reply-text") == "s"
        page.fill("#reply-text", "")
        page.screenshot(path=tmp_path / "3-shortcuts.png", full_page=True)

        page.select_option("#assignee", "bob")
        page.click("#fields-form button[type=submit]")
        page.wait_for_selector("[role=status].ok")
        assert page.locator("#assignee option:checked").get_attribute("value") == "bob"
        page.screenshot(path=tmp_path / "4-assigned.png", full_page=True)

        page.fill("#merge-cases", str(second["id"]))
        page.click("#merge-form button[type=submit]")
        page.wait_for_selector("[role=status]")
        assert "Any news about the inverter?" in page.inner_text("#thread")
        page.goto(f"{base}/console/cases/{second['id']}/")
        assert page.locator("#merged-into").count() == 1
        page.screenshot(path=tmp_path / "5-merged.png", full_page=True)

        colleague = signed_in(browser, base, "bob")
        colleague.goto(f"{base}/console/cases/{case['id']}/")
        page.goto(f"{base}/console/cases/{case['id']}/")
        assert "bob" in page.inner_text("#presence")
        colleague.fill("#reply-text", "Bonjour Nora")  # typing is told within 10 s
        page.wait_for_function(
            "before => { const now = document.querySelector('#presence').textContent;"
            " return now.includes('bob') && now !== before; }",
            arg=page.text_content("#presence"), timeout=20_000)
        page.screenshot(path=tmp_path / "6-colleague-here.png", full_page=True)

        lead = signed_in(browser, base, "lead")
        lead.goto(f"{base}/console/reports/")
        assert lead.locator("#report-volume table").count() == 1
        assert "Support\tmail\t1" in lead.inner_text("#report-volume")  # merged: one case
        lead.screenshot(path=tmp_path / "7-reports.png", full_page=True)
        assert not errors, errors
        assert sorted(p.name for p in tmp_path.glob("*.png")) == [
            "1-search.png", "2-case-in-french.png", "3-shortcuts.png", "4-assigned.png",
            "5-merged.png", "6-colleague-here.png", "7-reports.png"]
