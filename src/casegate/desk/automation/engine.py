"""Running the triggers of an event on a case.

The enabled triggers are compiled once per version of the set (one indexed read tells
whether it moved) and filed by event, then by the intake an ``intake is`` condition of
their ``all`` names: an event only looks at the triggers of its kind for its intake and
those for any intake, so a thousand triggers spread over intakes and events cost about
what one costs.

An event runs its triggers in order; each fires at most once for it and sees the changes
of those before it. The fields the triggers changed are one ``field_changed`` event for
the triggers after them, and so on, at most :data:`MAX_DEPTH` times: when triggers would
still fire after that, the desk stops and says so in the case's history, so two triggers
undoing each other cannot loop.

Every change of a case's status passes here as a ``field_changed`` event (a person's, a
macro's or a trigger's), so this is also where a case just solved gets its satisfaction
survey (:mod:`casegate.desk.surveys`), its mail with the triggers'.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from datetime import datetime

from casegate.config import get_config
from casegate.desk.automation.actions import Acting, Deferred
from casegate.desk.automation.facts import EventMessage, Facts
from casegate.desk.automation.rules import CompiledTrigger, compile_trigger
from casegate.desk.automation.vocabulary import ConditionField, TriggerEvent
from casegate.desk.changes import case_event
from casegate.desk.models import Case, Trigger, TriggerVersion, WebhookCall
from casegate.desk.surveys import survey_on_solve
from casegate.desk.vocabulary import CaseStatus
from casegate.desk.webhooks.outbox import Subscribers, subscribers
from casegate.routing.engine import RoutingTable
from casegate.spool.messages import AcceptedMessage, enqueue

log = logging.getLogger("casegate.desk")

# How many rounds of changes triggers may cause after the event that started them.
MAX_DEPTH = 5
STOPPED = "triggers"  # the history's field for a chain of triggers stopped at MAX_DEPTH

ByIntake = dict[str, tuple[CompiledTrigger, ...]]
VersionKey = tuple[int, datetime] | None


@dataclass(frozen=True)
class Index:
    """The enabled triggers of one version, by event, then by intake (``general``: those for
    any intake, which every intake's list includes, in order)."""

    version: VersionKey
    by_event: dict[str, tuple[ByIntake, tuple[CompiledTrigger, ...]]]

    def candidates(self, event: str, intake: str) -> tuple[CompiledTrigger, ...]:
        found = self.by_event.get(event)
        if found is None:
            return ()
        by_intake, general = found
        return by_intake.get(intake, general)


def build_index(version: VersionKey, triggers: list[CompiledTrigger]) -> Index:
    by_event: dict[str, tuple[ByIntake, tuple[CompiledTrigger, ...]]] = {}
    for event in TriggerEvent.values:
        listening = [t for t in triggers if event in t.events]
        if not listening:
            continue
        general = tuple(t for t in listening if t.intakes is None)
        intakes = {i for t in listening if t.intakes is not None for i in t.intakes}
        by_intake = {intake: tuple(t for t in listening
                                   if t.intakes is None or intake in t.intakes)
                     for intake in intakes}
        by_event[event] = (by_intake, general)
    return Index(version, by_event)


_loaded: list[Index] = []


def current_index() -> Index:
    """The index of the triggers as they are now, compiled again only when they changed."""
    latest = TriggerVersion.objects.order_by("-number").values_list(
        "number", "created_at").first()
    if _loaded and _loaded[0].version == latest:
        return _loaded[0]
    index = build_index(latest, [
        compile_trigger(t.pk, t.name, t.position, t.events, t.conditions, t.actions)
        for t in Trigger.objects.filter(enabled=True).order_by("position", "id")])
    _loaded[:] = [index]
    return index


@dataclass(frozen=True)
class Fired:
    """A trigger that fired: on which event, how deep in the chain, what it did."""

    trigger: str
    event: str
    depth: int
    done: tuple[str, ...]


@dataclass
class Outcome:
    fired: list[Fired] = field(default_factory=list)
    outgoing: list[AcceptedMessage] = field(default_factory=list)
    calls: list[WebhookCall] = field(default_factory=list)  # the webhooks' events, to save
    stopped: tuple[str, ...] = ()


def trigger_actor(trigger: CompiledTrigger) -> str:
    """How the case's history names a trigger."""
    return f"trigger:{trigger.name}"


def run_triggers(case: Case, event: str, table: RoutingTable | None, hostname: str,
                 message: EventMessage | None = None, changed: frozenset[str] = frozenset(),
                 index: Index | None = None, dry: bool = False,
                 deferred: Deferred | None = None, hooks: Subscribers | None = None
                 ) -> Outcome:
    """Run the triggers of ``event`` on ``case`` and those their changes fire. With ``dry``
    nothing is saved or sent (the case is a copy): the outcome says what would happen. With
    ``deferred``, the case changes are left to it to save. The events for the webhooks
    subscribed to each event (``hooks``, read now if None) are in the outcome, to save."""
    index = index or current_index()
    if dry:
        case = copy.copy(case)
    elif hooks is None:
        hooks = subscribers()
    outcome = Outcome()
    intake = case.intake.address
    origin = message
    pending: tuple[str, EventMessage | None, frozenset[str]] | None = (event, message, changed)
    depth = 0
    while pending is not None:
        event, message, changed = pending
        facts = Facts(case, event, message, changed)
        candidates = index.candidates(event, intake)
        if hooks is not None:
            outcome.calls += hooks.calls(case, event, message, changed)
        if depth > MAX_DEPTH:
            outcome.stopped = tuple(t.name for t in candidates if t.matches(facts))
            if outcome.stopped and not dry:
                _stop(case, outcome.stopped)
            break
        now_changed: set[str] = set()
        for trigger in candidates:
            if not trigger.matches(facts):
                continue
            acting = Acting(case, trigger_actor(trigger), table, hostname, message, dry,
                            deferred, event, changed, origin)
            for action in trigger.actions:
                acting.apply(action)
            acting.finish()
            outcome.fired.append(Fired(trigger.name, event, depth, tuple(acting.done)))
            outcome.outgoing += acting.outgoing
            if acting.changed:
                facts.forget_case_fields()
                now_changed |= acting.changed
            if not dry:
                log.info("case=%s trigger=%r event=%s depth=%d did=%d", case.pk, trigger.name,
                         event, depth, len(acting.done))
        if not dry and event == TriggerEvent.FIELD_CHANGED and _solved(case, changed):
            survey = survey_on_solve(case, table, hostname)
            if survey is not None:
                outcome.outgoing.append(survey)
        pending = (TriggerEvent.FIELD_CHANGED, None, frozenset(now_changed)) \
            if now_changed else None
        depth += 1
    return outcome


def _solved(case: Case, changed: frozenset[str]) -> bool:
    """The change solved the case (the status may have moved on within the round)."""
    return ConditionField.STATUS in changed and case.status == CaseStatus.SOLVED


def _stop(case: Case, names: tuple[str, ...]) -> None:
    text = (f"stopped after {MAX_DEPTH} rounds of changes made by triggers; "
            f"would have run again: {', '.join(names)}")
    case_event(case, STOPPED, "", text, "triggers").save()
    log.warning("case=%s triggers=stopped depth=%d would_run=%r", case.pk, MAX_DEPTH,
                ", ".join(names))


def run_after_change(case: Case, event: str, message: EventMessage | None = None,
                     changed: frozenset[str] = frozenset()) -> Outcome:
    """Run the triggers for a change made from the console, the API or the command line,
    and queue their mail and the webhooks' events, inside the caller's transaction."""
    outcome = run_triggers(case, event, None, get_config().hostname, message, changed)
    if outcome.outgoing:
        enqueue(outcome.outgoing)
    WebhookCall.objects.bulk_create(outcome.calls)
    return outcome
