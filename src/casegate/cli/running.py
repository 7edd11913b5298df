"""``casegate serve``, ``worker`` and ``verify``: running the gateway and checking it.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
import json
import os

from casegate.cli.base import Subcommands
from casegate.config import get_config


def register(subcommands: Subcommands) -> None:
    p = subcommands.add_parser(
        "serve", help="run the SMTP gateway, the HTTP app and a delivery worker")
    p.add_argument("--smtp", default="127.0.0.1:2525", metavar="HOST:PORT",
                   help="where the SMTP gateway listens (default: 127.0.0.1:2525)")
    p.add_argument("--http", default=None, metavar="HOST:PORT",
                   help="where the console, the REST API and /metrics listen (default: no"
                        " HTTP)")
    p.add_argument("--no-worker", action="store_true",
                   help="do not start a delivery worker (run `casegate worker` elsewhere)")
    p.add_argument("--processes", type=int, default=None, metavar="N",
                   help="gateway processes accepting SMTP on the one port (default: one per"
                        f" core, here {os.cpu_count() or 1}; 1 serves SMTP in the serving"
                        " process itself)")
    p.set_defaults(func=serve, long_running=True)

    p = subcommands.add_parser("gateway", help=argparse.SUPPRESS)
    p.add_argument("--listen", required=True, metavar="HOST:PORT")
    p.add_argument("--parent-pid", type=int, required=True)
    p.set_defaults(func=gateway, long_running=True)

    p = subcommands.add_parser("worker", help="run a delivery worker only")
    p.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=worker, long_running=True)

    p = subcommands.add_parser("verify", help="send a test message and report every hop")
    p.add_argument("address")
    p.add_argument("--smtp", default="127.0.0.1:2525", metavar="HOST:PORT",
                   help="the gateway's SMTP address (default 127.0.0.1:2525)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="seconds to wait for every hop (default: 30)")
    p.add_argument("--keep", action="store_true",
                   help="keep the case, lead and mailbox copies the test message made (by"
                        " default they are removed once verified)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=verify)


def serve(args: argparse.Namespace) -> None:
    from casegate.maintenance.schema import require_current_schema
    from casegate.serve import serve as run_serve

    require_current_schema()
    run_serve(get_config(), args.smtp, args.http, with_worker=not args.no_worker,
              processes=args.processes)


def gateway(args: argparse.Namespace) -> None:
    from casegate.serve import run_gateway

    run_gateway(get_config(), args.listen, args.parent_pid)


def worker(args: argparse.Namespace) -> None:
    from casegate.maintenance.schema import require_current_schema
    from casegate.serve import run_worker

    require_current_schema()
    run_worker(get_config(), args.parent_pid)


def verify(args: argparse.Namespace) -> None:
    from casegate.mail.hostport import parse_hostport
    from casegate.verify import verify as run_verify

    gateway = parse_hostport(args.smtp, default_host="127.0.0.1")
    result = run_verify(args.address, gateway.host, gateway.port, get_config().hostname,
                        args.timeout, keep=args.keep)
    print(json.dumps(result.as_dict(), indent=2) if args.json else "\n".join(result.lines()))
    if not result.ok:
        raise SystemExit(1)
