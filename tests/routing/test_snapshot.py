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
    databases["default"].setdefault("OPTIONS", {})["application_name"] = "casegate-probe"
    monkeypatch.setattr(settings, "DATABASES", databases)
    with plain_connection() as plain:
        [(name,)] = plain.execute("SHOW application_name").fetchall()
    assert name == "casegate-probe"
