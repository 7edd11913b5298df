"""``casegate quarantine``: the list with its filters and JSON, and decisions on several
entries or on every one matching the filters."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from casegate.cli.main import main
from casegate.spool.models import Quarantine
from tests.held_mail import CASES, authentication, desk, hold

pytestmark = pytest.mark.django_db


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["quarantine", *args])
    out, err = capsys.readouterr()
    return status, out, err


def states() -> dict[int, str]:
    return dict(Quarantine.objects.values_list("id", "state"))


def test_the_json_list_has_subject_authentication_and_the_report(
        capsys: pytest.CaptureFixture[str]) -> None:
    failing = hold(subject="=?utf-8?q?Caf=C3=A9?=", auth_results=authentication("fail"))
    hold(subject="Other", auth_results=authentication("pass"))
    status, out, _ = run(capsys, "list", "--json", "--dmarc", "fail")
    assert status == 0
    [entry] = json.loads(out)
    assert entry["id"] == failing.pk and entry["subject"] == "Café"
    assert entry["from_header"] == "Offers <offers@bulk.example>"
    assert entry["authentication"]["dmarc"] == "fail"
    assert entry["auth_results"].startswith("gw.test; spf=pass")
    assert entry["spam"]["score"] == 9.5 and entry["spam"]["symbols"]["BAYES_SPAM"] == 5.1


def test_several_ids_are_released_each_on_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    desk()
    first, second = hold(), hold()
    status, out, err = run(capsys, "release", str(first.pk), str(second.pk))
    assert (status, err) == (0, "")
    assert out.splitlines() == [f"released #{first.pk} to {CASES}",
                                f"released #{second.pk} to {CASES}"]
    assert set(states().values()) == {"released"}


def test_refused_entries_are_one_line_and_do_not_stop_the_others(
        capsys: pytest.CaptureFixture[str]) -> None:
    first, second = hold(), hold()
    status, out, err = run(capsys, "delete", str(first.pk), "424242", str(second.pk), "424243")
    assert status == 1
    assert out.splitlines() == [f"deleted #{first.pk}", f"deleted #{second.pk}"]
    assert err.startswith("casegate: 2 of 4 left as they were: there is no quarantine entry"
                          " #424242") and len(err.splitlines()) == 1
    status, _, err = run(capsys, "delete", str(first.pk))
    assert (status, err) == (1, f"casegate: quarantine entry #{first.pk} was deleted already\n")


def test_all_matching_decides_the_held_entries_the_filters_choose(
        capsys: pytest.CaptureFixture[str]) -> None:
    watches = [hold(subject="Cheap watches") for _ in range(2)]
    other = hold(subject="Invoice")
    status, out, _ = run(capsys, "delete", "--all-matching", "--search", "watches")
    assert status == 0 and len(out.splitlines()) == 2
    assert states() == {**{e.pk: "deleted" for e in watches}, other.pk: "held"}


def test_ids_or_all_matching_and_filters_only_with_all_matching(
        capsys: pytest.CaptureFixture[str]) -> None:
    entry = hold()
    assert main(["quarantine", "delete"]) == 2
    assert main(["quarantine", "delete", str(entry.pk), "--all-matching"]) == 2
    status, _, err = run(capsys, "delete", str(entry.pk), "--search", "x")
    assert status == 1 and "with --all-matching" in err
    assert states() == {entry.pk: "held"}


def test_the_list_shows_each_entry_s_state_and_a_date_alone_is_a_whole_day(
        capsys: pytest.CaptureFixture[str]) -> None:
    desk()
    released, held = hold(subject="Let through"), hold(subject="Still held")
    assert run(capsys, "release", str(released.pk))[0] == 0
    status, out, _ = run(capsys, "list", "--all", "--until", timezone.now().date().isoformat())
    assert status == 0
    assert [line.split()[:2] for line in out.splitlines()] == [
        [str(released.pk), "released"], [str(held.pk), "held"]]


def test_the_trace_says_quarantined_only_while_an_entry_is_held() -> None:
    from casegate.gateway.quarantine import release
    from casegate.trace import TraceFilter, find_messages

    desk()
    entry = hold()
    [found] = find_messages(TraceFilter())
    assert found["status"].endswith("quarantined")
    release(entry.pk)
    [found] = find_messages(TraceFilter())
    assert "quarantined" not in found["status"]
    assert find_messages(TraceFilter(status="quarantined")) == []
