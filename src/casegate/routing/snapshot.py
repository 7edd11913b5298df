"""Building the in-memory :class:`RoutingTable` and keeping it current in each process."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from django.conf import settings
from django.db import transaction

from casegate.config import get_config
from casegate.routing.engine import CompiledRule, RoutingTable, compile_rule


def load_table() -> RoutingTable:
    """Read the directory and the enabled rules in one consistent transaction."""
    from casegate.desk.models import Intake
    from casegate.directory.models import Account, Domain, Group, GroupMember
    from casegate.routing.models import RoutingVersion, Rule

    with transaction.atomic():
        version_row = RoutingVersion.objects.filter(pk=1).first()
        version = version_row.version if version_row else 0
        domain_rows = list(Domain.objects.values_list("name", "mailbox_transport"))
        domains = frozenset(name for name, _ in domain_rows)
        accounts = frozenset(Account.objects.values_list("address", flat=True))
        groups: dict[str, list[str]] = {
            address: [] for address in Group.objects.values_list("address", flat=True)
        }
        for group_address, member in GroupMember.objects.values_list("group__address", "address"):
            groups[group_address].append(member)
        intakes = dict(Intake.objects.values_list("address", "id"))
        rules = [
            compile_rule(
                id=r["id"],
                position=r["position"],
                match_type=r["match_type"],
                match_value=r["match_value"],
                rewrite=r["rewrite"],
                rewrite_value=r["rewrite_value"],
                bypass_spam=r["bypass_spam"],
                also_deliver=r["also_deliver"],
                apply_to=r["apply_to"],
                action=r["action"],
                reject_text=r["reject_text"],
            )
            for r in Rule.objects.filter(enabled=True).values()
        ]
    exact: dict[str, list[CompiledRule]] = {}
    patterns: list[CompiledRule] = []
    match_all: list[CompiledRule] = []
    for rule in rules:
        if rule.match_type == Rule.MATCH_ADDRESS:
            exact.setdefault(rule.match_value, []).append(rule)
        elif rule.match_type == Rule.MATCH_PATTERN:
            patterns.append(rule)
        else:
            match_all.append(rule)
    return RoutingTable(
        version=version,
        domains=domains,
        accounts=accounts,
        groups={k: tuple(v) for k, v in groups.items()},
        intakes=intakes,
        mailbox_relays={name: relay for name, relay in domain_rows if relay},
        exact_rules={k: tuple(v) for k, v in exact.items()},
        pattern_rules=tuple(patterns),
        match_all_rules=tuple(match_all),
        delimiter=get_config().recipient_delimiter,
    )


class VersionProbe:
    """Reads the routing version over a plain DB-API connection.

    It is cheap enough to ask before every mail transaction (tens of microseconds), and
    safe to call from an asyncio event loop, where Django's ORM refuses to run.
    """

    _QUERY = "SELECT version FROM routing_routingversion WHERE id = 1"

    def __init__(self) -> None:
        self._conn: Any = None
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        db = settings.DATABASES["default"]
        if db["ENGINE"].endswith("sqlite3"):
            conn = sqlite3.connect(db["NAME"], isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            return conn
        import psycopg

        return psycopg.connect(
            host=db.get("HOST") or None,
            port=db.get("PORT") or None,
            dbname=db["NAME"],
            user=db.get("USER") or None,
            password=db.get("PASSWORD") or None,
            autocommit=True,
            connect_timeout=2,
        )

    def read(self) -> int:
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                row = self._conn.execute(self._QUERY).fetchone()
            except Exception:
                self.close()
                raise
        return int(row[0]) if row else 0

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


class TableCache:
    """The process's current :class:`RoutingTable`, reloaded when the version moves."""

    def __init__(self) -> None:
        self._probe = VersionProbe()
        self._table: RoutingTable | None = None
        self._lock = threading.Lock()

    def needs_reload(self) -> bool:
        return self._table is None or self._probe.read() != self._table.version

    @property
    def table(self) -> RoutingTable:
        if self._table is None:
            raise RuntimeError("the routing table has not been loaded yet")
        return self._table

    def reload(self) -> RoutingTable:
        with self._lock:
            self._table = load_table()
            return self._table

    def current(self) -> RoutingTable:
        """The table for the latest version (loads it synchronously when needed)."""
        if self.needs_reload():
            return self.reload()
        return self.table

    def close(self) -> None:
        self._probe.close()
