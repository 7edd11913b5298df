"""The trigger simulator: for a case, or a message as if it had just arrived, which triggers
would fire, in what order, and what each would change; nothing is saved or sent."""

from __future__ import annotations

from casegate.config import get_config
from casegate.desk.automation.engine import Outcome, run_triggers
from casegate.desk.automation.facts import EventMessage
from casegate.desk.automation.vocabulary import TriggerEvent
from casegate.desk.changes import DeskError
from casegate.desk.models import Case, Intake
from casegate.desk.parsing import parse_message
from casegate.directory.addresses import InvalidAddress, normalize_address


def simulate_case(case_id: int, event: str) -> Outcome:
    case = Case.objects.select_related("intake", "assignee").filter(pk=case_id).first()
    if case is None:
        raise DeskError(f"there is no case {case_id}")
    return run_triggers(case, event, None, get_config().hostname, dry=True)


def simulate_message(raw: bytes, intake_address: str,
                     event: str = TriggerEvent.CASE_CREATED) -> Outcome:
    """``raw`` as if it had just come to the intake at ``intake_address`` and opened a case
    (or, with another ``event``, answered one)."""
    try:
        intake = Intake.objects.filter(address=normalize_address(intake_address)).first()
    except InvalidAddress as exc:
        raise DeskError(str(exc)) from None
    if intake is None or intake.kind != Intake.CASE:
        raise DeskError(f"{intake_address} is no case intake; see: casegate desk intake list")
    mail = parse_message(raw)
    case = Case(intake=intake, subject=mail.subject, requester=mail.sender,
                requester_name=mail.sender_name, original_recipient=intake.address,
                team=intake.team, tags=[])
    message = EventMessage(sender=mail.sender, subject=mail.subject,
                           body=mail.new_text or mail.text, language=mail.language,
                           automated=mail.automated)
    return run_triggers(case, event, None, get_config().hostname, message, dry=True)


def describe(outcome: Outcome) -> str:
    if not outcome.fired:
        return "no trigger would fire"
    lines = []
    for number, fired in enumerate(outcome.fired, start=1):
        lines.append(f"{number}. {fired.trigger} (on {fired.event}"
                     + (f", round {fired.depth}" if fired.depth else "") + ")")
        lines += [f"   {done}" for done in fired.done] or ["   nothing to change"]
    if outcome.stopped:
        lines.append(f"stopped: would run again: {', '.join(outcome.stopped)}")
    return "\n".join(lines)


def as_dict(outcome: Outcome) -> dict[str, object]:
    return {"fired": [{"trigger": f.trigger, "event": f.event, "round": f.depth,
                       "changes": list(f.done)} for f in outcome.fired],
            "stopped": list(outcome.stopped)}
