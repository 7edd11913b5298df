"""The plain connection the gateway reads the routing version on, outside Django's ORM."""

from __future__ import annotations

import copy

import pytest
from django.conf import settings
from django.db import connection

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
