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
    p.add_argument("--lmtp", default="", metavar="HOST:PORT|unix:PATH",
                   help="also take mail from the company's mail server over LMTP there"
                        " (default: no LMTP)")
    p.set_defaults(func=serve, long_running=True)

    p = subcommands.add_parser(
        "deliver", help="take one message on standard input, as from a mail server's pipe",
        description="Store the message read from standard input for the recipients given,"
                    " as if it had come over SMTP. The exit status tells a mail server what"
                    " to do: 0 stored, 67 unknown recipient, 75 try again later, 69 refused"
                    " for another reason (sysexits.h).")
    p.add_argument("--to", action="append", required=True, metavar="ADDRESS",
                   help="an envelope recipient (repeat for more)")
    p.add_argument("--sender", default="", metavar="ADDRESS",
                   help="the envelope sender (default: the null sender)")
    p.set_defaults(func=deliver)

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

    p = subcommands.add_parser(
        "doctor", help="check each domain's DNS records and this host: ok, warning or failing,"
                       " with the record to publish; exit 0 all ok, 1 warnings, 2 failures")
    p.add_argument("domains", nargs="*", metavar="DOMAIN",
                   help="the domains to check (default: every company domain)")
    p.add_argument("--smtp", default="127.0.0.1:2525", metavar="HOST:PORT",
                   help="where the SMTP gateway listens (default: 127.0.0.1:2525)")
    p.add_argument("--http", default=None, metavar="URL",
                   help="where the HTTP app answers (default: CASEGATE_CONSOLE_URL)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=doctor)


def serve(args: argparse.Namespace) -> None:
    from casegate.maintenance.schema import require_current_schema
    from casegate.serve import serve as run_serve

    require_current_schema()
    run_serve(get_config(), args.smtp, args.http, with_worker=not args.no_worker,
              processes=args.processes, lmtp=args.lmtp)


def deliver(args: argparse.Namespace) -> None:
    import sys

    from casegate.gateway.pipe import deliver_from

    status, reply = deliver_from(sys.stdin.buffer, args.to, args.sender, get_config())
    print(reply, file=sys.stderr if status else sys.stdout)
    raise SystemExit(status)


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


def doctor(args: argparse.Namespace) -> int:
    from casegate.directory.addresses import normalize_domain
    from casegate.directory.models import Domain
    from casegate.doctor.examination import examine, this_host
    from casegate.mail.hostport import parse_hostport

    config = get_config()
    host = this_host(config, parse_hostport(args.smtp, default_host="127.0.0.1"),
                     args.http or config.console_url)
    domains = [normalize_domain(d) for d in args.domains] or list(
        Domain.objects.order_by("name").values_list("name", flat=True))
    report = examine(domains, host)
    print(json.dumps(report.as_dict(), indent=2) if args.json else "\n".join(report.lines()))
    return report.exit_code
