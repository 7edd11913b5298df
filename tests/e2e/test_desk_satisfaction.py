"""Satisfaction surveys and signatures as a user meets them: mail over SMTP to ``casegate
serve``, a signed reply and the solve through the API, the survey caught by an SMTP server
standing in for the customer's, and its page answered over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_desk_triggers import to
from tests.mails import mail
from tests.support import Instance, RecordingHandler, free_port, instance, smtp_sink

TRIGGERS = """\
triggers:
  - name: Unhappy customers
    events: [satisfaction_rated]
    conditions:
      all:
        - {field: satisfaction, is: bad}
    actions:
      - priority: urgent
      - add_tags: [unhappy]
"""


@pytest.fixture(scope="module")
def desk(backend: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Instance, RecordingHandler, str]]:
    port = free_port()
    files = tmp_path_factory.mktemp("satisfaction")
    with instance(backend) as inst, smtp_sink(port) as (_, sink):
        inst.run("demo")
        inst.run("transport", "add", "customer.example", f"127.0.0.1:{port}")
        [intake] = [i for i in inst.json("desk", "intake", "list") if i["kind"] == "case"]
        inst.run("desk", "intake", "set", str(intake["id"]), "--survey",
                 "--signature", "Solarmora support, {{case.number}}")
        inst.run("agent", "add", "ann@agents.example", "--name", "Ann Agent", "--username",
                 "ann", "--no-notify", "--signature", "{{agent.name}}, {{case.number}}")
        inst.run("agent", "add", "bob@agents.example", "--name", "Bob Agent", "--username",
                 "bob", "--no-notify")
        (files / "triggers.yaml").write_text(TRIGGERS)
        inst.run("trigger", "import", str(files / "triggers.yaml"))
        inst.start(http=True)
        yield inst, sink, inst.run("token", "create", "ann").stdout.split()[-1]


def api(inst: Instance, token: str, method: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{inst.http_port}{path}", data=json.dumps(body).encode(),
        method=method, headers={"Authorization": f"Bearer {token}",
                                "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def new_case(inst: Instance, sender: str) -> dict[str, Any]:
    data, message_id = mail(subject="Inverter dark", sender=sender, to="help@solarmora.com")
    inst.send(sender.split("<")[-1].rstrip(">"), ["help@solarmora.com"], data)
    return inst.case_with(message_id)


def test_a_signed_reply_then_a_survey_rated_bad_over_http(desk) -> None:
    inst, sink, token = desk
    case = new_case(inst, "Dana Cohen <dana@customer.example>")
    api(inst, token, "POST", f"/api/cases/{case['id']}/replies", {"text": "Fixed remotely."})
    reply = inst.wait_for(lambda: to(sink, "dana@customer.example"), what="the reply")[0]
    assert str(reply.get_content()).replace("\r\n", "\n").strip() == (
        f"Fixed remotely.\n\nAnn Agent, CG-{case['id']}")

    api(inst, token, "PATCH", f"/api/cases/{case['id']}", {"status": "solved"})
    survey = inst.wait_for(lambda: to(sink, "dana@customer.example")[1:], what="the survey")[0]
    assert survey["Auto-Submitted"] == "auto-generated"
    [path] = re.findall(r"https?://[^/\s]+(/survey/\S+)", str(survey.get_content()))

    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page_url = f"http://127.0.0.1:{inst.http_port}{path}"
    with browser.open(page_url, timeout=30) as page:
        form = page.read().decode()
    [csrf] = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    answer = urllib.parse.urlencode({"rating": "bad", "comment": "Three weeks without power",
                                     "csrfmiddlewaretoken": csrf}).encode()
    with browser.open(page_url, data=answer, timeout=30) as thanks:
        assert "Thank you" in thanks.read().decode()

    detail = json.loads(inst.run("cases", "show", str(case["id"]), "--json").stdout)
    assert detail["satisfaction"]["rating"] == "bad"
    assert detail["satisfaction"]["comment"] == "Three weeks without power"
    assert ("satisfaction", "bad: Three weeks without power") in [
        (e["field"], e["after"]) for e in detail["history"]]
    assert detail["priority"] == "urgent" and detail["tags"] == ["unhappy"]


def test_an_agent_without_a_signature_replies_with_the_intakes(desk) -> None:
    inst, sink, _ = desk
    case = new_case(inst, "Eve <eve@customer.example>")
    bob = inst.run("token", "create", "bob").stdout.split()[-1]
    api(inst, bob, "POST", f"/api/cases/{case['id']}/replies", {"text": "On it."})
    reply = inst.wait_for(lambda: to(sink, "eve@customer.example"), what="the reply")[0]
    assert str(reply.get_content()).replace("\r\n", "\n").strip() == (
        f"On it.\n\nSolarmora support, CG-{case['id']}")


def test_a_survey_link_answers_for_its_case_only(desk) -> None:
    inst, sink, token = desk
    first = new_case(inst, "Fay <fay@customer.example>")
    second = new_case(inst, "Gus <gus@customer.example>")
    for case in (first, second):
        api(inst, token, "PATCH", f"/api/cases/{case['id']}", {"status": "solved"})
    survey = inst.wait_for(lambda: to(sink, "fay@customer.example"), what="the survey")[0]
    [path] = re.findall(r"https?://[^/\s]+(/survey/\S+)", str(survey.get_content()))
    other = path.replace(f"/survey/{first['id']}/", f"/survey/{second['id']}/")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{inst.http_port}{other}", timeout=30)
    assert refused.value.code == 404

