"""What a trigger's or a macro's actions do to a case, each recorded in its history under
the trigger's or the macro's name.

Mail an action sends goes through the delivery queue like the acknowledgements: a reply to
the requester from the address they wrote to, with the null envelope sender and
``Auto-Submitted: auto-replied``, never to automated mail, the null sender or our own
addresses, and within ``CASEGATE_ACK_LIMIT`` automatic messages a sender an hour; a
notification with ``Auto-Submitted: auto-generated``. With ``dry`` nothing is saved or
sent: the actions only say what they would do (the simulator).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.utils import timezone

from casegate.config import get_config
from casegate.desk.automation.facts import EventMessage
from casegate.desk.automation.rules import fill_placeholders
from casegate.desk.automation.vocabulary import ActionKind, NotifyTarget
from casegate.desk.changes import CASE_FIELDS, STAMPS, DeskError, case_event, change_fields
from casegate.desk.models import (
    Agent,
    Case,
    CaseEvent,
    DeskMessage,
    Lead,
    TeamRotation,
    Webhook,
    WebhookCall,
)
from casegate.desk.outgoing import about, reply_subject, tag_of
from casegate.desk.sla.clocks import CLOCK_FIELDS, CLOCK_MOVERS
from casegate.desk.vocabulary import CaseStatus, Direction
from casegate.desk.webhooks.outbox import event_body, webhook_call
from casegate.routing.engine import RoutingTable
from casegate.routing.snapshot import load_table
from casegate.spool.messages import AcceptedMessage, generated_message

UNSOLVED = (CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING)
_KINDS = frozenset(ActionKind.values)


def placeholder_values(conversation: Case | Lead, agent_user: Any) -> dict[str, str]:
    """What the placeholders of a reply stand for; ``agent`` is the one applying a macro, or
    the assignee for a trigger's reply. ``{{agent.signature}}`` is the agent's signature
    with its own placeholders filled (else their name)."""
    tag = tag_of(conversation) if conversation.pk else ""
    values = {
        "requester.name": conversation.requester_name or conversation.requester,
        "requester.email": conversation.requester, "case.number": tag.strip("[]#"),
        "case.tag": tag, "case.id": str(conversation.pk or ""),
        "case.subject": conversation.subject, "case.status": conversation.status,
        "case.priority": getattr(conversation, "priority", ""),
        "case.team": getattr(conversation, "team", ""),
        "agent.name": "", "agent.email": "", "agent.signature": "",
    }
    if agent_user is not None:
        name = agent_user.get_full_name() or agent_user.get_username()
        signature = Agent.objects.filter(user=agent_user).values_list(
            "signature", flat=True).first()
        values.update({"agent.name": name, "agent.email": agent_user.email})
        values["agent.signature"] = fill_placeholders(signature, values) if signature else name
    return values


def _team_agents(team: str) -> list[Agent]:
    """The active agents of ``team``, in a stable order (by user number)."""
    return [agent for agent in Agent.objects.filter(user__is_active=True)
            .select_related("user").order_by("user_id") if team in agent.teams]


@dataclass
class Deferred:
    """The case changes of many triggers, saved together (a batch being filed): the cases in
    one update, their history and their audit log entries in one insert each, instead of
    some queries for every trigger that acts."""

    cases: dict[int, Case] = field(default_factory=dict)
    fields: set[str] = field(default_factory=set)
    events: list[CaseEvent] = field(default_factory=list)
    audit: list[tuple[Case, str, dict[str, list[str]]]] = field(default_factory=list)
    stamped: dict[int, set[str]] = field(default_factory=dict)  # a case's times of change

    def keep(self, acting: Acting) -> None:
        if acting.changed:
            assert acting.case.pk is not None
            self.cases[acting.case.pk] = acting.case
            self.fields |= acting.changed
            self.stamped.setdefault(acting.case.pk, set()).update(
                STAMPS[name] for name in acting.changed if name in STAMPS)
            self.audit.append((acting.case, acting.actor, {
                e.field: [e.before, e.after] for e in acting.events
                if e.field in acting.changed}))
        self.events += acting.events

    def save(self) -> None:
        from auditlog.models import LogEntry
        from django.contrib.contenttypes.models import ContentType

        self._save_cases()
        CaseEvent.objects.bulk_create(self.events)
        if self.audit:
            kind = ContentType.objects.get_for_model(Case)
            LogEntry.objects.bulk_create([LogEntry(
                content_type=kind, object_pk=str(case.pk), object_id=case.pk,
                object_repr=str(case), action=LogEntry.Action.UPDATE, changes=changes,
                additional_data={"by": actor}, timestamp=timezone.now())
                for case, actor, changes in self.audit])
        self.cases, self.fields, self.events, self.audit = {}, set(), [], []
        self.stamped = {}

    def _save_cases(self) -> None:
        """One update for each set of values (the same trigger gives many cases the same
        ones), where Django's ``bulk_update`` spends milliseconds building expressions."""
        attnames = {f.name: f.attname for f in Case._meta.concrete_fields}
        fields = self.fields | set(CLOCK_FIELDS) if CLOCK_MOVERS & self.fields else self.fields
        fields |= {STAMPS[name] for name in fields if name in STAMPS}
        columns = sorted(attnames[name] for name in fields)
        now = timezone.now()
        alike: dict[str, list[Case]] = {}
        for case in self.cases.values():
            # A change's time is the save's, as ``updated_at`` is, so that alike stay alike;
            # only the cases whose status changed get a new one.
            for stamp in self.stamped.get(case.pk, ()):
                setattr(case, stamp, now)
            values = json.dumps([getattr(case, column) for column in columns], default=str)
            alike.setdefault(values, []).append(case)
        for cases in alike.values():
            Case.objects.filter(pk__in=[case.pk for case in cases]).update(
                updated_at=now, **{column: getattr(cases[0], column) for column in columns})


@dataclass
class Acting:
    """One trigger or macro acting on ``case`` as ``actor`` (the name its history shows).
    ``message``: the one its event is about, if any; ``event`` and ``event_changed``: the
    trigger's event and the fields it changed. Collects the history (``events``), the mail to
    queue (``outgoing``), the webhooks' events (``calls``), what each action did (``done``)
    and the fields changed."""

    case: Case
    actor: str
    table: RoutingTable | None
    hostname: str
    message: EventMessage | None = None
    dry: bool = False
    deferred: Deferred | None = None
    event: str = ""
    event_changed: frozenset[str] = frozenset()
    # The message the chain of triggers began with: a trigger fired by another's change
    # has no message of its own, and must not answer an auto-responder either.
    origin: EventMessage | None = None
    events: list[CaseEvent] = field(default_factory=list)
    calls: list[WebhookCall] = field(default_factory=list)
    outgoing: list[AcceptedMessage] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)

    def apply(self, action: dict[str, Any]) -> None:
        [kind] = [key for key in action if key in _KINDS]
        value = action[kind]
        if kind in (ActionKind.STATUS, ActionKind.PRIORITY, ActionKind.TEAM):
            self._set(kind, value)
        elif kind == ActionKind.ADD_TAGS:
            self._set("tags", [*self.case.tags, *value])
        elif kind == ActionKind.REMOVE_TAGS:
            self._set("tags", [t for t in self.case.tags if t not in value])
        elif kind == ActionKind.ASSIGN:
            self._assign(value or None)
        elif kind in (ActionKind.ASSIGN_ROUND_ROBIN, ActionKind.ASSIGN_LEAST_LOADED):
            agents = _team_agents(value)
            if not agents:
                self._record("assignee", f"not assigned: team {value} has no active agent")
            elif kind == ActionKind.ASSIGN_ROUND_ROBIN:
                self._assign(self._next_in_turn(value, agents).user)
            else:
                self._assign(self._least_loaded(agents).user)
        elif kind == ActionKind.REPLY:
            self._reply(value)
        elif kind == ActionKind.NOTIFY:
            self._notify(value, action.get("text", ""))
        elif kind == ActionKind.WEBHOOK:
            self._webhook(value)
        else:
            self._note(value)

    def finish(self) -> None:
        """Save the case and its history (the audit log names ``actor`` too), or leave them
        to ``deferred``."""
        if self.dry:
            return
        WebhookCall.objects.bulk_create(self.calls)
        if self.deferred is not None:
            self.deferred.keep(self)
            return
        if self.changed:
            with Case.changed_by(self.actor):
                self.case.save()
        CaseEvent.objects.bulk_create(self.events)

    def _set(self, name: str, value: Any) -> None:
        try:
            events = change_fields(self.case, self.actor[:150], {name: value})
        except DeskError as exc:
            self._record(name, f"not changed: {exc}")
            return
        for event in events:
            self.done.append(f"{event.field}: {event.before or '-'} -> {event.after or '-'}")
            if event.field in CASE_FIELDS:
                self.changed.add(event.field)
        self.events += events

    def _assign(self, user: Any) -> None:
        self._set("assignee", user)

    def _record(self, what: str, text: str) -> None:
        """An action that changes no field, in the history."""
        self.done.append(f"{what}: {text}")
        self.events.append(case_event(self.case, what, "", text[:2000], self.actor[:150]))

    def _next_in_turn(self, team: str, agents: list[Agent]) -> Agent:
        turns = TeamRotation.objects.filter(team=team)
        rotation = (turns if self.dry else turns.select_for_update()).first() \
            or TeamRotation(team=team)
        following = [a for a in agents if rotation.last_assigned_id is not None
                     and a.user_id > rotation.last_assigned_id]
        chosen = (following or agents)[0]
        if not self.dry:
            rotation.last_assigned_id = chosen.user_id
            rotation.save()
        return chosen

    def _least_loaded(self, agents: list[Agent]) -> Agent:
        if self.deferred is not None:  # the load counts the assignments made before
            self.deferred.save()
        users = [a.user_id for a in agents]
        load = dict(get_user_model().objects.filter(pk__in=users).annotate(
            open=Count("assigned_cases", filter=Q(assigned_cases__status__in=UNSOLVED)))
            .values_list("pk", "open"))
        return min(agents, key=lambda a: (load.get(a.user_id, 0), a.user_id))

    def _text(self, template: str) -> str:
        return fill_placeholders(template, placeholder_values(self.case, self.case.assignee))

    def _reason_not_to_reply(self) -> str:
        requester = self.case.requester
        for message in (self.message, self.origin):
            if message and message.automated:
                return f"automated mail ({message.automated})"
            if message and message.null_sender:
                return "the null sender"
        if not requester or self._routing().is_ours(requester):
            return "one of our own addresses"
        since = timezone.now() - timedelta(hours=1)
        limit = get_config().ack_limit
        if DeskMessage.objects.filter(direction=Direction.AUTOMATIC, created_at__gte=since,
                                      recipients=requester).count() >= limit:
            return f"{requester} had {limit} automatic messages in the last hour"
        if not self._routing().destinations(requester):
            return f"{requester} cannot be reached"
        return ""

    def _routing(self) -> RoutingTable:
        """The routing table, read when mail is first sent (changes from the console and
        the API seldom send any)."""
        if self.table is None:
            self.table = load_table()
        return self.table

    def _reply(self, template: str) -> None:
        requester = self.case.requester
        text = self._text(template)
        if self.dry:
            self.done.append(f"reply to {requester or 'the requester'}: {text}")
            return
        reason = self._reason_not_to_reply()
        if reason:
            self._record("reply", f"not sent: {reason}")
            return
        latest = (self.case.messages.filter(direction=Direction.INBOUND)
                  .order_by("-id").first())
        raw, message_id = self._mail(
            requester, reply_subject(self.case), text, "auto-replied",
            latest.message_id if latest else self.case.message_id,
            latest.references.split() if latest else ())
        self.outgoing.append(generated_message(
            {requester: self._routing().destinations(requester)}, raw, self.hostname, message_id))
        DeskMessage.objects.create(
            case=self.case, direction=Direction.AUTOMATIC, queue_id=self.outgoing[-1].queue_id,
            message_id=message_id, recipients=requester, subject=reply_subject(self.case),
            sender_name=self.actor[:200], text=text, new_text=text, created_at=timezone.now())
        self._record("reply", f"sent to {requester}")

    def _notify(self, target: str, template: str) -> None:
        addresses = self._notified(target)
        text = self._text(template) if template else (
            f"{self.actor} on {tag_of(self.case) if self.case.pk else 'a case'}: "
            f"{self.case.subject}")
        if self.dry:
            self.done.append(f"notify {', '.join(addresses) or 'nobody'}: {text}")
            return
        sent = []
        for address in addresses:
            targets = self._routing().destinations(address.lower())
            if not targets:
                continue
            raw, message_id = self._mail(address, f"{tag_of(self.case)} {self.case.subject}",
                                         text, "auto-generated")
            self.outgoing.append(generated_message({address: targets}, raw, self.hostname,
                                                   message_id))
            sent.append(address)
        self._record("notification", f"sent to {', '.join(sent)}" if sent
                     else f"not sent: nobody to notify ({target})")

    def _notified(self, target: str) -> list[str]:
        if target not in NotifyTarget.values:
            return [target]
        if target == NotifyTarget.ASSIGNEE:
            assignee = self.case.assignee
            return [assignee.email] if assignee is not None and assignee.email else []
        agents: Iterable[Agent] = (Agent.objects.filter(user__is_active=True)
                                   .exclude(user__email="").select_related("user"))
        if target == NotifyTarget.TEAM:
            agents = [a for a in agents if self.case.team and self.case.team in a.teams]
        return [a.user.email for a in agents]

    def _note(self, template: str) -> None:
        text = self._text(template)
        if self.dry:
            self.done.append(f"note: {text}")
            return
        DeskMessage.objects.create(case=self.case, direction=Direction.NOTE,
                                   sender_name=self.actor[:200], text=text, new_text=text,
                                   created_at=timezone.now())
        self._record("note", text[:200])

    def _webhook(self, name: str) -> None:
        webhook = Webhook.objects.filter(name=name).values_list("pk", flat=True).first()
        if webhook is None:
            self._record("webhook", f"not called: there is no webhook {name}")
            return
        if self.dry:
            self.done.append(f"call webhook {name}")
            return
        body = event_body(self.case, self.event, self.message, self.event_changed, self.actor)
        self.calls.append(webhook_call(webhook, body, self.case.pk))
        self._record("webhook", f"{name} called")

    def _mail(self, to: str, subject: str, text: str, auto_submitted: str,
              in_reply_to: str = "", references: Iterable[str] = ()) -> tuple[bytes, str]:
        message = about(self.case, to, subject, self.hostname, in_reply_to, references)
        message["Auto-Submitted"] = auto_submitted
        message["X-Auto-Response-Suppress"] = "All"
        message.set_content(text)
        return message.as_bytes(), message["Message-ID"]
