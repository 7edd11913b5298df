"""Cases over the API: filters, cursor pages, the detail, changes with history, replies."""

from __future__ import annotations

from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from casegate.api.pagination import decode_cursor, encode_cursor
from casegate.desk.models import Case, CaseEvent, DeskMessage, Intake
from casegate.desk.services import add_intake
from casegate.desk.vocabulary import Direction, IntakeKind
from tests.api.factories import at, make_attachment, make_case, make_message

pytestmark = pytest.mark.django_db


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def walk(api: Client, url: str, **query: Any) -> list[list[int]]:
    """Every page of a list, following next_cursor to the end."""
    pages, cursor = [], None
    while True:
        response = api.get(url, {**query, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.content
        pages.append([item["id"] for item in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages


# --- lists ----------------------------------------------------------------------------------


@pytest.fixture
def cases(intake: Intake, agent: Any) -> dict[str, Case]:
    other = add_intake(IntakeKind.CASE, "billing@example.com")
    return {
        "plain": make_case(intake, created_at=at(1)),
        "urgent": make_case(intake, priority="urgent", status="open", created_at=at(2)),
        "assigned": make_case(intake, assignee=agent, team="tier2", created_at=at(3),
                              tags=["solar", "vip"]),
        "billing": make_case(other, subject="Invoice 42 is wrong", requester="Bo@Acme.example",
                             status="solved", tags=["billing"], created_at=at(4)),
    }


@pytest.mark.parametrize(("query", "expected"), [
    ({}, ["billing", "assigned", "urgent", "plain"]),
    ({"status": "open"}, ["urgent"]),
    ({"status": "new"}, ["assigned", "plain"]),
    ({"priority": "urgent"}, ["urgent"]),
    ({"assignee": "ann"}, ["assigned"]),
    ({"assignee": "nobody"}, []),
    ({"team": "tier2"}, ["assigned"]),
    ({"tag": "vip"}, ["assigned"]),
    ({"tag": " VIP "}, ["assigned"]),
    ({"tag": "vi"}, []),
    ({"intake": "billing@example.com"}, ["billing"]),
    ({"intake": "HELP@example.com"}, ["assigned", "urgent", "plain"]),
    ({"requester": "bo@acme.example"}, ["billing"]),
    ({"q": "invoice"}, ["billing"]),
    ({"q": "%"}, []),
    ({"created_after": at(2).isoformat()}, ["billing", "assigned", "urgent"]),
    ({"created_before": at(2).isoformat()}, ["plain"]),
    ({"created_after": at(2).isoformat(), "created_before": at(4).isoformat(),
      "status": "new"}, ["assigned"]),
    ({"created_after": "0001-01-01T00:00:00+01:00"}, ["billing", "assigned", "urgent", "plain"]),
    ({"created_before": "9999-12-31T23:59:59-23:59"}, ["billing", "assigned", "urgent", "plain"]),
    ({"created_after": "9999-12-31T23:59:59-23:59"}, []),
    ({"created_after": at(2).date().isoformat()}, ["billing", "assigned", "urgent"]),
    ({"created_before": at(3).isoformat().replace("+00:00", "z").replace("T", "t")},
     ["urgent", "plain"]),
])
def test_filters(api: Client, cases: dict[str, Case], query: dict[str, str],
                 expected: list[str]) -> None:
    assert ids(api.get("/api/cases", query)) == [cases[name].pk for name in expected]


def test_a_list_item_carries_the_case_fields(api: Client, cases: dict[str, Case]) -> None:
    item = api.get("/api/cases", {"assignee": "ann"}).json()["items"][0]
    assert item["assignee"] == "ann" and item["team"] == "tier2"
    assert item["tags"] == ["solar", "vip"] and item["intake"] == "help@example.com"
    assert item["status"] == "new" and item["priority"] == "normal"
    assert item["created_at"].startswith(at(3).date().isoformat())


@pytest.mark.parametrize("query", [{"status": "lost"}, {"priority": "x"}, {"limit": "0"},
                                   {"limit": "201"}, {"limit": "ten"}, {"q": "a\x00b"},
                                   {"created_after": "yesterday"}, {"created_after": "0.5"},
                                   {"created_before": "2025-02-30"}, {"tag": "a,b"}])
def test_bad_filters_are_422_naming_the_parameter(api: Client, query: dict[str, str]) -> None:
    response = api.get("/api/cases", query)
    assert response.status_code == 422
    body = response.json()
    [name] = query
    assert isinstance(body["detail"], str) and f"query.{name}" in body["detail"]
    assert body["errors"][0]["location"] == f"query.{name}"


def test_cursor_pages_walk_every_case_exactly_once(api: Client, intake: Intake) -> None:
    made = [make_case(intake, created_at=at(day)).pk for day in range(7)]
    pages = walk(api, "/api/cases", limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [pk for page in pages for pk in page] == sorted(made, reverse=True)


def test_cursor_pages_respect_filters_and_exact_fits(api: Client, intake: Intake) -> None:
    made = [make_case(intake, status="open" if n % 2 else "new").pk for n in range(8)]
    pages = walk(api, "/api/cases", limit=2, status="open")
    assert [pk for page in pages for pk in page] == sorted(made[1::2], reverse=True)
    assert [len(page) for page in pages] == [2, 2]  # the last full page says there is no more


def test_rows_added_while_walking_do_not_shift_pages(api: Client, intake: Intake) -> None:
    first, second = make_case(intake), make_case(intake)
    page = api.get("/api/cases", {"limit": 1}).json()
    make_case(intake)
    rest = api.get("/api/cases", {"limit": 5, "cursor": page["next_cursor"]}).json()
    assert [page["items"][0]["id"], *[i["id"] for i in rest["items"]]] == [second.pk, first.pk]


def test_cursors_are_opaque_and_round_trip() -> None:
    for value in (0, 1, 255, 2**40 + 7, 2**63 - 1):
        cursor = encode_cursor(value)
        assert len(cursor) == 11 and decode_cursor(cursor) == value


@pytest.mark.parametrize("cursor", ["", "abc", "!!!!!!!!!!!", "AAAAAAAAAAB", "AAAAAAAAAAA=",
                                    "AAAAAAAAAAA\n", "A" * 40])
def test_a_malformed_cursor_is_400(api: Client, cursor: str) -> None:
    response = api.get("/api/cases", {"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()["detail"] and "malformed" in response.json()["detail"]


def test_every_well_formed_cursor_is_valid(api: Client, intake: Intake) -> None:
    case = make_case(intake)
    assert ids(api.get("/api/cases", {"cursor": encode_cursor(2**64 - 1)})) == [case.pk]
    assert ids(api.get("/api/cases", {"cursor": encode_cursor(0)})) == []


def test_a_page_takes_the_same_queries_for_2_or_20_cases(api: Client, intake: Intake,
                                                          agent: Any) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/api/cases").status_code == 200
        return len(captured)

    for _ in range(2):
        make_case(intake, assignee=agent)
    queries()  # the token's first use is noted
    few = queries()
    for _ in range(18):
        make_case(intake, assignee=agent)
    assert queries() == few


# --- one case -------------------------------------------------------------------------------


def test_the_detail_has_thread_history_and_other_cases(api: Client, intake: Intake) -> None:
    older = make_case(intake)
    case = make_case(intake)
    first = make_message(case, text="It beeps")
    attachment = make_attachment(first, b"%PDF-1.4")
    make_message(case, direction=Direction.NOTE, text="Checked the logs")
    CaseEvent.objects.create(case=case, field="status", before="new", after="open",
                             actor="ann", at=at(1))
    detail = api.get(f"/api/cases/{case.pk}").json()
    assert detail["id"] == case.pk and detail["other_cases"] == [older.pk]
    assert [m["text"] for m in detail["messages"]] == ["It beeps", "Checked the logs"]
    assert [m["direction"] for m in detail["messages"]] == ["inbound", "note"]
    assert detail["messages"][0]["case"] == case.pk and detail["messages"][0]["lead"] is None
    assert detail["messages"][0]["attachments"][0]["id"] == attachment.pk
    assert detail["history"] == [{"field": "status", "before": "new", "after": "open",
                                  "actor": "ann", "at": at(1).isoformat().replace("+00:00", "Z")}]


@pytest.mark.parametrize(("url", "status"), [
    ("/api/cases/999", 404), ("/api/cases/abc", 422), ("/api/cases/0", 422),
    ("/api/cases/99999999999999999999", 422), ("/api/cases/999/messages", 404),
    ("/api/cases/1/", 404), ("/api/nothing", 404),
])
def test_bad_or_unknown_paths_are_json(api: Client, url: str, status: int) -> None:
    response = api.get(url)
    assert response.status_code == status
    assert isinstance(response.json()["detail"], str)


def test_a_missing_case_names_itself(api: Client) -> None:
    assert api.get("/api/cases/999").json() == {"detail": "there is no case 999"}


def test_a_method_the_path_lacks_is_405_json_with_allow(api: Client, intake: Intake) -> None:
    case = make_case(intake)
    response = api.delete(f"/api/cases/{case.pk}")
    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "PATCH"}
    assert "DELETE is not allowed" in response.json()["detail"]


# --- changes --------------------------------------------------------------------------------


def patch(api: Client, url: str, body: Any) -> Any:
    return api.patch(url, body, content_type="application/json")


def test_patch_changes_fields_and_records_who(api: Client, intake: Intake, agent: Any) -> None:
    case = make_case(intake)
    response = patch(api, f"/api/cases/{case.pk}", {
        "status": "pending", "priority": "high", "assignee": "ann", "team": " tier2 ",
        "tags": ["VIP", "solar", "vip"], "first_response_due_at": "2030-01-01T12:00:00+02:00"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["priority"], body["assignee"], body["team"]) == (
        "pending", "high", "ann", "tier2")
    assert body["tags"] == ["solar", "vip"]
    assert body["first_response_due_at"].startswith("2030-01-01T10:00:00")
    events = {e.field: e for e in CaseEvent.objects.filter(case=case)}
    assert set(events) == {"status", "priority", "assignee", "team", "tags",
                           "first_response_due_at"}
    assert {e.actor for e in events.values()} == {"ann"}
    assert (events["status"].before, events["status"].after) == ("new", "pending")
    history = api.get(f"/api/cases/{case.pk}").json()["history"]
    assert {h["field"] for h in history} == set(events)


def test_patch_only_touches_what_is_sent(api: Client, intake: Intake, agent: Any) -> None:
    case = make_case(intake, assignee=agent, priority="high")
    assert patch(api, f"/api/cases/{case.pk}", {"status": "open"}).json()["assignee"] == "ann"
    assert patch(api, f"/api/cases/{case.pk}", {}).status_code == 200
    assert CaseEvent.objects.filter(case=case).count() == 1
    body = patch(api, f"/api/cases/{case.pk}", {"assignee": None}).json()
    assert body["assignee"] is None and body["priority"] == "high"


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"assignee": "nobody"}, 404, "no active user 'nobody'"),
    ({"status": "lost"}, 422, "body.status"),
    ({"status": None}, 422, "body.status"),
    ({"tags": ["a,b"]}, 422, "body.tags.0"),
    ({"tags": ["x" * 51]}, 422, "body.tags.0"),
    ({"first_response_due_at": "2030-01-01T12:00:00"}, 422, "with its offset"),
    ({"first_response_due_at": 1893456000}, 422, "body.first_response_due_at"),
    ([None, None], 422, "body: Input should be a valid dictionary"),
    ({"priority": 3}, 422, "body.priority"),
])
def test_bad_changes_are_refused_with_a_reason(api: Client, intake: Intake, body: Any,
                                               status: int, words: str) -> None:
    case = make_case(intake)
    response = patch(api, f"/api/cases/{case.pk}", body)
    assert response.status_code == status
    assert words in response.json()["detail"]
    assert not CaseEvent.objects.exists()


def test_inactive_users_cannot_be_assigned(api: Client, intake: Intake) -> None:
    get_user_model().objects.create_user("gone", is_active=False)
    response = patch(api, f"/api/cases/{make_case(intake).pk}", {"assignee": "gone"})
    assert response.status_code == 404


def test_a_body_that_is_not_json_is_400(api: Client, intake: Intake) -> None:
    response = api.patch(f"/api/cases/{make_case(intake).pk}", "{not json",
                         content_type="application/json")
    assert response.status_code == 400
    assert "Cannot parse request body" in response.json()["detail"]


def test_patching_a_missing_case_is_404(api: Client) -> None:
    assert patch(api, "/api/cases/999", {"status": "open"}).status_code == 404


# --- the thread and replies -----------------------------------------------------------------


def test_messages_are_paged_oldest_first(api: Client, intake: Intake) -> None:
    case = make_case(intake)
    made = [make_message(case, text=f"message {n}").pk for n in range(5)]
    make_message(make_case(intake))  # another case's message stays out
    pages = walk(api, f"/api/cases/{case.pk}/messages", limit=2)
    assert pages == [made[:2], made[2:4], made[4:]]


def test_a_note_stays_internal(api: Client, intake: Intake, agent: Any) -> None:
    case = make_case(intake)
    response = api.post(f"/api/cases/{case.pk}/replies", {"text": "Call them", "public": False},
                        content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["direction"] == "note" and body["author"] == "ann" and body["case"] == case.pk
    assert body["recipients"] == [] and body["delivery_status"] is None
    note = DeskMessage.objects.get(pk=body["id"])
    assert note.author == agent and note.text == "Call them"


def test_a_public_reply_is_queued_to_the_requester(api: Client, intake: Intake) -> None:
    case = make_case(intake, requester="dana@example.net")
    response = api.post(f"/api/cases/{case.pk}/replies", {"text": "Restart it, please."},
                        content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["direction"] == "outbound" and body["author"] == "ann"
    assert body["recipients"] == ["dana@example.net"] and body["delivery_status"] == "queued"
    assert body["raw_sha256"]
    case.refresh_from_db()
    assert case.status == "open" and case.first_responded_at is not None
    raw = api.get(f"/api/messages/{body['id']}/raw")
    assert b"Restart it, please." in raw.content


@pytest.mark.parametrize("body", [{"text": "   "}, {"text": "\x1c\n"}, {}, {"text": 5},
                                  {"text": "hi", "public": "sometimes"},
                                  {"text": "hi", "public": 0}, ["hi"]])
def test_a_reply_without_text_is_422(api: Client, intake: Intake, body: Any) -> None:
    case = make_case(intake)
    response = api.post(f"/api/cases/{case.pk}/replies", body, content_type="application/json")
    assert response.status_code == 422
    assert not DeskMessage.objects.exists()


def test_replying_to_a_missing_case_is_404(api: Client) -> None:
    response = api.post("/api/cases/999/replies", {"text": "hello"},
                        content_type="application/json")
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "url", "status"), [
    ("post", "/api/nothing", 404), ("post", "/api/cases", 405), ("get", "/api/", 404),
])
def test_errors_are_json_even_where_csrf_would_apply(token: str, method: str, url: str,
                                                     status: int) -> None:
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {token}"})
    response = getattr(client, method)(url)
    assert response.status_code == status
    assert isinstance(response.json()["detail"], str)


# --- search ---------------------------------------------------------------------------------


def test_search_finds_cases_by_their_messages_and_leaves_out_what_the_user_may_not_see(
        api: Client, intake: Intake) -> None:
    visible = make_case(intake, subject="Inverter <b>beeps</b>")
    make_message(visible, text="It beeps at night; the refund form is attached.")
    hidden = make_case(intake, subject="Refund", team="Billing")
    make_message(hidden, text="A refund for the other team.")
    response = api.get("/api/search", {"q": "refund"})
    assert response.status_code == 200, response.content
    assert [(h["kind"], h["id"]) for h in response.json()] == [("case", visible.pk)]
    hit = response.json()[0]
    assert "<mark>refund</mark>" in hit["snippet_html"]
    assert hit["subject_html"] == "Inverter &lt;b&gt;beeps&lt;/b&gt;"


def test_a_search_the_syntax_cannot_read_is_a_400_saying_why(api: Client) -> None:
    response = api.get("/api/search", {"q": "before:someday"})
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.json()["detail"]


# --- merge and split ------------------------------------------------------------------------


def test_cases_merge_unmerge_and_split_over_the_api(api: Client, intake: Intake) -> None:
    first, second = make_case(intake, subject="one"), make_case(intake, subject="two")
    make_message(first, text="first")
    moved = make_message(second, text="second")
    response = api.post(f"/api/cases/{first.pk}/merge", {"cases": [second.pk]},
                        content_type="application/json")
    assert response.status_code == 200, response.content
    assert DeskMessage.objects.get(pk=moved.pk).case_id == first.pk
    again = api.post(f"/api/cases/{first.pk}/merge", {"cases": [second.pk]},
                     content_type="application/json")
    assert again.status_code == 409 and "already merged" in again.json()["detail"]
    split = api.post(f"/api/messages/{moved.pk}/split")
    assert split.status_code == 201, split.content
    assert DeskMessage.objects.get(pk=moved.pk).case_id == split.json()["id"]
    unmerged = api.post(f"/api/cases/{second.pk}/unmerge")
    assert unmerged.status_code == 200 and unmerged.json()["status"] == "open"


def test_a_case_another_team_owns_cannot_be_merged_away(api: Client, intake: Intake) -> None:
    mine, theirs = make_case(intake), make_case(intake, team="Billing")
    response = api.post(f"/api/cases/{mine.pk}/merge", {"cases": [theirs.pk]},
                        content_type="application/json")
    assert response.status_code == 404
    assert Case.objects.get(pk=theirs.pk).merged_into_id is None


def test_a_reply_after_someone_elses_since_the_agent_read_is_refused_with_409(
        api: Client, intake: Intake) -> None:
    case = make_case(intake, requester="dana@example.net")
    read = make_message(case, text="It beeps.")
    other = get_user_model().objects.create_user("bob", "bob@solarmora.com")
    make_message(case, text="We will call you.", direction=Direction.OUTBOUND, author=other)
    response = api.post(f"/api/cases/{case.pk}/replies",
                        {"text": "Restart it.", "seen_message_id": read.pk},
                        content_type="application/json")
    assert response.status_code == 409, response.content
    assert "bob replied since you opened it" in response.json()["detail"]
    assert not DeskMessage.objects.filter(text="Restart it.").exists()


def test_many_cases_change_in_one_request_or_none_do(api: Client, intake: Intake) -> None:
    cases = [make_case(intake) for _ in range(3)]
    response = api.patch("/api/cases", {"ids": [c.pk for c in cases],
                                        "changes": {"priority": "high", "team": "Billing"}},
                         content_type="application/json")
    assert response.status_code == 200, response.content
    assert {c["priority"] for c in response.json()} == {"high"}
    assert CaseEvent.objects.filter(case__in=cases, field="priority").count() == 3
    hidden = make_case(intake, team="Sales")
    refused = api.patch("/api/cases", {"ids": [cases[0].pk, hidden.pk],
                                       "changes": {"priority": "low"}},
                        content_type="application/json")
    assert refused.status_code == 404
    assert Case.objects.get(pk=cases[0].pk).priority == "high"


def test_a_change_over_the_api_is_audited_under_the_token_s_user(
        api: Client, intake: Intake) -> None:
    case = make_case(intake)
    response = api.patch(f"/api/cases/{case.pk}", {"status": "closed"},
                         content_type="application/json")
    assert response.status_code == 200
    [entry] = LogEntry.objects.filter(content_type__model="case", object_pk=str(case.pk),
                                      action=LogEntry.Action.UPDATE)
    assert entry.actor is not None and entry.actor.get_username() == "ann"
