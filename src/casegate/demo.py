"""The demo company of the article: solarmora.com, its help and sales addresses."""

from __future__ import annotations

import secrets
import shlex
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from casegate.access import SUPER, add_user
from casegate.config import get_config
from casegate.desk.models import Intake
from casegate.desk.services import add_intake
from casegate.desk.vocabulary import IntakeKind
from casegate.directory.models import Account, Domain, Group
from casegate.directory.services import add_account, add_domain, add_group
from casegate.mail.hostport import parse_hostport
from casegate.routing.models import Rule
from casegate.routing.services import RuleSpec, add_rule
from casegate.routing.vocabulary import MatchType, Rewrite

DOMAIN = "solarmora.com"
ACCOUNT = "alex@solarmora.com"
GROUP = "team@solarmora.com"
HELP = "help@solarmora.com"
SALES = "sales@solarmora.com"


def _intake(kind: str, name: str) -> Intake:
    existing = Intake.objects.filter(kind=kind, name=name).first()
    return existing or add_intake(kind, name=name, domain=f"desk.{DOMAIN}")


def _console_admin() -> Path:
    """A super administrator for the console; its password is kept in the home, owner-only."""
    path = get_config().home / "console-admin-password"
    if not get_user_model().objects.filter(username="admin").exists():
        password = secrets.token_urlsafe(12)
        add_user("admin", SUPER, password)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(password + "\n")
        path.chmod(0o600)
    return path


def _casegate_command() -> str:
    """This installation's ``casegate`` as typed in another shell, in any directory: its
    program, after the settings that find this home (and the configuration file when one
    was named)."""
    config = get_config()
    program = Path(sys.executable).with_name("casegate")
    words = [str(program)] if program.exists() else [sys.executable, "-m", "casegate"]
    found_by = {"CASEGATE_HOME": config.home}
    if config.is_set("CASEGATE_CONFIG"):
        found_by["CASEGATE_CONFIG"] = config.config_file
    return " ".join([*(f"{name}={shlex.quote(str(value))}" for name, value in found_by.items()),
                     *map(shlex.quote, words)])


def _rule(match: str, spec: RuleSpec) -> Rule:
    existing = Rule.objects.filter(match_type=MatchType.ADDRESS, match_value=match).first()
    return existing or add_rule(spec)


@transaction.atomic
def setup_demo(smtp: str = "127.0.0.1:2525", http: str = "127.0.0.1:8025") -> str:
    """Create what is missing of the demo (a second run changes nothing); say how to try it
    on a server listening on ``smtp`` and ``http``, with commands that work as printed."""
    if not Domain.objects.filter(name=DOMAIN).exists():
        add_domain(DOMAIN)
    if not Account.objects.filter(address=ACCOUNT).exists():
        add_account(ACCOUNT, "Alex Rivera")
    if not Group.objects.filter(address=GROUP).exists():
        add_group(GROUP, [ACCOUNT], "Support team")
    cases = _intake(IntakeKind.CASE, "Support")
    leads = _intake(IntakeKind.LEAD, "Sales")
    help_rule = _rule(HELP, RuleSpec(
        match_type=MatchType.ADDRESS, match_value=HELP, rewrite=Rewrite.RECIPIENT,
        rewrite_value=cases.address, description="Email to case: help@ opens a case",
    ))
    sales_rule = _rule(SALES, RuleSpec(
        match_type=MatchType.ADDRESS, match_value=SALES, rewrite=Rewrite.RECIPIENT,
        rewrite_value=leads.address, also_deliver=[ACCOUNT],
        description="Sales mail opens a lead; a copy goes to Alex",
    ))
    host, port = parse_hostport(smtp, default_host="127.0.0.1")
    return f"""\
Demo ready: domain {DOMAIN}, account {ACCOUNT}, group {GROUP}
  console: http://{http}/console/ as admin, password in {_console_admin()}
  rule #{help_rule.pk}: {HELP} -> {cases.address} (case intake)
  rule #{sales_rule.pk}: {SALES} -> {leads.address} (lead intake), also deliver to {ACCOUNT}

Send a test mail with swaks:
  swaks --server {smtp} --from customer@example.net --to {HELP} \\
        --header "Subject: My panel stopped charging"
or with Python:
  python3 -c "import smtplib; smtplib.SMTP('{host}', {port}).sendmail('customer@example.net', \\
      ['{HELP}'], b'From: customer@example.net\\r\\nTo: {HELP}\\r\\n' \\
      b'Subject: My panel stopped charging\\r\\n\\r\\nIt shows error E42.\\r\\n')"
Then see the case:
  {_casegate_command()} cases list --json"""
