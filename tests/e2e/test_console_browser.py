"""The article's walk-through in a real browser (Debian's chromium through playwright).

Log in as the mail-settings administrator, create the article's rule, send a mail by
SMTP, find it in the message trace with every hop, open the new case, reply as an agent
and see the reply arrive at a local SMTP sink. A screenshot of each step is saved under
``test-artifacts/console/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.mails import mail
from tests.support import Instance, free_port, instance, smtp_sink

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
PASSWORD = "correct horse battery"


def test_article_walk_through_in_the_console(backend: str, browser) -> None:
    shots = ARTIFACTS / backend
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    sink_port = free_port()
    with instance(backend) as inst, smtp_sink(sink_port) as (_, customers):
        setup(inst, sink_port)
        page = browser.new_page()
        base = f"http://127.0.0.1:{inst.http_port}"

        sign_in(page, f"{base}/console/", "mailadmin")
        page.wait_for_url(f"{base}/console/routing/")
        page.screenshot(path=shots / "1-routing.png", full_page=True)

        intake = inst.json("desk", "intake", "list")[0]["address"]
        page.select_option("#match_type", "address")
        page.fill("#match_value", "alex@solarmora.com")  # a real account: refused inline
        page.select_option("#rewrite", "recipient")
        page.fill("#rewrite_value", intake)
        page.click("#save-rule")
        assert "account" in page.inner_text("#form-error")
        page.fill("#match_value", "help@solarmora.com")
        page.fill("#also_deliver", "alex@solarmora.com")
        page.check("#bypass_spam")
        page.fill("#description", "Email to case (the article's rule)")
        page.click("#save-rule")
        page.wait_for_selector("text=It applies to the next message")
        assert "help@solarmora.com" in page.inner_text("#rules")
        page.fill("#rcpt", "help@solarmora.com")
        page.click("#simulator button")
        assert intake in page.inner_text("#simulation")  # updated in place, no reload
        page.fill("#address", "help@solarmora.com")
        page.click("#test-message button")
        page.wait_for_selector("#verification >> text=case opened", timeout=30_000)
        assert "rule #1" in page.inner_text("#verification")
        page.screenshot(path=shots / "2-rule-saved.png", full_page=True)

        data, message_id = mail(subject="My panel stopped charging", to="help@solarmora.com",
                                sender="Nora <nora@customer.example>", body="Error E42.")
        queue_id = inst.send("nora@customer.example", ["help@solarmora.com"], data)
        case = inst.case_with(message_id)

        page.click("text=Message trace")
        page.fill("#message_id", message_id.strip("<>"))
        page.click("#trace-search button")
        page.click(f"text={queue_id}")
        hops = page.inner_text("#hops")
        for hop in ("received", "classified", "routed", "delivery attempt (delivered)",
                    "filed at the desk"):
            assert hop in hops, hops
        assert "alex@solarmora.com" in hops and intake in hops
        page.screenshot(path=shots / "3-trace.png", full_page=True)

        page.click("text=open the case")
        page.wait_for_url(f"{base}/console/cases/{case['id']}/")
        assert "Error E42." in page.inner_text("#thread")
        page.screenshot(path=shots / "4-case.png", full_page=True)
        page.click("text=Sign out")

        sign_in(page, page.url, "agent")
        page.goto(f"{base}/console/cases/{case['id']}/")
        page.fill("#reply-text", "Please restart the inverter; it will clear E42.")
        page.click("#send-reply")
        page.wait_for_selector("text=Reply sent to nora@customer.example")
        page.screenshot(path=shots / "5-replied.png", full_page=True)
        reply = inst.wait_for(lambda: [raw for _, rcpts, raw in customers.messages
                                       if rcpts == ["nora@customer.example"]],
                              what="the agent's reply at the customer's server")[0]
        assert b"restart the inverter" in reply
        assert f"In-Reply-To: {message_id}".encode() in reply
        page.goto(f"{base}/console/routing/")
        assert page.title().startswith("403") or "403" in page.content()  # agents: no routing


def sign_in(page: Any, url: str, username: str) -> None:
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def setup(inst: Instance, sink_port: int) -> None:
    inst.run("domain", "add", "solarmora.com")
    inst.run("account", "add", "alex@solarmora.com", "--name", "Alex Rivera")
    inst.run("desk", "intake", "add", "--kind", "case", "--domain", "desk.solarmora.com")
    inst.run("transport", "add", "customer.example", f"127.0.0.1:{sink_port}")
    inst.run("user", "add", "mailadmin", "--role", "mail-settings", "--password", PASSWORD)
    inst.run("user", "add", "agent", "--role", "agent", "--password", PASSWORD,
             "--email", "agent@agents.example")
    inst.start(http=True)


HOSTILE_HTML = ('<p>Hi<script>window.xss = "body script"</script>'
                '<img src="x" onerror="window.xss = \'body onerror\'">'
                '<a href="javascript:window.xss=1">link</a></p>')


def test_hostile_mail_shows_as_text_and_the_arabic_console_is_right_to_left(
        backend: str, browser) -> None:
    from email.message import EmailMessage

    shots = ARTIFACTS / backend
    shots.mkdir(parents=True, exist_ok=True)
    with instance(backend) as inst:
        inst.run("demo")
        inst.run("user", "add", "mailadmin", "--role", "mail-settings", "--password", PASSWORD)
        inst.start(http=True)
        hostile = EmailMessage()
        hostile["From"] = '"<img src=x onerror=window.xss=\'name\'>" <eve@evil.example>'
        hostile["To"] = "help@solarmora.com"
        hostile["Subject"] = "<script>window.xss = 'subject'</script>"
        hostile["Message-ID"] = message_id = "<hostile.1@evil.example>"
        hostile.set_content("plain part")
        hostile.add_alternative(HOSTILE_HTML, subtype="html")
        queue_id = inst.send("eve@evil.example", ["help@solarmora.com"], hostile.as_bytes())
        case = inst.case_with(message_id)

        context = browser.new_context(locale="ar")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        base = f"http://127.0.0.1:{inst.http_port}"
        sign_in(page, f"{base}/console/routing/", "mailadmin")
        page.wait_for_url(f"{base}/console/routing/")
        assert page.get_attribute("html", "dir") == "rtl"
        assert page.get_attribute("html", "lang") == "ar"
        brand = page.locator("header strong").bounding_box()
        width = page.viewport_size["width"]
        assert brand["x"] > width / 2  # mirrored: the brand sits on the right
        assert "التوجيه" in page.inner_text("h1")
        page.screenshot(path=shots / "6-routing-arabic.png", full_page=True)

        for path in (f"/console/cases/{case['id']}/", f"/console/trace/{queue_id}/",
                     "/console/trace/?sender=eve"):
            page.goto(f"{base}{path}")
            page.click("details summary") if page.locator("details summary").count() else None
            assert page.evaluate("window.xss") is None, path
        page.goto(f"{base}/console/cases/{case['id']}/")
        assert "<script>window.xss = 'subject'</script>" in page.inner_text("h1")
        assert "onerror" in page.inner_text("main")  # the sender's name, shown as text
        page.screenshot(path=shots / "7-hostile-case.png", full_page=True)
        assert not errors
        context.close()
