"""The schema against this casegate's migrations: current, behind, or changed by a newer
casegate (refused, with what to do)."""

from __future__ import annotations

import pytest
from django.db.migrations.recorder import MigrationRecorder

from casegate.config import get_config
from casegate.doctor.base import Host
from casegate.doctor.checks import database
from casegate.doctor.schema import schema_state
from casegate.mail.hostport import HostPort
from casegate.maintenance.schema import SchemaError, require_current_schema, upgrade

pytestmark = pytest.mark.django_db


def this_host() -> Host:
    return Host(get_config(), "mx.test", (), HostPort("127.0.0.1", 25), "")


def test_a_migrated_database_is_current() -> None:
    assert schema_state().pending == [] and schema_state().unknown == []
    require_current_schema()
    assert upgrade() == []


def test_a_database_behind_the_code_asks_for_an_upgrade() -> None:
    MigrationRecorder.Migration.objects.filter(app="desk").order_by("-id")[0].delete()
    state = schema_state()
    assert len(state.pending) == 1 and state.pending[0].startswith("desk.")
    with pytest.raises(SchemaError, match=r"lacks 1 migrations .*; run: casegate upgrade"):
        require_current_schema()
    found = database.check(this_host())
    assert found.status == "failing"
    assert found.explanation.startswith("1 migrations are not applied (desk.")
    assert found.explanation.endswith("run casegate upgrade")


def test_a_database_a_newer_casegate_changed_is_refused_by_upgrade_and_servers() -> None:
    MigrationRecorder.Migration.objects.create(app="desk", name="9999_from_the_future")
    assert schema_state().unknown == ["desk.9999_from_the_future"]
    for refused in (require_current_schema, upgrade):
        with pytest.raises(SchemaError, match=r"upgraded by a newer casegate: it has 1"
                                              r" migrations casegate \S+ does not know"
                                              r" \(desk.9999_from_the_future\)"):
            refused()
    found = database.check(this_host())
    assert found.status == "failing"
    assert "a newer casegate upgraded the database: 1 migrations" in found.explanation
