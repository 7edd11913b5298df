"""One definition per vocabulary: the words the models store are TextChoices the command
line can offer before Django is set up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src"


def test_the_command_line_offers_the_vocabularies_before_django_is_set_up() -> None:
    environment = {name: value for name, value in os.environ.items()
                   if name != "DJANGO_SETTINGS_MODULE"}
    environment["PYTHONPATH"] = str(SOURCE)
    result = subprocess.run([sys.executable, "-m", "casegate", "desk", "intake", "add", "--help"],
                            env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--kind {case,lead}" in result.stdout
