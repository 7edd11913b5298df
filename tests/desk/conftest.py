"""Fixtures for the desk's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from casegate.config import get_config


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A casegate home of the test's own, where blobs are stored."""
    monkeypatch.setenv("CASEGATE_HOME", str(tmp_path))
    get_config.cache_clear()
    yield tmp_path
    get_config.cache_clear()
