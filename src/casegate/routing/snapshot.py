"""Building the in-memory :class:`RoutingTable` and keeping it current in each process."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from casegate.config import Config, get_config
from casegate.directory.models import Account, Domain, Group, GroupMember, OrgUnit
from casegate.routing.engine import (
    ABUSE,
    POSTMASTER,
    CompiledRule,
    RoutingTable,
    build_table,
    compile_rule,
)
from casegate.routing.models import AddressList, Route, RoutingVersion, Rule
from casegate.routing.sources import desk_addresses


def load_table() -> RoutingTable:
    """Read the directory, the desk's addresses and the enabled rules in one consistent
    transaction, and compile the rules after it: on SQLite the transaction holds the one
    writer's lock, which every commit of mail waits for."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":  # one snapshot for every read
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        version_row = RoutingVersion.objects.filter(pk=1).first()
        version = version_row.version if version_row else 0
        domain_rows = list(Domain.objects.values_list("name", "mailbox_transport"))
        account_rows = list(Account.objects.filter(suspended=False)
                            .values_list("address", "org_unit_id"))
        group_rows = list(Group.objects.values_list("address", "org_unit_id"))
        groups: dict[str, list[str]] = {address: [] for address, _ in group_rows}
        for group_address, member in GroupMember.objects.values_list("group__address", "address"):
            groups[group_address].append(member)
        desk = desk_addresses()
        routes = {pk: (f"smtp:{host}:{port}", tls) for pk, host, port, tls
                  in Route.objects.values_list("id", "host", "port", "require_tls")}
        rule_rows = list(Rule.objects.filter(enabled=True).values())
        units = dict(OrgUnit.objects.values_list("id", "parent_id"))
        lists = dict(AddressList.objects.values_list("id", "entries"))
        roles = role_addresses(get_config())
    rules = [_compiled(row, routes) for row in rule_rows]
    return build_table(
        version=version,
        domains=[name for name, _ in domain_rows],
        accounts=[address for address, _ in account_rows],
        groups=groups,
        intakes=desk.intakes,
        rules=rules,
        mailbox_relays={name: relay for name, relay in domain_rows if relay},
        delimiter=get_config().recipient_delimiter,
        unit_of={address: unit for address, unit in account_rows + group_rows if unit},
        unit_parents=units,
        address_lists=lists,
        role_addresses=roles,
        agent_addresses=desk.agent_addresses,
        agent_reply_addresses=desk.agent_reply_addresses,
    )


def role_addresses(config: Config) -> dict[str, str]:
    """Where postmaster and abuse mail goes: ``CASEGATE_POSTMASTER`` and ``CASEGATE_ABUSE``
    (which defaults to the postmaster's), else the email address of the first active
    super administrator who has one; ``""`` when there is none."""
    postmaster = config.postmaster or (
        get_user_model().objects.filter(is_superuser=True, is_active=True)
        .exclude(email="").order_by("id").values_list("email", flat=True).first() or "")
    return {POSTMASTER: postmaster, ABUSE: config.abuse or postmaster}


def _compiled(row: Mapping[str, Any], routes: dict[int, tuple[str, bool]]) -> CompiledRule:
    relay, route_tls = routes.get(row["route_id"], ("", False))
    return compile_rule(
        id=row["id"], position=row["position"], match_type=row["match_type"],
        match_value=row["match_value"], rewrite=row["rewrite"],
        rewrite_value=row["rewrite_value"], also_deliver=row["also_deliver"],
        apply_to=row["apply_to"], custom_headers=row["custom_headers"],
        bypass_spam=row["bypass_spam"], action=row["action"], reject_text=row["reject_text"],
        unit=row["org_unit_id"], sender_list=row["sender_list_id"],
        sender_list_mode=row["sender_list_mode"], recipient_list=row["recipient_list_id"],
        recipient_list_mode=row["recipient_list_mode"],
        original_recipient_header=row["original_recipient_header"],
        spam_headers=row["spam_headers"], subject_prefix=row["subject_prefix"],
        route=relay, route_requires_tls=route_tls,
        remove_attachments=row["remove_attachments"], require_tls=row["require_tls"],
        rate_limit=row["rate_limit"],
    )


def plain_connection() -> Any:
    """A DB-API connection to casegate's database outside Django's ORM, in autocommit
    (sqlite3 or psycopg), for the few reads that must not wait for the ORM."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        conn = sqlite3.connect(db["NAME"], isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=5000")
        return conn
    import psycopg

    # The URL's options too (sslmode, a client certificate, a socket's host...), under what
    # the URL names itself, as Django merges them for its own connections.
    parameters = {key: value for key, value in db.get("OPTIONS", {}).items()
                  if key not in ("connect_timeout", "autocommit")}
    for key, value in (("host", db.get("HOST")), ("port", db.get("PORT")),
                       ("dbname", db.get("NAME")), ("user", db.get("USER")),
                       ("password", db.get("PASSWORD"))):
        if value:
            parameters[key] = value
    return psycopg.connect(autocommit=True, connect_timeout=2, **parameters)


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
        return plain_connection()

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
            # Sessions that saw the version move at once wait here; the first one loads.
            if self._table is not None and self._probe.read() == self._table.version:
                return self._table
            self._table = load_table()
            return self._table

    def current(self) -> RoutingTable:
        """The table for the latest version (loads it synchronously when needed)."""
        if self.needs_reload():
            return self.reload()
        return self.table

    def close(self) -> None:
        self._probe.close()
