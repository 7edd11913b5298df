"""The log an operator reads: a message followed by its queue id through the gateway, each
delivery attempt and the desk's filing, in the plain and the JSON format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from casegate.maillog import parse_fields
from tests.mails import mail
from tests.support import Instance, free_port, instance, smtp_sink


def _lines(inst: Instance, queue_id: str) -> list[dict[str, Any]]:
    result = inst.run("log", queue_id, check=False)
    return [json.loads(line) if line.startswith("{") else parse_fields(line)
            for line in result.stdout.splitlines()]


def _logged(inst: Instance, queue_id: str, **expected: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        return next((line for line in _lines(inst, queue_id)
                     if all(str(line.get(k)) == v for k, v in expected.items())), None)

    return inst.wait_for(find, what=f"a log line with {expected}")


@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_a_message_is_followed_through_the_log(backend: str, log_format: str) -> None:
    crm_port = free_port()
    with instance(backend, CASEGATE_LOG_FORMAT=log_format) as inst, \
            smtp_sink(crm_port) as (_, crm):
        inst.env["CASEGATE_LOG_FILE"] = str(inst.home / "casegate.log")
        inst.run("demo")
        inst.run("transport", "add", "my-crm.com", f"127.0.0.1:{crm_port}")
        inst.run("rule", "add", "--match", "crm@solarmora.com", "--replace-recipient",
                 "support@my-crm.com")
        inst.start()
        data, msgid = mail(subject="panel broken")
        queue_id = inst.send("dana@example.net", ["help@solarmora.com", "crm@solarmora.com"],
                             data)
        case = inst.case_with(msgid)
        accepted = _logged(inst, queue_id, client="127.0.0.1")
        assert accepted["from"] == "<dana@example.net>"
        filed = _logged(inst, queue_id, filed="new")
        assert filed["case"] == f"CG-{case['id']}"
        assert filed["orig_to"] == "<help@solarmora.com>"
        assert filed["intake"].endswith(".solarmora.com")
        to_desk = _logged(inst, queue_id, orig_to="<help@solarmora.com>", relay="desk")
        assert to_desk["status"] == "delivered" and to_desk["to"] == f"<{filed['intake']}>"
        assert float(to_desk["delay"]) >= 0
        to_crm = _logged(inst, queue_id, to="<support@my-crm.com>")
        assert to_crm["status"] == "delivered" and str(crm_port) in to_crm["relay"]
        assert to_crm["orig_to"] == "<crm@solarmora.com>"
        assert to_crm["reply"].endswith("said: 250 2.0.0 Ok: stored")

        answer, _ = mail(subject="Re: panel broken", headers={"In-Reply-To": msgid})
        threaded = _logged(inst, inst.send("dana@example.net", ["help@solarmora.com"], answer),
                           filed="threaded")
        assert threaded["case"] == f"CG-{case['id']}"
        if log_format == "json":
            assert isinstance(to_desk["delay"], float) and to_desk["logger"] == \
                "casegate.delivery"
        assert crm.messages


def test_every_smtp_decision_is_logged_with_its_reply(backend: str) -> None:
    with instance(backend) as inst:
        inst.run("demo")
        inst.start()
        with inst.smtp() as client:
            client.ehlo("client.example.net")
            client.mail("dana@example.net")
            assert client.rcpt("nobody@solarmora.com")[0] == 550
            assert client.rcpt("someone@elsewhere.example")[0] == 550
        lines = inst.wait_for(
            lambda: [parse_fields(line) for line in inst.log_path.read_text().splitlines()
                     if "disconnect client=127.0.0.1" in line or "refused command=" in line]
            if "disconnect client=127.0.0.1" in inst.log_path.read_text() else None,
            what="the session's lines")
        refused = [line for line in lines if line.get("command") == "RCPT"]
        assert [line["reply"][:9] for line in refused] == ["550 5.1.1", "550 5.7.1"]
        assert "nobody@solarmora.com" in refused[0]["arg"]
        assert "connect client=127.0.0.1" in inst.log_path.read_text()
