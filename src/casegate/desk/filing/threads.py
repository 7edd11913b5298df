"""Threading: which existing conversation an arrival belongs to (see
:mod:`casegate.desk.threading` for the order in which its hints are tried)."""

from __future__ import annotations

from casegate.config import get_config
from casegate.desk.arrivals import DeskArrival, Filed
from casegate.desk.filing.batch import Batch
from casegate.desk.merging import survivor_of
from casegate.desk.models import Case, DeskMessage, Lead
from casegate.desk.services import DeskError
from casegate.desk.threading import ThreadHint, hint_for
from casegate.filtering.auth_results import authserv_id_of, from_forged
from casegate.mail.headers import HeaderFields


def existing_conversations(arrivals: list[DeskArrival]
                           ) -> tuple[list[ThreadHint], dict[str, Case | Lead]]:
    """The threading hints of each arrival and every conversation they can point at."""
    hints = [hint_for(a.mail.in_reply_to, a.mail.references, a.mail.subject,
                      a.mail.reported_message_id) for a in arrivals]
    if not any(h.signed or h.tagged_case or h.references for h in hints):
        return hints, {}
    case_ids = {h.signed[1] for h in hints if h.signed and h.signed[0] == "c"}
    case_ids |= {h.tagged_case for h in hints if h.tagged_case}
    lead_ids = {h.signed[1] for h in hints if h.signed and h.signed[0] == "l"}
    refs = {r for h in hints for r in h.references}
    by_ref = {}
    for message_id, case_id, lead_id in DeskMessage.objects.filter(
            message_id__in=refs).values_list("message_id", "case_id", "lead_id"):
        if case_id:
            by_ref[message_id] = ("c", case_id)
            case_ids.add(case_id)
        else:
            by_ref[message_id] = ("l", lead_id)
            lead_ids.add(lead_id)
    found: dict[str, Case | Lead] = {}
    cases = survivor_of(Case.objects.select_related("intake").in_bulk(case_ids))
    for pk, case in cases.items():  # a merged case's mail goes to the case it was merged into
        found[f"c{pk}"] = case
    for lead in Lead.objects.filter(pk__in=lead_ids).select_related("intake"):
        found[f"l{lead.pk}"] = lead
    for message_id, (kind, number) in by_ref.items():
        if f"{kind}{number}" in found:
            found[message_id] = found[f"{kind}{number}"]
    return hints, found


def answers_ours(hint: ThreadHint, found: dict[str, Case | Lead]) -> bool:
    """Whether the message answers a signed Message-ID of a conversation that exists."""
    return hint.signed is not None and f"{hint.signed[0]}{hint.signed[1]}" in found


def find_conversation(batch: Batch, item: Filed) -> None:
    """The conversation the arrival answers, if any; mail to an agent's reply address must
    answer one, and takes its intake."""
    arrival = item.arrival
    item.conversation = _thread_of(arrival, item.hint, batch.found)
    if arrival.intake is None:
        if item.conversation is None:
            raise DeskError(f"queue {arrival.queue_id} to {arrival.original_recipient}"
                            " answers none of our conversations")
        arrival.intake = item.conversation.intake


def _thread_of(arrival: DeskArrival, hint: ThreadHint, found: dict[str, Case | Lead]
               ) -> Case | Lead | None:
    if hint.signed and f"{hint.signed[0]}{hint.signed[1]}" in found:
        return found[f"{hint.signed[0]}{hint.signed[1]}"]
    tagged = found.get(f"c{hint.tagged_case}") if hint.tagged_case else None
    by_tag = tagged if tagged is not None and tagged.requester == arrival.mail.sender else None
    conversation = by_tag or next((found[r] for r in hint.references if r in found), None)
    if conversation is not None and _forged_from(arrival.raw):
        # A case's tag and its requester's address, or a Message-ID its requester's
        # correspondents have seen, are all a forger would need to write into the case.
        return None
    return conversation


def _forged_from(raw: bytes) -> bool:
    """Whether the gateway's checks on arrival found the From forged (see
    :func:`from_forged`)."""
    ours = get_config().authserv_id
    for value in HeaderFields(raw).get_all("Authentication-Results"):
        if authserv_id_of(value) == ours:  # ours: any from outside was removed
            return from_forged(value)
    return False


def lock_conversations(batch: Batch) -> None:
    """The cases and leads read before the transaction, read again and locked: an agent or
    the SLA clock job may have changed one since (a warning told, then saved over)."""
    for model in (Case, Lead):
        read = [c for c in batch.found.values() if isinstance(c, model)]
        if not read:
            continue
        fresh = model.objects.select_for_update().in_bulk([c.pk for c in read])
        for conversation in read:
            if (now := fresh.get(conversation.pk)) is not None:
                for field in model._meta.concrete_fields:
                    setattr(conversation, field.attname, getattr(now, field.attname))
    _follow_merges(batch.found)


def _follow_merges(found: dict[str, Case | Lead]) -> None:
    """Cases merged into another since they were read: their mail goes to the survivor,
    locked too, as it would have had the merge come before."""
    merged = {c.pk: c for c in found.values() if isinstance(c, Case) and c.merged_into_id}
    if not merged:
        return
    survivors = survivor_of(merged)
    held = {c.pk: c for c in found.values() if isinstance(c, Case)}
    held.update(Case.objects.select_related("intake").select_for_update(of=("self",))
                .in_bulk({s.pk for s in survivors.values()} - held.keys()))
    for key, conversation in list(found.items()):
        if isinstance(conversation, Case) and conversation.pk in merged:
            found[key] = held[survivors[conversation.pk].pk]
