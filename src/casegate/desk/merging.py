"""Merging cases and splitting a message off into a case of its own, each undone by the
other.

A merge moves every message of the merged cases onto the surviving one (the thread reads
in date order), adds their tags, closes them and points them at it: mail that threads onto
a merged case, by a reply to its acknowledgement or its ``[#CG-n]`` tag, lands on the
survivor (:func:`survivor_of`). Each moved message remembers where it came from, so
:func:`unmerge` puts exactly those back. A split moves one message a customer sent into a
new case; it remembers the case it was split off, and a merge back into that case brings
it home.
Everything is recorded in the history of both cases and in the audit log.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from casegate.desk.changes import DeskError, case_event
from casegate.desk.models import Case, CaseEvent, Contact, DeskMessage
from casegate.desk.sla import clocks
from casegate.desk.vocabulary import CaseChannel, CaseStatus, Direction

MAX_MERGED = 50  # cases merged in one go
MAX_CHAIN = 20  # merged into a case that was merged in turn, and so on


def number(case: Case | int) -> str:
    return f"CG-{case if isinstance(case, int) else case.pk}"


def survivor_of(cases: dict[int, Case]) -> dict[int, Case]:
    """Each of ``cases`` (by id), or the case it was merged into, followed to the end."""
    result = dict(cases)
    pending = {pk: c for pk, c in cases.items() if c.merged_into_id}
    for _ in range(MAX_CHAIN):
        if not pending:
            break
        targets = Case.objects.select_related("intake").in_bulk(
            {c.merged_into_id for c in pending.values()})
        following = {}
        for pk, case in pending.items():
            target = targets.get(case.merged_into_id or 0)
            if target is None:
                continue
            result[pk] = target
            if target.merged_into_id:
                following[pk] = target
        pending = following
    return result


@transaction.atomic
def merge(survivor_id: int, merged_ids: list[int], actor: str) -> Case:
    """Merge the cases ``merged_ids`` into ``survivor_id`` (see the module)."""
    merged_ids = list(dict.fromkeys(merged_ids))
    if not merged_ids or len(merged_ids) > MAX_MERGED:
        raise DeskError(f"name between 1 and {MAX_MERGED} cases to merge")
    if survivor_id in merged_ids:
        raise DeskError(f"{number(survivor_id)} cannot be merged into itself")
    found = Case.objects.select_for_update().in_bulk([survivor_id, *merged_ids])
    missing = [pk for pk in [survivor_id, *merged_ids] if pk not in found]
    if missing:
        raise DeskError(f"there is no case {', '.join(number(pk) for pk in missing)}")
    survivor = found[survivor_id]
    if survivor.merged_into_id:
        raise DeskError(f"{number(survivor)} was merged into {number(survivor.merged_into_id)};"
                        " merge into that one")
    merged = [found[pk] for pk in merged_ids]
    already = [c for c in merged if c.merged_into_id]
    if already:
        raise DeskError(f"{number(already[0])} was already merged into"
                        f" {number(already[0].merged_into_id or 0)}")
    now = timezone.now()
    events: list[CaseEvent] = []
    tags = set(survivor.tags)
    for case in merged:
        # A message split off the survivor comes home: it no longer remembers a move.
        DeskMessage.objects.filter(case=case, split_from=survivor).update(
            case=survivor, split_from=None)
        DeskMessage.objects.filter(case=case, moved_from__isnull=True).update(moved_from=case)
        DeskMessage.objects.filter(case=case).update(case=survivor)
        tags.update(case.tags)
        events += [case_event(case, "merged_into", "", number(survivor), actor),
                   case_event(case, "status", case.status, CaseStatus.CLOSED, actor),
                   case_event(survivor, "merged", "", number(case), actor)]
        before = case.status
        case.merged_into, case.status, case.updated_at = survivor, CaseStatus.CLOSED, now
        case.status_changed_at = now
        events += clocks.fields_changed(case, {"status": before}, now)
        case.save(update_fields=["merged_into", "status", "updated_at", "status_changed_at",
                                 *clocks.CLOCK_FIELDS])
    if tags != set(survivor.tags):
        events.append(case_event(survivor, "tags", ", ".join(survivor.tags),
                                 ", ".join(sorted(tags)), actor))
        survivor.tags = sorted(tags)
    survivor.received_at = max([survivor.received_at, *(c.received_at for c in merged)])
    survivor.updated_at = now
    survivor.save(update_fields=["tags", "received_at", "updated_at"])
    CaseEvent.objects.bulk_create(events)
    return survivor


@transaction.atomic
def unmerge(case_id: int, actor: str) -> Case:
    """Undo the merge of ``case_id``: its messages go back and it opens again."""
    case = Case.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise DeskError(f"there is no case {number(case_id)}")
    survivor_id = case.merged_into_id
    if survivor_id is None:
        raise DeskError(f"{number(case)} is not merged into another case")
    DeskMessage.objects.filter(moved_from=case).update(case=case, moved_from=None)
    before = case.status
    case.merged_into, case.status, case.updated_at = None, CaseStatus.OPEN, timezone.now()
    case.status_changed_at = case.updated_at
    clock_events = clocks.fields_changed(case, {"status": before}, case.updated_at)
    case.save(update_fields=["merged_into", "status", "updated_at", "status_changed_at",
                             *clocks.CLOCK_FIELDS])
    CaseEvent.objects.bulk_create([
        case_event(case, "merged_into", number(survivor_id), "", actor),
        case_event(case, "status", CaseStatus.CLOSED, CaseStatus.OPEN, actor),
        case_event(Case(pk=survivor_id), "unmerged", number(case), "", actor),
        *clock_events,
    ])
    return case


@transaction.atomic
def split(message_id: int, actor: str, channel: CaseChannel) -> Case:
    """Move one message of a case into a new case of its own, with the same intake, team
    and tags; the new case's requester is the message's sender, its channel where the
    split was asked."""
    message = (DeskMessage.objects.select_for_update().select_related("case")
               .filter(pk=message_id, case__isnull=False).first())
    if message is None or message.case is None:
        raise DeskError(f"there is no message {message_id} on a case")
    source = message.case
    if message.direction != Direction.INBOUND:
        # Its sender is ours: a case for it would send its replies to our own address.
        raise DeskError(f"message {message_id} is a reply or note of ours; only a message a"
                        " customer sent can become a case of its own")
    if source.messages.count() < 2:
        raise DeskError(f"message {message_id} is the only one of {number(source)}")
    now = timezone.now()
    sender = message.sender or source.requester
    contact_id = source.contact_id if sender == source.requester else (
        Contact.objects.filter(address=sender).values_list("pk", flat=True).first())
    created = Case(
        intake_id=source.intake_id, contact_id=contact_id,
        subject=message.subject or source.subject,
        requester=sender,
        requester_name=message.sender_name or source.requester_name,
        original_recipient=source.original_recipient, message_id=message.message_id,
        created_at=now, received_at=message.created_at, status=CaseStatus.OPEN,
        team=source.team, tags=source.tags, updated_at=now, channel=channel)
    timed = clocks.start(created, now, clocks.current_policies())  # a case like any other
    created.save()
    # It belongs to the new case now: an unmerge of the case it was merged from leaves it.
    message.case, message.moved_from, message.split_from = created, None, source
    message.save(update_fields=["case", "moved_from", "split_from"])
    CaseEvent.objects.bulk_create([
        case_event(source, "split", "", f"message {message_id} to {number(created)}", actor),
        case_event(created, "split_from", "", number(source), actor),
        *([timed] if timed else []),
    ])
    return created
