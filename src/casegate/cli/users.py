"""``casegate user`` and ``token``: console users, their roles and their REST API tokens.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
import sys

from casegate.cli.base import Subcommands, add_list, command_group, emit

ROLE_NAMES = {"super": "super administrator", "mail-settings": "mail-settings administrator",
              "agent": "agent", "viewer": "viewer"}


def register(subcommands: Subcommands) -> None:
    _register_user(command_group(subcommands, "user", "console users and their roles"))
    _register_token(command_group(subcommands, "token", "REST API tokens"))


def _register_user(user: Subcommands) -> None:
    p = user.add_parser("add", help="create a user (or change their role and password)")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=list(ROLE_NAMES))
    p.add_argument("--email", default="")
    secret = p.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of stdin")
    secret.add_argument("--password", help="visible to other local users; prefer stdin")
    p.set_defaults(func=user_add)
    add_list(user, user_list)


def _register_token(token: Subcommands) -> None:
    p = token.add_parser("create", help="print a new token (shown once)")
    p.add_argument("username")
    p.add_argument("--name", default="")
    p.set_defaults(func=token_create)
    p = token.add_parser("revoke")
    p.add_argument("prefix")
    p.set_defaults(func=token_revoke)
    add_list(token, token_list)


def user_add(args: argparse.Namespace) -> None:
    from casegate.access import add_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else args.password
    user = add_user(args.username, ROLE_NAMES[args.role], password, args.email)
    print(f"user {user.get_username()}: {ROLE_NAMES[args.role]}")


def user_list(args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model

    from casegate.access import roles_of

    rows = [{"username": u.get_username(), "email": u.email, "active": u.is_active,
             "roles": sorted(roles_of(u)) if not u.is_superuser else ["super administrator"]}
            for u in get_user_model().objects.order_by("username")]
    emit(rows, args.json, ["username", "email", "roles"])


def token_create(args: argparse.Namespace) -> None:
    from casegate.api.tokens import create_token

    print(create_token(args.username, args.name))


def token_revoke(args: argparse.Namespace) -> None:
    from casegate.api.tokens import revoke_token

    revoke_token(args.prefix)
    print(f"token {args.prefix} revoked")


def token_list(args: argparse.Namespace) -> None:
    from casegate.api.tokens import list_tokens

    emit(list_tokens(), args.json, ["prefix", "username", "name", "last_used_at"])
