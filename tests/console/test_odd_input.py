"""Odd numbers and dates from forms and query strings get an answer, never a 500: a number
in other digits than ASCII's ("²" is a digit to ``str.isdigit``, not to ``int``) is one
that is not there; a date at an end of the calendar is clamped or left out."""

from __future__ import annotations

import pytest

from casegate.desk.services import add_intake
from casegate.desk.vocabulary import IntakeKind
from casegate.directory.services import add_domain
from casegate.mail.hostport import HostPortError, parse_hostport
from tests.console.test_access import signed_in
from tests.console.test_case_tools import make

pytestmark = pytest.mark.django_db
SUPERSCRIPT_TWO = "\u00b2"


def test_console_forms_and_lists_answer_other_digits_without_an_error() -> None:
    add_domain("solarmora.com")
    add_intake(IntakeKind.CASE, "help@solarmora.com")
    case = make("Panel", "dark")
    client = signed_in("super administrator")
    assert client.get("/console/suspended/", {"intake": SUPERSCRIPT_TWO}).status_code == 200
    for path, form in [
        ("/console/suspended/decide", {"ids": SUPERSCRIPT_TWO, "decision": "recover"}),
        ("/console/suspended/blocked/block", {"intake": SUPERSCRIPT_TWO,
                                              "entry": "spam.example"}),
        ("/console/quarantine/bulk", {"entry": SUPERSCRIPT_TWO, "decision": "release"}),
        (f"/console/cases/{case.pk}/macro", {"macro": SUPERSCRIPT_TWO}),
        ("/console/routing/add", {"match_type": "address", "match_value": "a@solarmora.com",
                                  "position": SUPERSCRIPT_TWO}),
    ]:
        assert client.post(path, form).status_code < 500, path


def test_a_port_in_other_digits_is_refused_as_a_port() -> None:
    with pytest.raises(HostPortError, match="HOST:PORT"):
        parse_hostport(f"mx.example:2{SUPERSCRIPT_TWO}")


@pytest.mark.parametrize(("path", "query"), [
    ("/console/reports/", {"last": "0001-01-10"}),
    ("/console/reports/", {"first": "9999-12-31", "last": "9999-12-31"}),
    ("/console/reports/volume.csv", {"first": "0001-01-01"}),
    ("/console/trace/", {"since": "0001-01-01T00:00+01:00"}),
    ("/console/audit/", {"until": "9999-12-31T23:59-01:00"}),
    ("/console/quarantine/", {"since": "0001-01-01T00:00+01:00"}),
])
def test_dates_at_the_ends_of_the_calendar_get_an_answer(path: str, query: dict[str, str]
                                                         ) -> None:
    assert signed_in("super administrator").get(path, query).status_code == 200
