"""The clock job: the warnings and breaches whose time has come, each told once per case
and target as an ``sla_warning`` or ``sla_breached`` event to the triggers (whose
``changed`` condition reads the target: ``{field: changed, includes: first_response}``).

Several workers may run it at once (PostgreSQL): a case's alarms are claimed by one
update that only succeeds while the case's next alarm is still the one read, so exactly
one worker tells them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from casegate.desk.automation.engine import run_after_change
from casegate.desk.automation.vocabulary import TriggerEvent
from casegate.desk.models import Case, CaseEvent
from casegate.desk.sla.clocks import (
    HISTORY_FIELD,
    alarms,
    current_policies,
    marker,
    schedule,
)
from casegate.desk.vocabulary import SlaStage, SlaTarget

log = logging.getLogger("casegate.desk")

BATCH = 200  # cases read at a time
_EVENTS: dict[str, str] = {SlaStage.WARNING: TriggerEvent.SLA_WARNING,
                          SlaStage.BREACH: TriggerEvent.SLA_BREACHED}


def tell_alarms(now: datetime | None = None) -> int:
    """Tell the warnings and breaches due by ``now``; how many were told."""
    now = now or timezone.now()
    told, after = 0, 0
    while True:
        due = list(Case.objects.filter(sla_alarm_at__lte=now, sla_paused_at__isnull=True,
                                       pk__gt=after)
                   .order_by("pk").values_list("pk", flat=True)[:BATCH])
        told += sum(_tell(pk, now) for pk in due)
        if len(due) < BATCH:
            return told
        after = due[-1]


@transaction.atomic
def _tell(pk: int, now: datetime) -> int:
    # Locked: the triggers it runs save the case whole, over an agent's change meanwhile.
    case = (Case.objects.select_related("intake").select_for_update(of=("self",))
            .filter(pk=pk).first())
    if case is None or case.sla_alarm_at is None or case.sla_alarm_at > now \
            or case.sla_paused_at is not None:
        return 0
    claimed_at = case.sla_alarm_at
    policy = current_policies().by_id(case.sla_policy_id)
    told = [(target, stage) for target, stage, at in alarms(case, policy) if at <= now]
    case.sla_fired = [*case.sla_fired, *(marker(t, s) for t, s in told)]
    schedule(case, policy)
    if not Case.objects.filter(pk=pk, sla_alarm_at=claimed_at).update(
            sla_fired=case.sla_fired, sla_alarm_at=case.sla_alarm_at):
        return 0  # another worker told them
    actor = policy.actor if policy else HISTORY_FIELD
    CaseEvent.objects.bulk_create([
        CaseEvent(case=case, field=HISTORY_FIELD, after=f"{SlaTarget(t).label} {SlaStage(s).label}",
                  actor=actor[:150], at=now) for t, s in told])
    for target, stage in told:
        log.info("case=%s sla=%s target=%s policy=%r", pk, stage, target,
                 policy.name if policy else "")
        run_after_change(case, _EVENTS[stage], changed=frozenset({target}))
    return len(told)
