"""The company domain a forwarded copy leaves for (its SRS and ARC domain)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casegate.delivery.worker import forwarding_domain_of
from casegate.routing.engine import build_table
from casegate.spool.queue import Claimed

TABLE = build_table(version=1, domains=["solarmora.com", "second.example"], accounts=[],
                    groups={}, intakes={}, rules=[])


def claimed(original_recipient: str) -> Claimed:
    return Claimed(1, "Q1", original_recipient, "soc@ops.example", "remote", None, False, "",
                   1, "dana@example.net", datetime.now(UTC))


@pytest.mark.parametrize(("original", "domain"), [
    ("abuse@second.example", "second.example"),
    ("postmaster", "second.example"),  # names no domain: the first of the company's
])
def test_the_forwarding_domain(original: str, domain: str) -> None:
    assert forwarding_domain_of(claimed(original), TABLE.domains) == domain
