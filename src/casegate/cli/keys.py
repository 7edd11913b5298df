"""``casegate dkim``: the signing keys for ARC seals.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse

from casegate.cli.base import Subcommands, add_list, command_group, emit


def register(subcommands: Subcommands) -> None:
    dkim = command_group(subcommands, "dkim", "signing keys for ARC seals")
    p = dkim.add_parser("keygen", help="make a key and print the DNS TXT record to publish")
    p.add_argument("domain")
    p.add_argument("--selector", default="casegate")
    p.set_defaults(func=dkim_keygen)
    add_list(dkim, dkim_list)


def dkim_keygen(args: argparse.Namespace) -> None:
    from casegate.signing.keys import generate_key

    _, record = generate_key(args.domain, args.selector)
    print(record)


def dkim_list(args: argparse.Namespace) -> None:
    from casegate.signing.keys import txt_record
    from casegate.signing.models import SigningKey

    rows = [{"domain": k.domain, "selector": k.selector, "record": txt_record(k),
             "created_at": k.created_at.isoformat()} for k in SigningKey.objects.all()]
    emit(rows, args.json, ["domain", "selector", "created_at"])
