"""``casegate trigger``, ``casegate automation`` and ``casegate macro``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from casegate.cli.main import main
from casegate.desk.filing import file_batch
from casegate.desk.models import (
    AutomationVersion,
    Case,
    CaseEvent,
    DeskMessage,
    Intake,
    Trigger,
)
from casegate.desk.services import add_agent, add_intake
from casegate.desk.vocabulary import Direction
from casegate.routing.snapshot import load_table
from tests.desk.filing.batches import HOSTNAME, arrival
from tests.mails import mail

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("blobs_in_database")]


@pytest.fixture
def blobs_in_database(setting: Callable[..., None]) -> None:
    setting("CASEGATE_BLOB_STORE", "database")


def run(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    code = main(list(words))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_test_move_disable_history_rollback(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    add_agent("ann@agents.example", "Ann Agent", "ann", ["Billing"])
    code, out, err = run(capsys, "trigger", "add", "Refunds", "--event", "case_created",
                         "--all", "subject", "contains", "refund",
                         "--all", "intake", "is", "help@desk.example",
                         "--action", "team", "Billing", "--action", "add_tags", "refund,money",
                         "--action", "assign_round_robin", "Billing")
    assert code == 0, err
    assert out.startswith("added trigger #") and "at position 1" in out
    assert run(capsys, "trigger", "add", "Bad", "--event", "case_created", "--action",
               "colour", "red")[0] == 1
    code, out, _ = run(capsys, "trigger", "list", "--json")
    [row] = json.loads(out)
    assert row["conditions"]["all"][0] == {"field": "subject", "contains": "refund"}

    message = tmp_path / "refund.eml"
    message.write_bytes(mail(subject="A refund please")[0])
    code, out, _ = run(capsys, "trigger", "test", "--message", str(message), "--intake",
                       "help@desk.example")
    assert code == 0 and out.splitlines() == [
        "1. Refunds (on case_created)", "   team: - -> Billing",
        "   tags: - -> money, refund", "   assignee: - -> ann"]
    [item] = file_batch([arrival(intake, mail(subject="Refund")[0])], load_table(),
                        HOSTNAME).filed
    assert item.conversation is not None
    code, out, _ = run(capsys, "trigger", "test", str(item.conversation.pk), "--event",
                       "case_created", "--json")
    assert json.loads(out)["fired"][0]["changes"] == []  # done already: nothing to change

    assert run(capsys, "trigger", "disable", "Refunds")[1] == "trigger 'Refunds' is disabled\n"
    code, out, _ = run(capsys, "trigger", "history", "--json")
    versions = json.loads(out)
    assert [v["summary"] for v in versions] == ["disable Refunds", "add Refunds"]
    assert run(capsys, "trigger", "rollback", str(versions[1]["version"]))[0] == 0
    assert Trigger.objects.get().enabled


def test_import_dry_run_and_a_bad_file(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("triggers:\n  - name: Tag\n    events: case_created\n    actions:\n"
                    "      - add_tags: [seen]\n")
    code, out, _ = run(capsys, "trigger", "import", str(good), "--dry-run")
    assert code == 0 and "+- name: Tag" in out and "nothing changed" in out
    assert not Trigger.objects.exists()
    assert run(capsys, "trigger", "import", str(good))[0] == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text() + "  - name: Two\n    events: [case_created]\n"
                   "    actions:\n      - priority: whenever\n")
    code, _, err = run(capsys, "trigger", "import", str(bad))
    assert code == 1 and f"{bad}:9: a priority is one of" in err
    assert list(Trigger.objects.values_list("name", flat=True)) == ["Tag"]
    code, out, _ = run(capsys, "trigger", "export")
    assert out.startswith("# casegate triggers") and "- name: Tag" in out


def test_macro_add_list_apply_remove(capsys: pytest.CaptureFixture[str]) -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    add_agent("ann@agents.example", "Ann Agent", "ann", ["Billing"], signature="Ann, Billing")
    [item] = file_batch([arrival(intake, mail(subject="Invoice", sender="Dana <d@x.example>")[0])],
                        load_table(), HOSTNAME).filed
    case = item.conversation
    assert isinstance(case, Case)
    code, out, err = run(capsys, "macro", "add", "Invoice copy", "--action", "status", "pending",
                         "--action", "add_tags", "invoice",
                         "--reply", "Hello {{requester.name}}, see {{case.number}}.\n"
                                    "{{agent.signature}}")
    assert code == 0 and "(shared)" in out, err
    assert run(capsys, "macro", "add", "Bad", "--action", "reply", "x")[0] == 1
    code, out, _ = run(capsys, "macro", "list", "--json")
    assert [m["name"] for m in json.loads(out)] == ["Invoice copy"]
    code, out, err = run(capsys, "macro", "apply", "Invoice copy", str(case.pk), "--as", "ann")
    assert code == 0, err
    assert out.splitlines()[:2] == ["status: new -> pending", "tags: - -> invoice"]
    reply = DeskMessage.objects.get(case=case, direction=Direction.OUTBOUND)
    assert reply.text == f"Hello Dana, see CG-{case.pk}.\nAnn, Billing"
    assert reply.author is not None and reply.author.get_username() == "ann"
    assert CaseEvent.objects.filter(case=case, field="status",
                                    actor="ann (macro Invoice copy)").exists()
    code, out, _ = run(capsys, "macro", "apply", "Invoice copy", str(case.pk))  # no --as
    assert code == 0 and out.startswith("reply ")  # nothing left to change
    desk_reply = DeskMessage.objects.filter(case=case, direction=Direction.OUTBOUND).last()
    assert desk_reply is not None and desk_reply.author is None
    assert desk_reply.text == f"Hello Dana, see CG-{case.pk}.\n"  # no agent, no signature
    assert run(capsys, "macro", "remove", "Invoice copy")[0] == 0


def test_macro_export_import_history_rollback(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    add_agent("ann@agents.example", "Ann Agent", "ann", ["Billing"])
    assert run(capsys, "macro", "add", "Thanks", "--reply", "Thank you.", "--owner", "ann")[0] == 0
    code, out, _ = run(capsys, "macro", "export")
    assert out == ("# casegate macros\nmacros:\n- name: Thanks\n  owner: ann\n"
                   "  reply: Thank you.\n")
    macros = tmp_path / "macros.yaml"
    macros.write_text(out + "- name: Close\n  actions:\n  - status: solved\n")
    code, out, err = run(capsys, "macro", "import", str(macros))
    assert code == 0 and "imported 2 macros as " in out, err
    assert [row["macros"] for row in json.loads(run(capsys, "macro", "history", "--json")[1])
            ] == [2, 1]
    assert run(capsys, "macro", "rollback", "0")[0] == 0
    assert json.loads(run(capsys, "macro", "list", "--json")[1]) == []


def test_automation_add_test_run_export_import_rollback(capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path) -> None:
    from django.utils import timezone

    from casegate.desk.services import update_case

    intake = add_intake(Intake.CASE, "help@desk.example")
    now = timezone.now()
    case = Case.objects.create(intake=intake, subject="Panel", requester="dana@example.net",
                               created_at=now, received_at=now)
    update_case(case.pk, "ann", status="pending")
    code, out, err = run(capsys, "automation", "add", "Solve pending",
                         "--all", "status", "is", "pending",
                         "--all", "hours_since_status_changed", "at_least", "72",
                         "--action", "status", "solved")
    assert code == 0, err
    assert out.startswith("added automation #") and "at position 1" in out
    code, _, err = run(capsys, "automation", "add", "No hours", "--all", "status", "is",
                       "pending", "--action", "status", "solved")
    assert code == 1 and "counts at least some hours" in err
    later = (now + timedelta(days=4)).isoformat()
    code, out, _ = run(capsys, "automation", "test", str(case.pk), "--now", later)
    assert out.splitlines() == ["1. Solve pending: would act", "   status: pending -> solved"]
    assert run(capsys, "automation", "run")[1] == "Solve pending: acted on 0 cases\n"
    assert run(capsys, "automation", "run", "--now", later)[1] == \
        "Solve pending: acted on 1 case\n"
    assert run(capsys, "automation", "run", "--now", later)[1] == \
        "Solve pending: acted on 0 cases\n"
    assert Case.objects.get().status == "solved"
    exported = tmp_path / "automations.yaml"
    exported.write_text(run(capsys, "automation", "export")[1].replace("72", "96"))
    code, out, _ = run(capsys, "automation", "import", str(exported), "--dry-run")
    assert "+      at_least: 96" in out and "nothing changed" in out
    # version numbers go on across tests on PostgreSQL, whose sequences do not roll back
    first = AutomationVersion.objects.get().number
    code, out, _ = run(capsys, "automation", "import", str(exported))
    assert code == 0 and f"imported 1 automations as version {first + 1}" in out
    code, out, _ = run(capsys, "automation", "rollback", str(first))
    assert code == 0 and f"recorded as version {first + 2}" in out
    code, out, _ = run(capsys, "automation", "history", "--json")
    assert [v["summary"] for v in json.loads(out)] == [
        f"rollback to version {first}", f"import {exported}", "add Solve pending"]
