"""``casegate serve``'s checks at start."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import pytest

from casegate.config import get_config
from casegate.serve import is_fully_qualified, warn_of_an_unqualified_hostname


@pytest.mark.parametrize(("name", "qualified"), [
    ("mx.example.com", True), ("mx.example.com.", True), ("buildbox", False),
    ("buildbox.localdomain", False), ("localhost", False), ("box.local", False),
])
def test_fully_qualified_names(name: str, qualified: bool) -> None:
    assert is_fully_qualified(name) is qualified


def test_an_unqualified_machine_name_is_warned_of_unless_a_hostname_is_set(
        setting: Callable[..., None], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda: "buildbox")
    setting("CASEGATE_HOSTNAME", None)
    with caplog.at_level(logging.WARNING, logger="casegate.serve"):
        warn_of_an_unqualified_hostname(get_config())
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith("hostname=buildbox is not a fully qualified domain name")
    caplog.clear()
    setting("CASEGATE_HOSTNAME", "buildbox")  # chosen, not guessed: the operator knows
    with caplog.at_level(logging.WARNING, logger="casegate.serve"):
        warn_of_an_unqualified_hostname(get_config())
    assert caplog.records == []
