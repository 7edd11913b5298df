"""``casegate init`` and ``casegate demo``: a new installation and the demo company.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse

from casegate.cli.base import Subcommands
from casegate.config import get_config, make_home


def register(subcommands: Subcommands) -> None:
    p = subcommands.add_parser("init", help="create $CASEGATE_HOME and the database")
    p.set_defaults(func=init, creates_database=True)

    p = subcommands.add_parser(
        "demo", help="set up the demo domain, account, group, intakes and rules")
    p.add_argument("--smtp", default="127.0.0.1:2525", metavar="HOST:PORT",
                   help="the SMTP address the printed examples send to (default:"
                        " 127.0.0.1:2525)")
    p.add_argument("--http", default="127.0.0.1:8025", metavar="HOST:PORT",
                   help="the HTTP address the printed console link names (default:"
                        " 127.0.0.1:8025)")
    p.set_defaults(func=demo)


def init(args: argparse.Namespace) -> None:
    from django.db import connection

    from casegate.maintenance.schema import upgrade

    config = get_config()
    make_home(config.home)
    config.mailbox_root.mkdir(parents=True, exist_ok=True)
    upgrade()  # the migrations, as casegate upgrade applies them: never on a newer database
    where = connection.settings_dict["NAME"]
    print(f"casegate home {config.home}; database {connection.vendor} {where} is ready")


def demo(args: argparse.Namespace) -> None:
    from casegate.demo import setup_demo

    print(setup_demo(args.smtp, args.http))
