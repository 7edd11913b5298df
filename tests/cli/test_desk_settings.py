"""``casegate desk intake set|text|show`` and ``casegate agent signature``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.utils import timezone

from casegate.desk.models import Case, DeskMessage, Intake
from casegate.desk.services import add_agent
from casegate.desk.vocabulary import Direction
from tests.cli.test_automation import blobs_in_database, run  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("blobs_in_database")]


def test_survey_signatures_and_texts_from_the_command_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "desk", "intake", "add", "--address", "help@desk.example",
               "--survey")[0] == 0
    signature = tmp_path / "signature.txt"
    signature.write_text("Solarmora {{case.team}}\n{{case.number}}\n")
    code, out, err = run(capsys, "desk", "intake", "set", "help@desk.example", "--no-survey",
                         "--signature-file", str(signature))
    assert code == 0 and out == "help@desk.example: survey off, signature set\n", err
    assert run(capsys, "desk", "intake", "text", "help@desk.example", "survey", "fr",
               "--subject", "Votre avis", "--body", "Merci : {{survey.link}}")[0] == 0
    code, _, err = run(capsys, "desk", "intake", "text", "help@desk.example",
                       "acknowledgement", "en", "--body", "Hi {{case.nope}}")
    assert code == 1 and "unknown placeholder {{case.nope}}" in err
    shown = json.loads(run(capsys, "desk", "intake", "show", "help@desk.example")[1])
    assert shown["survey"] is False
    assert shown["signature"] == "Solarmora {{case.team}}\n{{case.number}}"
    assert shown["texts"] == [{"kind": "survey", "language": "fr", "subject": "Votre avis",
                               "body": "Merci : {{survey.link}}\n"}]
    assert run(capsys, "desk", "intake", "text", "help@desk.example", "survey", "fr",
               "--built-in")[1] == "survey (fr): built-in text\n"

    add_agent("ann@agents.example", "Ann Agent", "ann")
    code, out, _ = run(capsys, "agent", "signature", "ann", "--text", "{{agent.name}}")
    assert code == 0 and out == "agent ann: signature set\n"
    case = Case.objects.create(intake=Intake.objects.get(), subject="Panel",
                               requester="dana@example.net", created_at=timezone.now(),
                               received_at=timezone.now())
    assert run(capsys, "cases", "reply", str(case.pk), "--text", "Done.", "--as", "ann")[0] == 0
    sent = DeskMessage.objects.get(case=case, direction=Direction.OUTBOUND)
    assert sent.text == "Done.\n\nAnn Agent\n"
