"""The automations' pass, which the worker's clock runs: each enabled automation, in order,
acts on the cases whose conditions hold at that time, once a period.

A case's period for an automation is the latest of the times its ``at_least`` conditions
count hours from (the status changed, the customer wrote, …): when that time moves, a new
period begins. Each action taken is remembered (:class:`~casegate.desk.models.AutomationRun`,
unique by automation, case and period), so a second pass, or a second worker, finds it and
leaves the case alone.

The cases are found in SQL: the hours, the status, the priority and the intake of ``all``
filter them, and the cases acted on this period are left out. The candidates are then
locked a chunk at a time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a case another worker
holds is left to it), read again, and every condition is checked on what was read, so what
changed since the query counts. The actions are the triggers' and are in the case's history
under the automation's name; the triggers then run on the fields they changed, and the
webhooks subscribed to ``field_changed`` are told, as for a person's change.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import Combinable, Expression
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from casegate.config import get_config
from casegate.desk.automation.actions import Acting, Deferred
from casegate.desk.automation.engine import Index, Outcome, current_index, run_triggers
from casegate.desk.automation.facts import Facts
from casegate.desk.automation.rules import (
    CompiledAutomation,
    FactValue,
    compile_automation,
)
from casegate.desk.automation.vocabulary import (
    ConditionField,
    Operator,
    TimeField,
    TimeOperator,
    TriggerEvent,
)
from casegate.desk.changes import DeskError
from casegate.desk.models import Automation, AutomationRun, Case, DeskMessage, WebhookCall
from casegate.desk.vocabulary import Direction
from casegate.desk.webhooks.outbox import Subscribers, subscribers
from casegate.routing.engine import RoutingTable
from casegate.routing.snapshot import load_table
from casegate.spool.messages import AcceptedMessage, enqueue

log = logging.getLogger("casegate.desk")
_TIMES = frozenset(TimeField.values)

CHUNK = 200  # cases locked and acted on in one transaction


def _latest(direction: str) -> Expression:
    messages = DeskMessage.objects.filter(case=OuterRef("pk"), direction=direction)
    if direction == Direction.INBOUND:
        messages = messages.filter(automated="")  # an out-of-office is not the customer
    return Coalesce(Subquery(messages.order_by("-created_at").values("created_at")[:1]),
                    "created_at")


# Where each time an automation counts hours from is read; a case with no such message
# counts from its creation.
_SINCE: dict[str, Callable[[], Combinable]] = {
    TimeField.CREATED: lambda: F("created_at"),
    TimeField.UPDATED: lambda: Coalesce("updated_at", "created_at"),
    TimeField.STATUS_CHANGED: lambda: Coalesce("status_changed_at", "created_at"),
    TimeField.CUSTOMER_MESSAGE: lambda: _latest(Direction.INBOUND),
    TimeField.AGENT_REPLY: lambda: _latest(Direction.OUTBOUND),
}


def _since(time_field: str) -> str:
    return f"since_{time_field}"


def _with_times(cases: QuerySet[Case], fields: tuple[str, ...]) -> QuerySet[Case]:
    return cases.annotate(**{_since(f): _SINCE[f]() for f in fields})


# The fields whose conditions SQL compares exactly as the engine does (their values are
# stored lower-cased); the others are checked on the candidates only.
_COLUMNS = {ConditionField.STATUS: "status", ConditionField.PRIORITY: "priority",
            ConditionField.INTAKE: "intake__address"}


def _narrowed(cases: QuerySet[Case], condition: dict[str, Any], now: datetime
              ) -> QuerySet[Case]:
    name = condition["field"]
    if name in _TIMES:
        [(operator, hours)] = [(k, v) for k, v in condition.items() if k != "field"]
        cutoff = now - timedelta(hours=hours)
        lookup = "lte" if operator == TimeOperator.AT_LEAST else "gt"
        return cases.filter(**{f"{_since(name)}__{lookup}": cutoff})
    column = _COLUMNS.get(name)
    if column is None:
        return cases
    for operator in (Operator.IS, Operator.IS_NOT):
        if operator in condition:
            value = condition[operator]
            values = [v.lower() for v in (value if isinstance(value, list) else [value])]
            wanted = Q(**{f"{column}__in": values})
            return cases.filter(wanted) if operator == Operator.IS else cases.exclude(wanted)
    return cases


def _period(automation: CompiledAutomation) -> Combinable:
    times = [F(_since(f)) for f in automation.period_times]
    return times[0] if len(times) == 1 else Greatest(*times)


def candidates(automation: CompiledAutomation, now: datetime) -> list[int]:
    """The cases the automation may act on at ``now``, found in SQL: a superset of those
    whose conditions hold, without those acted on this period."""
    cases = _with_times(Case.objects.all(), automation.times)
    for condition in automation.conditions["all"]:
        cases = _narrowed(cases, condition, now)
    ran = AutomationRun.objects.filter(automation_id=automation.id, case=OuterRef("pk"),
                                       period=OuterRef("period"))
    cases = cases.annotate(period=_period(automation)).filter(~Exists(ran))
    return list(cases.order_by("pk").values_list("pk", flat=True))


@dataclass
class CaseFacts:
    """What an automation's conditions read about a case at ``now``: the hours since the
    times read with it, and the rest as the triggers read it."""

    case: Case
    now: datetime
    facts: Facts = field(init=False)

    def __post_init__(self) -> None:
        self.facts = Facts(self.case, "")

    def since(self, time_field: str) -> datetime:
        value: datetime = getattr(self.case, _since(time_field))
        return value

    def __call__(self, name: str) -> FactValue:
        if name in _TIMES:
            return (self.now - self.since(name)).total_seconds() / 3600
        return self.facts(name)


def automation_actor(automation: CompiledAutomation) -> str:
    """How the case's history names an automation."""
    return f"automation:{automation.name}"


def enabled_automations() -> list[CompiledAutomation]:
    return [compile_automation(a.pk, a.name, a.conditions, a.actions)
            for a in Automation.objects.filter(enabled=True).order_by("position", "id")]


@dataclass
class Pass:
    """One pass of the automations at ``now``, with the triggers' ``index`` and the webhooks'
    ``hooks`` as they were when it began; the routing table is read when a case is first
    acted on."""

    now: datetime
    hostname: str
    index: Index
    hooks: Subscribers
    acted: dict[str, int] = field(default_factory=dict)
    _table: RoutingTable | None = None

    def table(self) -> RoutingTable:
        if self._table is None:
            self._table = load_table()
        return self._table

    def run(self, automation: CompiledAutomation) -> int:
        found = candidates(automation, self.now)
        count = sum(self._act(automation, found[start:start + CHUNK])
                    for start in range(0, len(found), CHUNK))
        self.acted[automation.name] = count
        if count:
            log.info("automation=%r candidates=%d acted=%d", automation.name, len(found), count)
        return count

    def _act(self, automation: CompiledAutomation, chunk: list[int]) -> int:
        with transaction.atomic():
            cases = list(_with_times(
                Case.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("intake", "assignee").filter(pk__in=chunk),
                automation.times).order_by("pk"))
            ran = set(AutomationRun.objects.filter(
                automation_id=automation.id, case_id__in=[c.pk for c in cases])
                .values_list("case_id", "period"))
            due: list[tuple[Case, datetime]] = []
            for case in cases:
                facts = CaseFacts(case, self.now)
                period = max(facts.since(f) for f in automation.period_times)
                if (case.pk, period) not in ran and automation.matches(facts):
                    due.append((case, period))
            if not due:
                return 0
            AutomationRun.objects.bulk_create(
                [AutomationRun(automation_id=automation.id, case=case, period=period,
                               at=self.now) for case, period in due], ignore_conflicts=True)
            deferred = Deferred()
            outgoing: list[AcceptedMessage] = []
            calls: list[WebhookCall] = []
            for case, _period in due:
                outcome = self._apply(automation, case, deferred)
                outgoing += outcome.outgoing
                calls += outcome.calls
            deferred.save()
            WebhookCall.objects.bulk_create(calls)
            if outgoing:
                enqueue(outgoing)
            return len(due)

    def _apply(self, automation: CompiledAutomation, case: Case, deferred: Deferred
               ) -> Outcome:
        """The automation's actions on ``case``, then the triggers and the webhooks of the
        fields they changed: the mail to queue and the webhooks' events to save."""
        acting = Acting(case, automation_actor(automation), self.table(), self.hostname,
                        deferred=deferred)
        for action in automation.actions:
            acting.apply(action)
        acting.finish()
        if not acting.changed:
            return Outcome(outgoing=acting.outgoing)
        outcome = run_triggers(case, TriggerEvent.FIELD_CHANGED, self.table(), self.hostname,
                               changed=frozenset(acting.changed), index=self.index,
                               deferred=deferred, hooks=self.hooks)
        outcome.outgoing[:0] = acting.outgoing
        return outcome


def run_automations(now: datetime | None = None) -> dict[str, int]:
    """Run every enabled automation, in order, at ``now`` (default: the present); how many
    cases each acted on."""
    automations = enabled_automations()
    if not automations:
        return {}
    run = Pass(now or timezone.now(), get_config().hostname, current_index(), subscribers())
    for automation in automations:
        run.run(automation)
    return run.acted


@dataclass(frozen=True)
class Preview:
    """What an automation would do to a case at a time: whether its conditions hold, whether
    it acted this period already, and what it and the triggers after it would change."""

    automation: str
    holds: bool
    done_this_period: bool
    changes: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"automation": self.automation, "holds": self.holds,
                "done_this_period": self.done_this_period, "changes": list(self.changes),
                "triggers": list(self.triggers)}


def preview(case_id: int, now: datetime | None = None) -> list[Preview]:
    """Each enabled automation on the case at ``now``; nothing is saved or sent."""
    now = now or timezone.now()
    found = _with_times(Case.objects.select_related("intake", "assignee").filter(pk=case_id),
                        tuple(TimeField.values)).first()
    if found is None:
        raise DeskError(f"there is no case {case_id}")
    case = copy.copy(found)
    hostname = get_config().hostname
    shown = []
    for automation in enabled_automations():
        facts = CaseFacts(case, now)
        period = max(facts.since(f) for f in automation.period_times)
        done = AutomationRun.objects.filter(automation_id=automation.id, case=found,
                                            period=period).exists()
        if done or not automation.matches(facts):
            shown.append(Preview(automation.name, automation.matches(facts), done))
            continue
        acting = Acting(case, automation_actor(automation), None, hostname, dry=True)
        for action in automation.actions:
            acting.apply(action)
        fired = run_triggers(case, TriggerEvent.FIELD_CHANGED, None, hostname,
                             changed=frozenset(acting.changed), dry=True).fired \
            if acting.changed else []
        shown.append(Preview(automation.name, True, False, tuple(acting.done),
                             tuple(f"{f.trigger}: {'; '.join(f.done) or 'nothing'}"
                                   for f in fired)))
    return shown


def describe(previews: list[Preview]) -> str:
    if not previews:
        return "no automation is enabled"
    lines = []
    for number, shown in enumerate(previews, start=1):
        state = ("acted on it this period already" if shown.done_this_period
                 else "would act" if shown.holds else "its conditions do not hold")
        lines.append(f"{number}. {shown.automation}: {state}")
        lines += [f"   {change}" for change in shown.changes]
        lines += [f"   then trigger {fired}" for fired in shown.triggers]
    return "\n".join(lines)
