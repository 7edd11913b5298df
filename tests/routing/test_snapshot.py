"""The plain connection the gateway reads the routing version on, outside Django's ORM."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from casegate.directory.services import add_domain
from casegate.routing import snapshot
from casegate.routing.services import RuleSpec, add_rule
from casegate.routing.snapshot import plain_connection

pytestmark = pytest.mark.django_db


def test_the_plain_connection_has_the_database_url_s_options(
        monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("connection options are PostgreSQL's (sslmode and the like)")
    databases = copy.deepcopy(settings.DATABASES)
    options = databases["default"].setdefault("OPTIONS", {})
    options["application_name"] = "casegate-probe"
    # postgresql:///casegate?host=/var/run/postgresql: the host among the options
    options["host"] = databases["default"].get("HOST") or "127.0.0.1"
    monkeypatch.setattr(settings, "DATABASES", databases)
    with plain_connection() as plain:
        [(name,)] = plain.execute("SHOW application_name").fetchall()
    assert name == "casegate-probe"


@pytest.mark.django_db(transaction=True)
def test_rules_are_compiled_after_the_transaction_that_read_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # On SQLite that transaction holds the writer's lock every commit of mail waits for.
    add_domain("solarmora.com")
    add_rule(RuleSpec("pattern", r"old-.*@solarmora\.com", also_deliver=["x@crm.example"]))
    compiling = snapshot._compiled
    in_transaction = []

    def compiled(*args: Any) -> Any:
        in_transaction.append(connection.in_atomic_block)
        return compiling(*args)

    monkeypatch.setattr(snapshot, "_compiled", compiled)
    snapshot.load_table()
    assert in_transaction == [False]
