"""The desk's sets of rules kept in versions, by their plural: each is exported as YAML,
imported all or nothing (or only checked), and rolled back to any version. (The SLA's
calendars and policies are one file of two lists: :mod:`casegate.desk.sla.policies`.)"""

from __future__ import annotations

from typing import Any, Protocol

from casegate.desk.automation.automations import AUTOMATIONS
from casegate.desk.automation.macros import MACROS
from casegate.desk.automation.triggers import TRIGGERS
from casegate.desk.rule_files import ImportResult
from casegate.desk.webhooks.hooks import WEBHOOKS


class KeptSet(Protocol):
    @property
    def noun(self) -> str: ...

    def export(self) -> str: ...

    def import_(self, text: str, source: str, dry_run: bool = False) -> ImportResult: ...

    def history(self, limit: int = 50) -> list[Any]: ...

    def rollback(self, number: int) -> Any: ...


KEPT_SETS: dict[str, KeptSet] = {"triggers": TRIGGERS, "automations": AUTOMATIONS,
                                 "webhooks": WEBHOOKS, "macros": MACROS}
