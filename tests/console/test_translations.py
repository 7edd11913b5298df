"""Every string the console shows is translated into the article's five languages."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest

CONSOLE = Path(__file__).resolve().parents[2] / "src" / "casegate" / "console"
LANGUAGES = ("fr", "pt", "id", "he", "ar")
_TEMPLATE_STRING = re.compile(r"""\{%\s*translate\s+(["'])(.+?)\1""")
_PYTHON_STRING = re.compile(r"""\b_\(\s*(["'])(.+?)\1""")


def console_msgids() -> set[str]:
    found = set()
    for template in (CONSOLE / "templates").rglob("*"):
        if template.is_file():
            found |= {m[1] for m in _TEMPLATE_STRING.findall(template.read_text())}
    for module in CONSOLE.glob("*.py"):
        found |= {m[1] for m in _PYTHON_STRING.findall(module.read_text())}
    return found


def test_the_console_has_strings_to_translate() -> None:
    assert {"Default routing", "Rule #%(id)s saved. It applies to the next message."} <= (
        console_msgids())


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_console_string_is_left_untranslated(language: str) -> None:
    catalog = CONSOLE / "locale" / language / "LC_MESSAGES" / "django.mo"
    with catalog.open("rb") as handle:
        translated = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    missing = sorted(m for m in console_msgids() if not translated.get(m))
    assert not missing, f"untranslated in {language} (run makemessages, translate, " \
                        f"compilemessages): {missing}"
