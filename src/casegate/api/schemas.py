"""Request and response bodies of the REST API, typed so /api/openapi.json is exact."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar

from django.db.models import TextChoices
from ninja import Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
)

from casegate.desk.automation.vocabulary import TriggerEvent
from casegate.desk.vocabulary import (
    CASE_SORTS,
    CaseQueue,
    CaseStatus,
    DeskText,
    Direction,
    IntakeKind,
    LeadStatus,
    Priority,
    Rating,
    SlaTarget,
    SuspensionCause,
    SuspensionState,
)
from casegate.filtering.vocabulary import SpamAction
from casegate.mailboxes.vocabulary import Protocol, Tls
from casegate.routing.vocabulary import ListMode, MatchType, Rewrite, RuleAction

MAX_ID = 2**63 - 1  # the largest primary key the databases store
NO_NUL = r"^[^\x00]*$"
# White space as Python's str.isspace() sees it, spelled out: "\s" means another set in each
# engine that reads the schema (pydantic's Rust regex, Python's re, a client's ECMAScript).
WHITE_SPACE = (r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f"
               r"\u205f\u3000")
# Contains something besides white space, and no NUL.
NOT_BLANK = rf"^[^\x00]*[^\x00{WHITE_SPACE}][^\x00]*$"


def _one_of(vocabulary: type[TextChoices]) -> Any:
    """The vocabulary's values (but the empty one) as a Literal: the schema lists them inline,
    and a value outside them is refused with the list."""
    return Literal[tuple(value for value in vocabulary.values if value)]


if TYPE_CHECKING:  # mypy cannot follow a Literal built at run time
    CaseStatusValue = str
    PriorityValue = str
    LeadStatusValue = str
    DirectionValue = str
    MatchTypeValue = str
    RewriteValue = str
    RuleActionValue = str
    ListModeValue = str
    SpamActionValue = str
    SuspensionCauseValue = str
    SuspensionStateValue = str
    TriggerEventValue = str
    SlaTargetValue = str
    ProtocolValue = str
    TlsValue = str
    RatingValue = str
    DeskTextValue = str
    IntakeKindValue = str
    CaseQueueValue = str
else:
    CaseStatusValue = _one_of(CaseStatus)
    PriorityValue = _one_of(Priority)
    LeadStatusValue = _one_of(LeadStatus)
    DirectionValue = _one_of(Direction)
    MatchTypeValue = _one_of(MatchType)
    RewriteValue = _one_of(Rewrite)
    RuleActionValue = _one_of(RuleAction)
    ListModeValue = _one_of(ListMode)
    SpamActionValue = _one_of(SpamAction)
    SuspensionCauseValue = _one_of(SuspensionCause)
    SuspensionStateValue = _one_of(SuspensionState)
    SlaTargetValue = _one_of(SlaTarget)
    TriggerEventValue = _one_of(TriggerEvent)
    ProtocolValue = _one_of(Protocol)
    TlsValue = _one_of(Tls)
    RatingValue = _one_of(Rating)
    DeskTextValue = _one_of(DeskText)
    IntakeKindValue = _one_of(IntakeKind)
    CaseQueueValue = _one_of(CaseQueue)


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text holds an unpaired surrogate: it is not valid Unicode") from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("a reply needs some text")
    return value


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                        r"([Zz]|[+-][0-9]{2}:[0-9]{2})")


def _date_time(value: Any, dates: bool = False) -> Any:
    """An RFC 3339 date-time (or, with ``dates``, a date: its midnight UTC) as a datetime."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_TIME.fullmatch(value):
        return datetime.fromisoformat(value.upper())
    if dates and isinstance(value, str) and _DATE.fullmatch(value):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    raise ValueError("expected a date-time with its offset, such as 2025-01-31T09:30:00Z"
                     + (", or a date such as 2025-01-31" if dates else ""))


DateTime = Annotated[datetime, BeforeValidator(_date_time),
                     WithJsonSchema({"type": "string", "format": "date-time"})]
DateOrTime = Annotated[datetime, BeforeValidator(partial(_date_time, dates=True)),
                       WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"},
                                                 {"type": "string", "format": "date"}]})]


def _not_a_truth_value(value: Any) -> Any:
    """JSON's true and false are no numbers, whatever Python thinks of them."""
    if isinstance(value, bool):
        raise ValueError("a number is needed, not true or false")
    return value


# A row's number, as JSON writes it (1 or 1.0), never a truth value.
Number = Annotated[int, BeforeValidator(_not_a_truth_value), Field(ge=1, le=MAX_ID),
                   WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_ID})]


def _text(max_length: int, pattern: str = NO_NUL) -> Any:
    """A string of at most ``max_length`` characters, without NUL or unpaired surrogates."""
    return Annotated[str, StringConstraints(max_length=max_length, pattern=pattern),
                     AfterValidator(_encodable)]


if TYPE_CHECKING:  # mypy cannot follow an Annotated built at run time
    ShortText = str
    Address = str
    Domain = str
    Username = str
    Team = str
    Tag = str
    ReplyText = str
else:
    ShortText = _text(200)
    Address = _text(320)
    Domain = _text(253)
    Username = _text(150)
    Team = _text(100)
    Tag = _text(50, r"^[^,\x00]*$")
    ReplyText = Annotated[_text(100_000, NOT_BLANK), AfterValidator(_not_blank)]


def omittable(*, extra: dict[str, Any] | None = None, **constraints: Any) -> Any:
    """A field that may be left out (it is None then) but not sent as null.

    The default is neither validated nor documented, so the schema stays the field's type.
    """

    def document(schema: dict[str, Any]) -> None:
        schema.pop("default", None)
        schema.update(extra or {})

    return Field(None, json_schema_extra=document, **constraints)


class HealthOut(Schema):
    status: Literal["ok"]


# --- errors ---------------------------------------------------------------------------------


class ErrorOut(Schema):
    detail: str = Field(description="what went wrong and, where it helps, what to do")


class FieldProblem(Schema):
    location: str = Field(description="where: query.limit, body.status, path.case_id …")
    message: str


class ValidationErrorOut(Schema):
    detail: str = Field(description="every problem, in one line")
    errors: list[FieldProblem]


ERRORS: dict[int, type[Schema]] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                                   409: ErrorOut, 422: ValidationErrorOut}


def responses(ok: dict[int, Any], *errors: int) -> dict[int, Any]:
    """The documented answers of an authenticated operation: ``ok``, 401, 403 and ``errors``."""
    return dict(sorted({**ok, 401: ErrorOut, 403: ErrorOut,
                        **{code: ERRORS[code] for code in errors}}.items()))


# --- pages ----------------------------------------------------------------------------------

Item = TypeVar("Item")


class Page(Schema, Generic[Item]):
    items: list[Item]
    next_cursor: str | None = Field(
        description="pass it as ?cursor= to get the next page; null on the last page")


# --- cases and leads ------------------------------------------------------------------------


class ConversationOut(Schema):
    id: int
    subject: str
    requester: str
    requester_name: str
    intake: str = Field(description="the intake address the mail came in by")
    original_recipient: str
    message_id: str
    received_at: datetime
    created_at: datetime


class SlaOut(Schema):
    policy: str | None = Field(description="the SLA policy that applies")
    due_at: datetime | None = Field(description="the earliest due time of the targets running")
    paused_at: datetime | None = Field(description="since when the clock stands still "
                                                   "(pending, solved, closed)")
    breached: list[SlaTargetValue]


class CaseOut(ConversationOut):
    status: CaseStatusValue
    priority: PriorityValue
    assignee: str | None = Field(description="the username of the assigned agent")
    team: str | None
    tags: list[str]
    first_response_due_at: datetime | None
    first_responded_at: datetime | None
    next_response_due_at: datetime | None
    resolution_due_at: datetime | None
    sla: SlaOut
    updated_at: datetime | None


class LeadOut(ConversationOut):
    status: LeadStatusValue


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    content_id: str
    inline: bool
    container: str | None = Field(description="the winmail.dat it was unpacked from")
    problem: str | None = Field(description="why it is kept as it arrived, or not kept")
    sha256: str | None
    stored: bool = Field(description="whether its bytes can be downloaded")


class AttachmentDetail(AttachmentOut):
    message: int = Field(description="the message it came with")


class SpamReportOut(Schema):
    classifier: str = Field(description="the classifier whose verdict decided")
    action: SpamActionValue
    filter_action: str = Field(description="the filter's own word for it (rspamd's "
                                           "\"add header\")")
    scanned: bool = Field(description="false when the filter did not answer and the message "
                                      "was accepted without a scan")
    score: float | None
    required_score: float | None
    symbols: dict[str, float | None] = Field(description="the rules that hit, with their "
                                                         "scores when the filter gives them")
    reason: str


class MessageOut(Schema):
    id: int
    case: int | None
    lead: int | None
    direction: DirectionValue
    message_id: str
    in_reply_to: str
    automated: str | None = Field(description="why it counts as automated mail")
    subject: str
    sender: str
    sender_name: str
    author: str | None = Field(description="the username of the agent who wrote it")
    recipients: list[str]
    cc: list[str]
    delivery_status: str | None = Field(description="outbound: queued, delivered or failed")
    text: str
    new_text: str = Field(description="the text without the quoted history")
    html: str = Field(description="sanitized HTML; remote images and styles that fetch "
                                  "are removed unless remote_content=true")
    remote_content_blocked: bool = Field(description="whether anything was removed from html "
                                                     "for loading remote content")
    raw_sha256: str | None
    parse_problems: list[str]
    created_at: datetime
    attachments: list[AttachmentOut]
    spam: SpamReportOut | None = Field(
        None, description="inbound mail: the spam classifier's report from the gateway")


class CaseEventOut(Schema):
    field: str
    before: str
    after: str
    actor: str
    at: datetime


class SatisfactionOut(Schema):
    rating: RatingValue | None = Field(description="the requester's answer (null: none yet)")
    comment: str
    sent_at: datetime = Field(description="when the survey was mailed")
    answered_at: datetime | None = Field(description="the first answer")
    changed_at: datetime | None = Field(description="the latest answer")
    changeable_until: datetime | None = Field(description="the answer stands after this")


class CaseDetail(CaseOut):
    contact: str | None = Field(description="the contact's address")
    follows: int | None = Field(description="the closed case this one continues")
    merged_into: int | None = Field(description="the case this one was merged into")
    satisfaction: SatisfactionOut | None = Field(
        description="the satisfaction survey mailed when the case was solved, and its answer")
    history: list[CaseEventOut]
    other_cases: list[int] = Field(description="the requester's other cases, newest first")
    messages: list[MessageOut]


class LeadDetail(LeadOut):
    contact: str | None = Field(description="the contact's address")
    converted_by: str | None
    converted_at: datetime | None
    messages: list[MessageOut]


# --- contacts and companies -----------------------------------------------------------------


class ContactOut(Schema):
    id: int
    address: str
    name: str
    language: str
    company: str | None = Field(description="the company's domain")
    created_at: datetime


class ContactDetail(ContactOut):
    cases: list[int] = Field(description="newest first")
    leads: list[int] = Field(description="newest first")


class CompanyOut(Schema):
    id: int
    domain: str
    name: str
    created_at: datetime


class CompanyDetail(CompanyOut):
    contacts: list[int]


# --- suspended mail and blocked senders -----------------------------------------------------


class SuspendedOut(Schema):
    id: int
    intake: str = Field(description="the intake address the mail came in by")
    queue_id: str
    subject: str
    sender: str
    sender_name: str
    mail_from: str = Field(description="the envelope sender")
    message_id: str
    cause: SuspensionCauseValue
    reason: str = Field(description="the cause in detail")
    spam_score: float | None = Field(description="the spam classifier's score, if it gave one")
    auth_results: str = Field(description="the Authentication-Results the gateway added")
    state: SuspensionStateValue
    case: int | None = Field(description="the case it was recovered onto")
    lead: int | None = Field(description="the lead it was recovered onto")
    received_at: datetime
    created_at: datetime


class BlockedSenderOut(Schema):
    id: int
    intake: str = Field(description="the intake address")
    entry: str = Field(description="the address, or the domain (with its subdomains)")
    created_at: datetime


# --- filters and changes --------------------------------------------------------------------


class Input(BaseModel):
    """Query parameters or a body. A plain pydantic model: ninja's Schema would also take a
    body that is no JSON object (a list, a number), reading it as if it were empty."""

    model_config = ConfigDict(extra="ignore")


class HtmlOptions(Input):
    remote_content: bool = Field(False, description=(
        "keep remote images in messages' html: fetching them tells the sender when and "
        "where the mail was read"))


class ConversationFilters(Input):
    intake: Address = omittable(description="the intake address")
    requester: Address = omittable(description="the requester's address")
    q: ShortText = omittable(description="words the subject contains")
    created_after: DateOrTime = omittable(description="created at or after (a date: 00:00 UTC)")
    created_before: DateOrTime = omittable(description="created before (a date: 00:00 UTC)")


class SearchParams(Input):
    q: ShortText = Field(description="the search, in the console's syntax: words, \"exact"
                                     " phrases\", -word, from:, to:, status:, tag:,"
                                     " assignee:, intake:, before:, after:, has:attachment")
    limit: int = Field(50, ge=1, le=200, description="at most this many results")


class SearchHitOut(Schema):
    kind: str = Field(description="case or lead")
    id: int
    subject: str
    requester: str
    status: str
    received_at: datetime
    score: float = Field(description="relevance: higher is better")
    snippet: str = Field(description="the best matching passage, as text")
    snippet_html: str = Field(description="the passage escaped, the words found in <mark>")
    subject_html: str = Field(description="the subject escaped, the words found in <mark>")


class CaseFilters(ConversationFilters):
    due_before: DateTime = omittable(description="an SLA target due before this instant "
                                                 "(with its offset)")
    status: CaseStatusValue = omittable()
    priority: PriorityValue = omittable()
    assignee: Username = omittable(description="the username of the assigned agent")
    team: Team = omittable()
    tag: Tag = omittable()


class LeadFilters(ConversationFilters):
    status: LeadStatusValue = omittable()


class ContactFilters(Input):
    q: ShortText = omittable(description="part of the address or the name")
    company: Domain = omittable(description="the company's domain")


class CompanyFilters(Input):
    q: ShortText = omittable(description="part of the domain or the name")


class CasePatch(Input):
    status: CaseStatusValue = omittable()
    priority: PriorityValue = omittable()
    assignee: Username | None = omittable(description="a username; null unassigns the case")
    team: Team = omittable()
    tags: list[Tag] = omittable(max_length=50, description="replaces all the tags")
    first_response_due_at: DateTime | None = omittable(
        description="when the first answer is due; null removes the deadline")


class CasesPatch(Input):
    ids: list[Number] = Field(
        min_length=1, max_length=500, description="the cases to change")
    changes: CasePatch


class LeadPatch(Input):
    status: LeadStatusValue = omittable()


class ReplyIn(Input):
    text: ReplyText
    public: StrictBool = Field(True, description="mail it to the requester; false keeps it an "
                                           "internal note")
    seen_message_id: Number | None = Field(
        None, description="the newest message the agent read: a public reply is refused"
                          " (409) when someone else replied after it")


class MergeIn(Input):
    cases: list[Number] = Field(
        min_length=1, max_length=50,
        description="the cases whose messages move onto this one; they are closed")


class SuspendedFilters(Input):
    intake: Address = omittable(description="the intake address")
    cause: SuspensionCauseValue = omittable()


class SuspendedIds(Input):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=200, description="the suspended messages, decided together")


class BlockedFilters(Input):
    intake: Address = omittable(description="the intake address")


# An address or a domain as an intake blocks them, within every limit of their length: labels
# of letters and digits joined by single hyphens (an internationalised domain, whose A-labels
# start with xn--, is blocked from the console or the command line).
_LOCAL = r"[A-Za-z0-9_+-](?:\.?[A-Za-z0-9_+-]){0,30}"
_LABEL = r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,20}"
BLOCKED_ENTRY = rf"^(?:{_LOCAL}@|@)?(?:{_LABEL}\.){{1,4}}[A-Za-z]{{2,20}}$"


class BlockedSenderIn(Input):
    intake: Address = Field(description="the intake address")
    entry: Annotated[str, StringConstraints(pattern=BLOCKED_ENTRY)] = Field(
        description="an address, or a domain: its subdomains are blocked too")


# --- routing rules --------------------------------------------------------------------------


class RuleOut(Schema):
    id: int
    position: int
    description: str
    enabled: bool
    match: MatchTypeValue
    match_value: str
    change_recipient: RewriteValue | None
    change_value: str | None
    bypass_spam: bool
    also_deliver: list[str]
    apply_to: str = Field(description="the account types it affects: users, groups, "
                                      "unrecognized (comma-separated)")
    action: RuleActionValue
    reject_text: str | None
    org_unit: str = Field(description="the organisational unit it is set at; / is the top")
    sender_list: str | None
    sender_list_mode: ListModeValue | None
    recipient_list: str | None
    recipient_list_mode: ListModeValue | None
    original_recipient_header: str | None
    spam_headers: bool
    custom_headers: list[tuple[str, str]]
    subject_prefix: str | None
    route: str | None
    remove_attachments: bool
    require_tls: bool
    rate_limit: int | None


ApplyTo = Annotated[str, StringConstraints(
    pattern=r"^(all|recognized|(users|groups|unrecognized)(,(users|groups|unrecognized)){0,2})$")]


class RuleIn(Input):
    match: MatchTypeValue
    match_value: _text(500) = Field("", description="the address or regular expression")  # type: ignore[valid-type]
    change_recipient: RewriteValue | None = None
    change_value: _text(320) = ""  # type: ignore[valid-type]
    also_deliver: list[Address] = Field(default_factory=list, max_length=50)
    bypass_spam: StrictBool = False
    apply_to: ApplyTo | None = Field(None, description="users, groups, unrecognized "
                                     "(comma-separated), or all / recognized")
    description: ShortText = ""
    enabled: StrictBool = True
    position: int | None = Field(None, ge=1, le=1_000_000)
    action: RuleActionValue = RuleAction.MODIFY
    reject_text: _text(300) = Field("", description="the SMTP reply's text for a reject")  # type: ignore[valid-type]
    org_unit: _text(500) = Field("", description="/Sales/EMEA; empty: the top level")  # type: ignore[valid-type]
    sender_list: _text(100) = ""  # type: ignore[valid-type]
    sender_list_mode: ListModeValue | None = None
    recipient_list: _text(100) = ""  # type: ignore[valid-type]
    recipient_list_mode: ListModeValue | None = None
    original_recipient_header: _text(76) = ""  # type: ignore[valid-type]
    spam_headers: StrictBool = False
    custom_headers: list[tuple[_text(76), _text(500)]] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=20)
    subject_prefix: _text(100) = ""  # type: ignore[valid-type]
    route: _text(100) = ""  # type: ignore[valid-type]
    remove_attachments: StrictBool = False
    require_tls: StrictBool = False
    rate_limit: int | None = Field(None, ge=1, le=1_000_000)


class SimulatedRule(Schema):
    id: int
    position: int
    match: str
    applied: bool
    changes: list[str]
    why_not: str | None = None
    overridden: str | None = None


class SimulatedTarget(Schema):
    address: str
    kind: str


class SimulationOut(Schema):
    recipient: str
    sender: str
    spam: bool
    recognized: bool = False
    rules: list[SimulatedRule]
    disposition: str
    reason: str
    final: list[SimulatedTarget]
    junk_folder: bool = False


class SimulationIn(Input):
    rcpt: Address = Field(description="the envelope recipient")
    sender: Address = ""
    spam: StrictBool = False


# --- triggers and macros --------------------------------------------------------------------


class DeskRuleIn(Input):
    """What a trigger and an automation are written with alike."""

    name: ShortText
    actions: list[dict[str, Any]] = Field(min_length=1, max_length=50, description=(
        'in order, each {KIND: value} (notify also takes "text")'))
    enabled: StrictBool = True
    description: _text(500) = ""  # type: ignore[valid-type]
    position: int | None = Field(None, ge=1, le=1_000_000, description="1 runs first")


class DeskRuleOut(Schema):
    id: int
    position: int
    name: str
    conditions: dict[str, list[dict[str, Any]]]
    actions: list[dict[str, Any]]
    enabled: bool
    description: str


class TriggerIn(DeskRuleIn):
    events: list[TriggerEventValue] = Field(min_length=1, max_length=10)
    conditions: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description='{"all": [...], "any": [...]}, each condition '
                                          '{"field": F, OPERATOR: value}')


class TriggerOut(DeskRuleOut):
    events: list[str]


class TriggerSimulationIn(Input):
    case: int = Field(ge=1, le=MAX_ID, description="the case number")
    event: TriggerEventValue = Field("customer_replied", description="the event to simulate")


class FiredTrigger(Schema):
    trigger: str
    event: str
    round: int = Field(description="0: the event itself; then each round of changes")
    changes: list[str] = Field(description="what it would change or do")


class TriggerSimulationOut(Schema):
    fired: list[FiredTrigger] = Field(description="in the order they would fire")
    stopped: list[str] = Field(description="those that would still run after the last round")


class AutomationIn(DeskRuleIn):
    conditions: dict[str, list[dict[str, Any]]] = Field(description=(
        '{"all": [...], "any": [...]}; all counts hours, such as {"field": '
        '"hours_since_status_changed", "at_least": 72}'))


class AutomationOut(DeskRuleOut):
    """An automation as the API shows it."""


class AutomationSimulationIn(Input):
    case: int = Field(ge=1, le=MAX_ID, description="the case number")
    now: AwareDatetime | None = Field(None, description="as if it were this time, with its "
                                                       "zone (default: now)")


class AutomationPreview(Schema):
    automation: str
    holds: bool = Field(description="its conditions hold for the case at that time")
    done_this_period: bool = Field(description="it acted on the case this period already")
    changes: list[str] = Field(description="what it would change or do")
    triggers: list[str] = Field(description="the triggers its changes would fire")


class MacroOut(Schema):
    id: int
    name: str
    owner: str | None = Field(description="the user whose macro it is; null: shared")
    actions: list[dict[str, Any]]
    reply: str


class MacroApplyIn(Input):
    case: int = Field(ge=1, le=MAX_ID, description="the case number")


class MacroAppliedOut(Schema):
    case: CaseOut
    changes: list[str] = Field(description="what the macro's actions changed or did")
    reply: MessageOut | None = Field(description="the reply it mailed, if it has one")
# --- saved views ----------------------------------------------------------------------------


class ViewFilters(Input):
    queue: CaseQueueValue = omittable(
        description="all (default), mine, unassigned or open (not solved or closed)")
    intake: Number = omittable(description="a case intake's number")
    status: CaseStatusValue = omittable()
    team: Team = omittable()
    q: _text(500) = omittable(  # type: ignore[valid-type]
        description="a search in the console's syntax (see /search)")
    sort: _text(20, f"^-?({'|'.join(CASE_SORTS)})$") = omittable(  # type: ignore[valid-type]
        description="a column, '-' first for descending (default -id)")


class ViewIn(Input):
    name: _text(100, NOT_BLANK) = Field(  # type: ignore[valid-type]
        description="the view's name")
    shared: StrictBool = Field(False, description="shown to everyone (needs the share views "
                                            "privilege) rather than to the caller alone")
    filters: ViewFilters = Field(default_factory=ViewFilters)


class ViewOut(Schema):
    id: int
    name: str
    owner: str | None = Field(description="the user whose view it is; null: shared")
    shared: bool
    filters: dict[str, Any] = Field(description="the filters that narrow or sort")
    count: int | None = Field(description="how many cases the caller sees in it (null: "
                                          "its intake is gone)")


# --- mailbox accounts -----------------------------------------------------------------------


class MailboxIn(Input):
    name: _text(100, rf"^[^\x00{WHITE_SPACE}]+$")  # type: ignore[valid-type]
    protocol: ProtocolValue
    server: _text(300) = Field(description="HOST or HOST:PORT (the protocol's port for tls"  # type: ignore[valid-type]
                                           " when none is given)")
    tls: TlsValue = Tls.IMPLICIT
    user: _text(320)  # type: ignore[valid-type]
    password_file: _text(1000) = Field("", description="a file on the casegate host holding"  # type: ignore[valid-type]
                                           " the password (the secret is never sent here)")
    oauth2_token_command: _text(2000) = Field("", description="a command on the casegate"  # type: ignore[valid-type]
                                                  " host that prints an OAuth2 access token")
    folder: _text(500) = "INBOX"  # type: ignore[valid-type]
    deliver_to: Address
    since: DateOrTime | None = Field(None, description="mail received before is not imported")
    after_fetch: _text(510) = Field("keep", description="keep, seen, delete or move:FOLDER")  # type: ignore[valid-type]


class SetAsideOut(Schema):
    key: str = Field(description="UIDVALIDITY:UID (IMAP) or the UIDL (POP3)")
    size: int
    reason: str
    at: str


class MailboxOut(Schema):
    name: str
    protocol: ProtocolValue
    host: str
    port: int
    tls: TlsValue
    user: str
    secret: Literal["password-file", "oauth2-token-command"]
    folder: str
    deliver_to: str
    since: str | None
    after_fetch: str
    state: Literal["new", "ok", "failing", "paused"]
    paused: bool
    last_success_at: str | None
    last_error: str
    last_error_at: str | None
    failures: int = Field(description="failed rounds since the last good one")
    next_attempt_at: str | None
    fetched: int
    set_aside: int
    set_aside_messages: list[SetAsideOut]


class WebhookIn(Input):
    name: _text(100)  # type: ignore[valid-type]
    url: _text(2000) = Field(description="http:// or https://")  # type: ignore[valid-type]
    events: list[TriggerEventValue] = Field(
        default_factory=list, max_length=10,
        description="the events it is sent; none: only triggers' webhook actions call it")


class WebhookPatch(Input):
    name: _text(100) = omittable()  # type: ignore[valid-type]
    url: _text(2000) = omittable()  # type: ignore[valid-type]
    events: list[TriggerEventValue] = omittable(max_length=10)


class WebhookPauseIn(Input):
    reason: _text(500) = ""  # type: ignore[valid-type]


class WebhookAttemptsQuery(Input):
    limit: int = Field(50, ge=1, le=500, description="at most this many, newest first")


class WebhookOut(Schema):
    id: int
    name: str
    url: str
    events: list[str]
    secret: str = Field(description="masked: only its end")
    paused: bool
    paused_at: str | None
    paused_reason: str
    failures: int = Field(description="failed attempts in a row")
    waiting: int = Field(description="events waiting to be sent")


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="the whole secret, shown this once")


class WebhookAttemptOut(Schema):
    id: int
    webhook: str
    event: str
    delivery: str
    at: str
    status: int | None = Field(description="the receiver's HTTP status; null: no answer")
    error: str
    seconds: float
    outcome: str
# --- SLA calendars and policies -------------------------------------------------------------


class SlaSetIn(Input):
    calendars: list[dict[str, Any]] = Field(default_factory=list, max_length=1000, description=(
        "each {name, timezone, hours: {mon: [\"09:00-17:00\"], ...}, holidays: [dates]}"))
    policies: list[dict[str, Any]] = Field(default_factory=list, max_length=1000, description=(
        "in the order they are tried, each {name, conditions: {intake, priority, company}, "
        "calendar, first_response, next_response, resolution, warning}"))


class SlaSetOut(Schema):
    calendars: list[dict[str, Any]]
    policies: list[dict[str, Any]]


class SlaImportOut(Schema):
    diff: str = Field(description="what changes, as a unified diff of the export")
    version: int | None = Field(description="the version recorded (none: nothing changed, or "
                                            "a dry run)")
    calendars: int
    policies: int


class VersionOut(Schema):
    version: int
    at: datetime
    actor: str
    summary: str


class RollbackIn(Input):
    version: int = Field(ge=0, le=MAX_ID, description="0: an empty set")


class RuleFileOut(Schema):
    text: str = Field(description="the set as YAML, as `casegate … export` prints it")


class RuleFileIn(Input):
    text: str = Field(max_length=1_000_000, description=(
        "the whole set as YAML (or JSON), as an export shows it; problems name its lines"))


class RuleImportOut(Schema):
    diff: str = Field(description="what changes, as a unified diff of the export")
    version: int | None = Field(description="the version recorded (none: nothing changed, or "
                                            "a dry run)")
    rules: int = Field(description="how many the set holds")
    notes: list[str] = Field(description="what is told only once, such as a new webhook's "
                                         "secret")
# --- intakes' and agents' settings ------------------------------------------------------------


class IntakeTextOut(Schema):
    kind: DeskTextValue
    language: str
    subject: str
    body: str


class IntakeOut(Schema):
    id: int
    address: str
    kind: IntakeKindValue
    name: str
    team: str | None
    acknowledge: bool
    survey: bool = Field(description="a satisfaction survey is mailed when a case is solved")
    signature: str = Field(description="under agents' replies when the agent has none")
    texts: list[IntakeTextOut] = Field(description="the texts the intake words itself; the "
                                                   "others are built in")


class IntakePatch(Input):
    survey: StrictBool = omittable(description="mail a satisfaction survey when a case is "
                                               "solved")
    signature: _text(2000) = omittable(  # type: ignore[valid-type]
        description="placeholders as in macros ('': none)")


class IntakeTextIn(Input):
    subject: _text(500) = Field("", description="default: the built-in subject")  # type: ignore[valid-type]
    body: _text(20_000) = Field(description="'' (or the built-in text): the built-in text again")  # type: ignore[valid-type]


class AgentOut(Schema):
    username: str
    email: str
    name: str
    teams: list[str]
    signature: str


class AgentPatch(Input):
    signature: _text(2000) = Field(  # type: ignore[valid-type]
        description="under the agent's replies, placeholders filled ('': the intake's)")
