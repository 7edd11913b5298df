"""The macros kept like the triggers: shared and personal in one set, versions, an import
all or nothing, a rollback."""

from __future__ import annotations

import pytest

from casegate.access import add_user
from casegate.desk.automation.macros import MACROS, add_macro, remove_macro
from casegate.desk.models import Macro
from casegate.desk.named_sets import SetError

pytestmark = pytest.mark.django_db

FILE = """\
macros:
  - name: Refund sent
    actions:
      - status: solved
    reply: "Hello {{requester.name}}, your refund is on its way."
  - name: Greeting
    owner: alice
    reply: "Hello {{requester.name}},"
"""


@pytest.fixture(autouse=True)
def alice(db: None) -> None:
    add_user("alice", "agent", "correct horse battery")


def test_an_import_makes_the_set_the_files_shared_and_personal() -> None:
    add_macro("Old", [{"add_tags": ["old"]}])
    add_macro("Greeting", [], "Hi {{requester.name}}", owner="alice")
    result = MACROS.import_(FILE, "macros.yaml")
    assert result.rules == 2 and result.version is not None
    assert sorted((m.name, m.owner.get_username() if m.owner else None, m.reply)
                  for m in Macro.objects.select_related("owner")) == [
        ("Greeting", "alice", "Hello {{requester.name}},"),
        ("Refund sent", None, "Hello {{requester.name}}, your refund is on its way.")]
    assert MACROS.import_(MACROS.export(), "again.yaml").diff == ""
    assert [v.summary for v in MACROS.history()] == [
        "import macros.yaml", "add Greeting", "add Old"]
    MACROS.rollback(MACROS.history()[1].number)
    assert sorted(Macro.objects.values_list("name", "reply")) == [
        ("Greeting", "Hi {{requester.name}}"), ("Old", "")]


def test_one_macro_each_of_a_name_per_owner() -> None:
    text = FILE + "  - name: Greeting\n    reply: shared\n  - name: Greeting\n    owner: alice\n" \
                  "    reply: twice\n"
    with pytest.raises(SetError) as refused:
        MACROS.import_(text, "macros.yaml")
    assert str(refused.value).splitlines() == [
        "macros.yaml:11: a second macro named 'Greeting'", "nothing was changed"]


def test_a_bad_macro_changes_nothing_and_names_its_line() -> None:
    text = FILE + "  - name: Theirs\n    owner: nobody\n    reply: x\n" \
                  "  - name: Wrong\n    reply: '{{password}}'\n"
    with pytest.raises(SetError) as refused:
        MACROS.import_(text, "macros.yaml")
    lines = str(refused.value).splitlines()
    assert lines[0] == "macros.yaml:9: there is no active user 'nobody'"
    assert lines[1].startswith("macros.yaml:12: unknown placeholder {{password}}")
    assert not Macro.objects.exists()


def test_removing_is_a_version_too() -> None:
    add_macro("Old", [{"add_tags": ["old"]}])
    remove_macro("Old")
    assert [v.summary for v in MACROS.history()] == ["remove Old", "add Old"]
    assert MACROS.history()[0].macros == []
