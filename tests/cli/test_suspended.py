"""``casegate suspended`` and ``casegate desk intake block|unblock|blocked``."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from casegate.cli.main import main
from casegate.desk.filing import file_batch
from casegate.desk.models import Case, Intake, SuspendedMessage
from casegate.desk.services import add_intake
from casegate.routing.snapshot import load_table
from tests.desk.filing.batches import HOSTNAME, arrival
from tests.mails import mail

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("blobs_in_database")]


@pytest.fixture
def blobs_in_database(setting: Callable[..., None]) -> None:
    """Recovered messages' bytes go to the test database, never into a CASEGATE_HOME."""
    setting("CASEGATE_BLOB_STORE", "database")


def run(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    code = main(list(words))
    out, err = capsys.readouterr()
    return code, out, err


def suspended(intake: Intake, *subjects: str) -> list[int]:
    file_batch([arrival(intake, mail(subject=s, headers={"Precedence": "bulk"})[0])
                for s in subjects], load_table(), HOSTNAME)
    return list(SuspendedMessage.objects.order_by("id").values_list("pk", flat=True))


def test_list_recover_and_delete(capsys: pytest.CaptureFixture[str]) -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    first, second, third = suspended(intake, "one", "two", "three")
    code, out, _ = run(capsys, "suspended", "list", "--json", "--intake", "help@desk.example",
                       "--cause", "auto_mailer")
    rows = json.loads(out)
    assert code == 0 and [r["subject"] for r in rows] == ["three", "two", "one"]
    assert {k: rows[0][k] for k in ("cause", "reason", "sender", "spam_score")} == {
        "cause": "auto_mailer", "reason": "Precedence: bulk", "sender": "dana@example.net",
        "spam_score": None}
    assert run(capsys, "suspended", "list", "--cause", "spam")[1] == ""

    code, out, _ = run(capsys, "suspended", "recover", str(first), str(third))
    cases = list(Case.objects.order_by("id").values_list("pk", flat=True))
    assert code == 0 and out == (f"recovered #{first}: case {cases[0]}\n"
                                 f"recovered #{third}: case {cases[1]}\n")
    assert run(capsys, "suspended", "delete", str(second))[:2] == (0, f"deleted #{second}\n")
    code, _, err = run(capsys, "suspended", "delete", str(second))
    assert code == 1 and err.endswith(f"casegate: #{second} was deleted already\n")
    assert run(capsys, "suspended", "list")[1] == ""


def test_blocking_unblocking_and_listing_blocked_senders(
        capsys: pytest.CaptureFixture[str]) -> None:
    add_intake(Intake.CASE, "help@desk.example")
    assert run(capsys, "desk", "intake", "block", "help@desk.example", "acme.example")[:2] == (
        0, "help@desk.example blocks acme.example\n")
    run(capsys, "desk", "intake", "block", "help@desk.example", "Pest@Other.example")
    code, out, _ = run(capsys, "desk", "intake", "blocked", "help@desk.example", "--json")
    assert [r["entry"] for r in json.loads(out)] == ["acme.example", "pest@other.example"]
    assert run(capsys, "desk", "intake", "unblock", "help@desk.example", "acme.example")[0] == 0
    assert run(capsys, "desk", "intake", "blocked")[1] == (
        "help@desk.example  pest@other.example\n")
    code, _, err = run(capsys, "desk", "intake", "block", "nowhere@desk.example", "a.example")
    assert code == 1 and "there is no intake 'nowhere@desk.example'" in err
