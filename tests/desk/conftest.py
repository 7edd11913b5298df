"""Fixtures for the desk's tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, setting: Callable[..., None]) -> Path:
    """A casegate home of the test's own, where blobs are stored."""
    setting("CASEGATE_HOME", str(tmp_path))
    return tmp_path
