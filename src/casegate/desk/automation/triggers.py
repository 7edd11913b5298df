"""The triggers as data (see :mod:`casegate.desk.automation.rulesets`): adding, removing,
moving, enabling; every change a numbered version that can be rolled back; the whole set as
a YAML file, imported all or nothing.

.. code-block:: yaml

    triggers:
      - name: Refunds to billing
        events: [case_created]
        conditions:
          all:
            - {field: intake, is: help@solarmora.com}
            - {field: subject, contains: refund}
        actions:
          - team: Billing
          - assign_round_robin: Billing
          - add_tags: [refund]
          - reply: "Hello {{requester.name}}, billing has your request {{case.number}}."
"""

from __future__ import annotations

from casegate.desk.automation.rules import check_trigger
from casegate.desk.automation.rulesets import ImportResult, RuleSet, TriggerSetError
from casegate.desk.models import Trigger, TriggerVersion

TRIGGERS = RuleSet("trigger", "triggers", Trigger, TriggerVersion, check_trigger,
                   keys=("events",))

trigger_dict = TRIGGERS.as_dict
find_trigger = TRIGGERS.find
add_trigger = TRIGGERS.add
remove_trigger = TRIGGERS.remove
move_trigger = TRIGGERS.move
set_enabled = TRIGGERS.set_enabled
history = TRIGGERS.history
rollback = TRIGGERS.rollback
export_triggers = TRIGGERS.export


def import_triggers(text: str, source: str = "triggers.yaml", dry_run: bool = False
                    ) -> ImportResult:
    """Make the triggers the file's, as one version; with ``dry_run`` only say what would
    change."""
    return TRIGGERS.import_(text, source, dry_run)


__all__ = ["TRIGGERS", "TriggerSetError", "add_trigger", "export_triggers", "find_trigger",
           "history", "import_triggers", "move_trigger", "remove_trigger", "rollback",
           "set_enabled", "trigger_dict"]
