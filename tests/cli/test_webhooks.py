"""``casegate webhook``: the secret printed once, then masked; pause, resume, test, log."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from auditlog.models import LogEntry

from casegate.cli.main import main
from tests.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.django_db


def run(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    code = main(list(words))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_pause_resume_test_log_remove(capsys: pytest.CaptureFixture[str],
                                              setting: Callable[..., None],
                                              caplog: pytest.LogCaptureFixture) -> None:
    setting("CASEGATE_WEBHOOK_PRIVATE_TARGETS", "1")
    caplog.set_level(logging.DEBUG)
    with receiving(Receiver(answers=[503])) as receiver:
        code, out, err = run(capsys, "webhook", "add", "crm", receiver.url, "--event",
                             "case_created", "--event", "note_added")
        assert code == 0, err
        secret = out.split("secret (shown only now; receivers check signatures with it): "
                           )[1].strip()
        code, out, _ = run(capsys, "webhook", "list")
        assert f"whsec_…{secret[-4:]}" in out and "case_created,note_added" in out
        assert secret not in out
        [row] = json.loads(run(capsys, "webhook", "list", "--json")[1])
        assert (row["events"], row["paused"]) == (["case_created", "note_added"], False)
        assert run(capsys, "webhook", "pause", "crm", "--reason", "upgrade")[1] == \
            "webhook 'crm' is paused: upgrade\n"
        assert "paused: upgrade" in run(capsys, "webhook", "list")[1]
        assert run(capsys, "webhook", "resume", "crm")[1] == "webhook 'crm' is active\n"
        assert run(capsys, "webhook", "test", "crm")[1].startswith("HTTP 503 in ")
        assert run(capsys, "webhook", "test", "crm")[1].startswith("HTTP 200 in ")
    assert [r.signed_with(secret) for r in receiver.received] == [True, True]
    [newest, oldest] = json.loads(run(capsys, "webhook", "log", "crm", "--json")[1])
    assert (oldest["status"], oldest["error"], newest["status"]) == (
        503, "HTTP 503 Service Unavailable", 200)
    assert "ping" in run(capsys, "webhook", "log")[1]
    assert run(capsys, "webhook", "remove", "crm")[1] == "removed the webhook 'crm'\n"
    code, _, err = run(capsys, "webhook", "add", "bad", "ftp://x.example/")
    assert code == 1 and "http or https" in err
    assert secret not in caplog.text
    audited = list(LogEntry.objects.filter(content_type__model="webhook").order_by("timestamp"))
    assert [entry.action for entry in audited] == [LogEntry.Action.CREATE,
                                                   LogEntry.Action.DELETE]
    assert all(secret not in str(entry.changes) for entry in audited)


def test_export_import_history_rollback(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    assert run(capsys, "webhook", "add", "crm", "https://crm.example/hooks")[0] == 0
    code, out, _ = run(capsys, "webhook", "export")
    assert code == 0 and "name: crm" in out and "whsec_" not in out
    hooks = tmp_path / "hooks.yaml"
    hooks.write_text(out + "- name: chat\n  url: https://chat.example/in\n"
                           "  events: [case_created]\n")
    code, out, _ = run(capsys, "webhook", "import", str(hooks), "--dry-run")
    assert code == 0 and "+- name: chat" in out and "dry run: 2 webhooks checked" in out
    code, out, _ = run(capsys, "webhook", "import", str(hooks))
    rows = json.loads(run(capsys, "webhook", "history", "--json")[1])
    assert [row["summary"] for row in rows] == [f"import {hooks}", "add crm"]
    assert code == 0 and f"imported 2 webhooks as version {rows[0]['version']}" in out
    assert "webhook 'chat': secret (shown only now) whsec_" in out
    assert run(capsys, "webhook", "rollback", str(rows[1]["version"]))[1] == \
        f"rolled back to version {rows[1]['version']} (recorded as version " \
        f"{rows[0]['version'] + 1})\n"
    assert [row["name"] for row in json.loads(run(capsys, "webhook", "list", "--json")[1])] \
        == ["crm"]
    hooks.write_text("webhooks:\n  - name: crm\n    url: ftp://crm.example/\n")
    code, _, err = run(capsys, "webhook", "import", str(hooks))
    assert code == 1 and f"{hooks}:2: 'ftp://crm.example/' is not an http" in err
