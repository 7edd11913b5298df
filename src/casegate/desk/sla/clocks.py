"""The SLA clock of each case: which policy applies, when each target is due, when the
clock stands still, and the warnings and breaches it has to tell.

The first policy in order whose conditions hold for a new case applies (chosen again when
its priority changes before the first response). Its targets are counted in its
calendar's business time: the first response and the resolution from the case's creation,
the next response from each customer reply after an agent's. While the case is pending
(or solved, or closed) the clock stands still; when it goes on, every due time still ahead
is moved by the business time it stood still.

A case keeps, beside its due times, the earliest of them still running (``sla_due_at``,
for sorting) and the next instant a warning or a breach is to be told (``sla_alarm_at``),
so the clock job (:mod:`casegate.desk.sla.alarms`) finds what to tell with one indexed
read. The policies are compiled once per version of the set, like the triggers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from casegate.desk.models import Case, CaseEvent, Company, SlaPolicy, SlaVersion
from casegate.desk.sla.calendar import Calendar, add_business_time, business_time_between
from casegate.desk.sla.rules import compile_calendar, warning_lead
from casegate.desk.vocabulary import SLA_PAUSED_STATUSES, CaseStatus, SlaStage, SlaTarget

# What the clock sets on a case, and the case's fields whose change moves it.
CLOCK_FIELDS = ("sla_policy", "first_response_due_at", "next_response_due_at",
                "resolution_due_at", "sla_paused_at", "sla_due_at", "sla_alarm_at",
                "sla_fired")
CLOCK_MOVERS = frozenset({"status", "priority", "first_response_due_at"})
HISTORY_FIELD = "sla"  # the history's field for what the clock did

VersionKey = tuple[int, datetime] | None


def due_field(target: str) -> str:
    return f"{target}_due_at"


def marker(target: str, stage: str) -> str:
    """How ``sla_fired`` notes that a target's warning or breach was told."""
    return f"{target}:{stage}"


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy ready to time cases; a condition of None holds for every case."""

    id: int
    name: str
    intakes: frozenset[str] | None
    priorities: frozenset[str] | None
    companies: frozenset[str] | None
    calendar: Calendar | None
    targets: dict[str, timedelta]
    warning: str

    @property
    def actor(self) -> str:
        """How the case's history names the policy."""
        return f"sla:{self.name}"

    def matches(self, intake: str, priority: str, company: Callable[[], str]) -> bool:
        return ((self.intakes is None or intake in self.intakes)
                and (self.priorities is None or priority in self.priorities)
                and (self.companies is None or company() in self.companies))

    def due(self, start: datetime, amount: timedelta) -> datetime:
        return add_business_time(self.calendar, start, amount)


def compile_policy(policy: SlaPolicy) -> CompiledPolicy:
    def condition(key: str) -> frozenset[str] | None:
        values = policy.conditions.get(key)
        return frozenset(values) if values else None

    calendar = policy.calendar
    return CompiledPolicy(
        policy.pk, policy.name, condition("intake"), condition("priority"),
        condition("company"),
        compile_calendar(calendar.timezone, calendar.hours, calendar.holidays)
        if calendar is not None else None,
        {target: timedelta(minutes=minutes) for target in SlaTarget.values
         if (minutes := getattr(policy, f"{target}_minutes"))},
        policy.warning)


@dataclass(frozen=True)
class Policies:
    version: VersionKey
    ordered: tuple[CompiledPolicy, ...]

    def by_id(self, pk: int | None) -> CompiledPolicy | None:
        return next((p for p in self.ordered if p.id == pk), None) if pk else None

    def choose(self, case: Case) -> CompiledPolicy | None:
        """The first policy whose conditions hold for ``case``; its company is read only
        when a policy asks."""
        known: list[str] = []

        def company() -> str:
            if not known:
                known.append(_company(case))
            return known[0]

        return next((p for p in self.ordered
                     if p.matches(case.intake.address, case.priority, company)), None)


def _company(case: Case) -> str:
    contact = case.contact if case.contact_id is not None else None
    if contact is None or contact.company_id is None:
        return ""
    return Company.objects.filter(pk=contact.company_id).values_list(
        "domain", flat=True).first() or ""


_loaded: list[Policies] = []


def current_policies() -> Policies:
    """The policies as they are now, compiled again only when they changed."""
    latest = SlaVersion.objects.order_by("-number").values_list("number", "created_at").first()
    if _loaded and _loaded[0].version == latest:
        return _loaded[0]
    policies = Policies(latest, tuple(
        compile_policy(p) for p in SlaPolicy.objects.select_related("calendar")
        .order_by("position", "id")))
    _loaded[:] = [policies]
    return policies


def _event(case: Case, after: str, actor: str, before: str = "") -> CaseEvent:
    return CaseEvent(case=case, field=HISTORY_FIELD, before=before, after=after,
                     actor=actor[:150], at=timezone.now())


# The targets' due times, and what the clock job looks for.

def running(case: Case) -> dict[str, datetime]:
    """The due time of each target the clock is counting now (none while it stands still)."""
    if case.sla_paused_at is not None:
        return {}
    dues = {target: getattr(case, due_field(target)) for target in SlaTarget.values}
    if case.first_responded_at is not None:
        dues.pop(SlaTarget.FIRST_RESPONSE)
    return {target: due for target, due in dues.items() if due is not None}


def alarms(case: Case, policy: CompiledPolicy | None) -> Iterator[tuple[str, str, datetime]]:
    """(target, stage, instant) of each warning and breach of the running targets not told
    yet. A case with no policy (its own due time, or its policy removed) only breaches."""
    for target, due in running(case).items():
        amount = policy.targets.get(target) if policy else None
        lead = warning_lead(policy.warning, amount) if policy and amount else None
        stages = [(SlaStage.BREACH, due)]
        if lead is not None:
            assert policy is not None
            stages.insert(0, (SlaStage.WARNING, add_business_time(policy.calendar, due, -lead)))
        for stage, at in stages:
            if marker(target, stage) not in case.sla_fired:
                yield target, stage, at


def schedule(case: Case, policy: CompiledPolicy | None) -> None:
    """The case's earliest running due time and its next alarm, from its due times."""
    case.sla_due_at = min(running(case).values(), default=None)
    case.sla_alarm_at = min((at for _, _, at in alarms(case, policy)), default=None)


def _due_again(case: Case, target: str) -> None:
    """A target timed anew: its warning and breach are to be told again."""
    case.sla_fired = [m for m in case.sla_fired if not m.startswith(f"{target}:")]


def _met(case: Case, target: str, now: datetime) -> None:
    """A target met: late, it counts as breached (the breach is not told any more)."""
    due = getattr(case, due_field(target))
    if due is not None and due < now and case.sla_paused_at is None \
            and marker(target, SlaStage.BREACH) not in case.sla_fired:
        case.sla_fired = [*case.sla_fired, marker(target, SlaStage.BREACH)]


def breached(case: Case) -> list[str]:
    """The targets of the case that were breached (for the running ones: so far)."""
    now = timezone.now()
    late = {t for t, due in running(case).items() if due <= now}
    return [t for t in SlaTarget.values
            if t in late or marker(t, SlaStage.BREACH) in case.sla_fired]


# The events that move the clock.

def start(case: Case, now: datetime, policies: Policies) -> CaseEvent | None:
    """A new case (not saved yet): its policy, its first-response and resolution due
    times; the history entry naming the policy."""
    policy = policies.choose(case)
    if policy is None:
        return None
    _apply(case, policy, now)
    return _event(case, policy.name, policy.actor)


def _apply(case: Case, policy: CompiledPolicy, since: datetime,
           stood: timedelta = timedelta(0)) -> None:
    """``policy``'s targets counted from ``since``, later by the business time ``stood``
    (the clock's pauses so far)."""
    case.sla_policy_id = policy.id
    for target in (SlaTarget.FIRST_RESPONSE, SlaTarget.RESOLUTION):
        amount = policy.targets.get(target)
        due = policy.due(since, amount) if amount else None
        if due is not None and stood:
            due = add_business_time(policy.calendar, due, stood)
        setattr(case, due_field(target), due)
        _due_again(case, target)
    if case.next_response_due_at is not None and SlaTarget.NEXT_RESPONSE not in policy.targets:
        case.next_response_due_at = None
    schedule(case, policy)


def agent_replied(case: Case, now: datetime) -> None:
    """A public reply: the first response (``first_responded_at``, set by the caller) and
    the next response are met."""
    policy = current_policies().by_id(case.sla_policy_id)
    if case.first_responded_at == now:
        _met(case, SlaTarget.FIRST_RESPONSE, now)
    if case.next_response_due_at is not None:
        _met(case, SlaTarget.NEXT_RESPONSE, now)
        case.next_response_due_at = None
    schedule(case, policy)


def customer_replied(case: Case, now: datetime) -> bool:
    """A customer's reply after an agent's starts the next-response target (the first
    response covers the ones before it); True when the clock moved."""
    policy = current_policies().by_id(case.sla_policy_id)
    amount = policy.targets.get(SlaTarget.NEXT_RESPONSE) if policy else None
    if policy is None or amount is None or case.first_responded_at is None \
            or case.next_response_due_at is not None:
        return False
    case.next_response_due_at = policy.due(now, amount)
    _due_again(case, SlaTarget.NEXT_RESPONSE)
    schedule(case, policy)
    return True


def fields_changed(case: Case, before: dict[str, object], now: datetime) -> list[CaseEvent]:
    """A person, a trigger or a macro changed ``before``'s fields (their values before):
    the clock stops or goes on with the status, and the policy is chosen again with the
    priority. The history entries of what the clock did."""
    policies = current_policies()
    policy = policies.by_id(case.sla_policy_id)
    events = []
    if "status" in before:
        was_paused = before["status"] in SLA_PAUSED_STATUSES
        paused = case.status in SLA_PAUSED_STATUSES
        if paused and not was_paused:
            if case.status in (CaseStatus.SOLVED, CaseStatus.CLOSED):
                for target in running(case):
                    _met(case, target, now)
                # Solved, it owes no reply: the customer's next message starts a new one.
                case.next_response_due_at = None
            case.sla_paused_at = now
        elif was_paused and not paused and case.sla_paused_at is not None:
            _go_on(case, policy, now)
    if "first_response_due_at" in before:  # set by a person: told again when it comes
        _due_again(case, SlaTarget.FIRST_RESPONSE)
    # Only a timed case is timed again: old mail and tests stay untimed.
    if "priority" in before and policy is not None and case.first_responded_at is None:
        chosen = policies.choose(case)
        if chosen is not None and chosen.id != case.sla_policy_id:
            events.append(_event(case, chosen.name, chosen.actor,
                                 before=policy.name if policy else ""))
            stood = _time_stood(case, policy, chosen.calendar)
            policy = chosen
            _apply(case, chosen, case.created_at, stood)
    schedule(case, policy)
    return events


def _time_stood(case: Case, policy: CompiledPolicy | None, hours: Calendar | None
                ) -> timedelta:
    """The time the clock of ``case`` stood still so far (solved, pending), in business
    time of ``hours``: how much later than counted from its creation its running target is
    due. In other hours than the policy's it is read over the span the due time moved, which
    is as long as the pauses in the policy's own hours."""
    if policy is None:
        return timedelta(0)
    # The longest: a target already late when the clock stopped was not moved.
    return max((business_time_between(hours, policy.due(case.created_at, amount), due)
                for target in (SlaTarget.FIRST_RESPONSE, SlaTarget.RESOLUTION)
                if (amount := policy.targets.get(target))
                and (due := getattr(case, due_field(target))) is not None),
               default=timedelta(0))


def _go_on(case: Case, policy: CompiledPolicy | None, now: datetime) -> None:
    paused_at = case.sla_paused_at
    assert paused_at is not None
    case.sla_paused_at = None
    calendar = policy.calendar if policy else None
    stood = business_time_between(calendar, paused_at, now)
    for target, due in running(case).items():
        if due > paused_at:
            setattr(case, due_field(target), add_business_time(calendar, due, stood))
