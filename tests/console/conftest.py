"""Fixtures of the console tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_django.fixtures import Settings

from casegate.config import get_config
from casegate.web_security import web_settings


@pytest.fixture
def console_at(setting: Callable[..., None], settings: Settings) -> Callable[..., None]:
    """Serve the console as if ``CASEGATE_CONSOLE_URL`` (and ``CASEGATE_BEHIND_PROXY``)
    were set: the configuration and the Django settings that follow from it."""

    def configure(url: str, behind_proxy: bool = False) -> None:
        setting("CASEGATE_CONSOLE_URL", url)
        setting("CASEGATE_BEHIND_PROXY", "1" if behind_proxy else "0")
        for name, value in web_settings(get_config()).items():
            setattr(settings, name, value)

    return configure
