"""The automations as data (see :mod:`casegate.desk.automation.rulesets`): adding, removing,
moving, enabling; every change a numbered version that can be rolled back; the whole set as
a YAML file, imported all or nothing. The clock runs them
(:mod:`casegate.desk.automation.scheduled`).

.. code-block:: yaml

    automations:
      - name: Solve pending cases after 3 days
        conditions:
          all:
            - {field: status, is: pending}
            - {field: hours_since_status_changed, at_least: 72}
        actions:
          - status: solved
          - reply: "Hello {{requester.name}}, we take {{case.number}} as solved."
"""

from __future__ import annotations

from casegate.desk.automation.rules import check_automation
from casegate.desk.automation.rulesets import RuleSet
from casegate.desk.models import Automation, AutomationVersion

AUTOMATIONS = RuleSet("automation", "automations", Automation, AutomationVersion,
                      check_automation)
