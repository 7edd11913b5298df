"""``casegate sla``: calendars, policies, export, import (all or nothing), rollback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from casegate.cli.main import main
from casegate.desk.models import Intake, SlaPolicy
from casegate.desk.services import add_intake

pytestmark = pytest.mark.django_db


def run(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    code = main(list(words))
    out, err = capsys.readouterr()
    return code, out, err


def test_calendars_and_policies_from_the_command_line(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    add_intake(Intake.CASE, "help@desk.example", first_response_hours=8)
    code, out, err = run(capsys, "sla", "calendar", "add", "Paris office", "--timezone",
                         "Europe/Paris", "--hours", "mon-fri=09:00-12:00,13:00-17:00",
                         "--holiday", "2026-12-25")
    assert code == 0, err
    code, out, _ = run(capsys, "sla", "calendar", "list", "--json")
    [calendar] = json.loads(out)
    assert calendar["hours"]["fri"] == ["09:00-12:00", "13:00-17:00"]
    assert "sat" not in calendar["hours"] and calendar["holidays"] == ["2026-12-25"]
    code, out, err = run(capsys, "sla", "policy", "add", "Urgent", "--priority", "urgent",
                         "--calendar", "Paris office", "--first-response", "1h",
                         "--resolution", "1h30m", "--warning", "15m", "--position", "1")
    assert code == 0 and "at position 1" in out, err
    code, out, _ = run(capsys, "sla", "policy", "list")
    assert [line.split("  ", 2)[::2] for line in out.splitlines()] == [  # without the ids
        ["1", "Urgent  Paris office  1h  None  1h30m"],
        ["2", "First response at help@desk.example  None  8h  None  None"]]
    code, _, err = run(capsys, "sla", "calendar", "remove", "Paris office")
    assert code == 1 and "is the calendar of Urgent" in err
    code, _, err = run(capsys, "sla", "policy", "add", "Bad", "--first-response", "soon")
    assert code == 1 and "first response is a time such as 2h" in err

    code, exported, _ = run(capsys, "sla", "export")
    assert "first_response: 1h\n" in exported and "warning: 15m" in exported
    changed = tmp_path / "sla.yaml"
    changed.write_text(exported.replace("first_response: 1h\n", "first_response: 45m\n"))
    code, out, _ = run(capsys, "sla", "import", str(changed), "--dry-run")
    assert "-  first_response: 1h\n+  first_response: 45m" in out.replace("  - ", "  ")
    assert "nothing changed" in out
    assert SlaPolicy.objects.get(name="Urgent").first_response_minutes == 60
    code, out, _ = run(capsys, "sla", "import", str(changed))
    assert code == 0 and SlaPolicy.objects.get(name="Urgent").first_response_minutes == 45

    broken = tmp_path / "broken.yaml"
    broken.write_text("calendars: []\npolicies:\n  - name: A\n    first_response: 2h\n"
                      "  - name: B\n    calendar: Nowhere\n    first_response: 2h\n"
                      "  - name: C\n    resolution: later\n")
    code, _, err = run(capsys, "sla", "import", str(broken))
    assert code == 1
    assert "broken.yaml:8: resolution is a time" in err
    assert "broken.yaml:5: there is no calendar 'Nowhere' in the file" in err
    assert SlaPolicy.objects.count() == 2

    code, out, _ = run(capsys, "sla", "history", "--json")
    versions = json.loads(out)
    assert [v["summary"] for v in versions][:2] == ["import " + str(changed), "add policy Urgent"]
    code, out, _ = run(capsys, "sla", "rollback", str(versions[1]["version"]))
    assert code == 0 and SlaPolicy.objects.get(name="Urgent").first_response_minutes == 60
    code, out, _ = run(capsys, "sla", "policy", "remove", "Urgent")
    assert code == 0 and list(SlaPolicy.objects.values_list("position", flat=True)) == [1]


def test_a_file_an_option_names_is_read_alike_by_every_command(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing, bad = tmp_path / "missing.yaml", tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    for words in (("sla", "policy", "add", "x", "--file"), ("trigger", "add", "--file"),
                  ("rule", "import")):
        code, _, err = run(capsys, *words, str(missing))
        assert code == 1 and f"cannot read {missing}" in err, words
    for words in (("sla", "calendar", "add", "x", "--file"), ("automation", "add", "--file")):
        code, _, err = run(capsys, *words, str(bad))
        assert code == 1 and f"{bad}: not valid YAML" in err, words
