"""Every string the console shows is translated into the article's five languages: its
templates and the messages of the services it shows (rule validation, the simulator,
verify)."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.utils import translation

from casegate.desk.vocabulary import IntakeKind
from casegate.routing.vocabulary import MatchType, Rewrite

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "casegate"
LANGUAGES = ("fr", "pt", "id", "he", "ar")
_TEMPLATE_STRING = re.compile(r"""\{%\s*translate\s+(["'])(.+?)\1""")
_MARKERS = {"_", "gettext", "gettext_lazy", "gettext_noop"}


def _python_msgids(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _MARKERS and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value)
    return found


def product_msgids() -> set[str]:
    found = set()
    for template in PACKAGE.glob("*/templates/**/*"):
        if template.is_file():
            found |= {m[1] for m in _TEMPLATE_STRING.findall(template.read_text())}
    for module in PACKAGE.rglob("*.py"):
        text = module.read_text()
        if "gettext" in text:
            found |= _python_msgids(text)
    return found


def test_the_product_has_strings_to_translate() -> None:
    assert {"Default routing", "Rule #%(id)s saved. It applies to the next message.",
            "the rule would route %(address)s to itself", "bypass the spam filter",
            "timeout waiting for delivery (%(state)s)"} <= product_msgids()


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_string_is_left_untranslated(language: str) -> None:
    catalog = PACKAGE / "locale" / language / "LC_MESSAGES" / "django.mo"
    with catalog.open("rb") as handle:
        translated = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    missing = sorted(m for m in product_msgids() if not translated.get(m))
    assert not missing, f"untranslated in {language} (run makemessages in src/casegate, " \
                        f"translate, compilemessages): {missing}"


def test_service_messages_follow_the_active_language() -> None:
    from casegate.directory.addresses import InvalidAddress, normalize_address

    with translation.override("fr"), pytest.raises(InvalidAddress, match="adresse e-mail"):
        normalize_address("nobody")
    with pytest.raises(InvalidAddress, match="is not a mail address"):
        normalize_address("nobody")


@pytest.mark.django_db
def test_the_routing_page_shows_service_answers_in_the_readers_language() -> None:
    from django.test import Client

    from casegate.access import add_user
    from casegate.desk.services import add_intake
    from casegate.directory.services import add_domain
    from casegate.routing.services import RuleSpec, add_rule

    add_domain("solarmora.com")
    add_intake(IntakeKind.CASE, "cases@solarmora.com")
    add_rule(RuleSpec(match_type=MatchType.ADDRESS, match_value="help@solarmora.com",
                      rewrite=Rewrite.RECIPIENT, rewrite_value="cases@solarmora.com"))
    add_user("mo", "mail-settings administrator", "correct horse battery", "mo@people.example")
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    assert client.login(username="mo", password="correct horse battery")
    page = client.get("/console/routing/", {"rcpt": "help@solarmora.com", "spam": "on"})
    text = page.content.decode()
    assert "destinataire unique help@solarmora.com" in text
    assert "classé comme spam" in text and "service d&#x27;assistance" not in text
    refused = client.post("/console/routing/add", {
        "match_type": "address", "match_value": "help@solarmora.com", "rewrite": "recipient",
        "rewrite_value": "ghost@solarmora.com"}).content.decode()
    assert "le nouveau destinataire ghost@solarmora.com n&#x27;est ni un compte" in refused
