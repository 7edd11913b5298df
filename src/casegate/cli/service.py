"""``casegate service install``: the systemd units for ``casegate serve`` and extra workers.

The units are templates shipped with the package (``casegate/deploy/systemd``); installing
fills in the user, the home, the addresses and the path of this installation's ``casegate``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from importlib import resources
from pathlib import Path
from string import Template

from casegate.cli.base import Subcommands, command_group
from casegate.config import CONFIG_FILE, Source, read_configuration
from casegate.errors import CasegateError
from casegate.mail.hostport import HostPortError, parse_hostport

UNITS = ("casegate.service", "casegate-worker@.service")
DEFAULT_DEST = "/etc/systemd/system"


def register(subcommands: Subcommands) -> None:
    service = command_group(subcommands, "service", "run casegate as a systemd service")
    p = service.add_parser(
        "install", help="write the systemd units for casegate serve and extra workers")
    p.add_argument("--user", default="casegate",
                   help="the dedicated system user (and group) the units run as (default:"
                        " casegate)")
    p.add_argument("--home", default=None, metavar="DIR",
                   help="CASEGATE_HOME of the service, its one writable directory (default:"
                        " this configuration's home)")
    p.add_argument("--smtp", default="0.0.0.0:25", metavar="HOST:PORT",
                   help="where serve listens for SMTP (default: 0.0.0.0:25)")
    p.add_argument("--http", default="127.0.0.1:8025", metavar="HOST:PORT",
                   help="where the console listens, behind the HTTPS proxy (default:"
                        " 127.0.0.1:8025)")
    p.add_argument("--dest", default=DEFAULT_DEST, metavar="DIR",
                   help=f"where the unit files go (default: {DEFAULT_DEST})")
    p.add_argument("--dry-run", action="store_true",
                   help="print the units instead of writing them")
    p.set_defaults(func=install, needs_django=False)


def _casegate_command() -> str:
    """This installation's ``casegate``: the script beside the running Python (the venv's),
    else the interpreter running the module."""
    script = Path(sys.executable).parent / "casegate"
    if script.is_file():
        return str(script)
    return f"{sys.executable} -m casegate"


def _address(text: str, option: str) -> str:
    try:
        return str(parse_hostport(text, any_port=False))
    except HostPortError as exc:
        raise CasegateError(f"{option} {exc}") from None


def _config_file() -> str:
    """The configuration file named by ``--config`` or ``CASEGATE_CONFIG``, or ``""`` (the
    home's own ``casegate.toml``, which the service finds by itself)."""
    named = next(v for v in read_configuration().values if v.setting is CONFIG_FILE)
    return named.text if named.source is Source.ENVIRONMENT else ""


def _render_units(user: str, home: Path, smtp: str, http: str, config_file: str
                  ) -> dict[str, str]:
    """Each unit file's name and text (``config_file``: the file named, or ``""``)."""
    if not user or any(c.isspace() for c in user):
        raise CasegateError(f"--user {user!r} is not a user name")
    fields = {"user": user, "group": user, "home": str(home), "casegate": _casegate_command(),
              "smtp": _address(smtp, "--smtp"), "http": _address(http, "--http"),
              "config_file": f"Environment=CASEGATE_CONFIG={config_file}" if config_file
              else f"# the settings: {home}/casegate.toml and the environment"}
    for option, value in (("--home", fields["home"]), ("--config", config_file)):
        if any(c.isspace() for c in value):
            raise CasegateError(f"{option} {value}: a service's paths cannot contain spaces")
    templates = resources.files("casegate") / "deploy" / "systemd"
    return {name: Template((templates / name).read_text()).substitute(fields)
            for name in UNITS}


def install(args: argparse.Namespace) -> int:
    home = Path(args.home).resolve() if args.home else _configured_home()
    config_file = _config_file()
    units = _render_units(args.user, home, args.smtp, args.http, config_file)
    dest = Path(args.dest)
    if args.dry_run:
        for name, text in units.items():
            print(f"# {dest / name}\n{text}")
        return 0
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for name, text in units.items():
            (dest / name).write_text(text)
    except OSError as exc:
        raise CasegateError(f"cannot write the units to {dest}: {exc.strerror or exc}"
                            ) from None
    user, where = shlex.quote(args.user), shlex.quote(str(home))
    command = _casegate_command()
    if config_file:
        command += f" --config {shlex.quote(config_file)}"
    print("\n".join([
        f"wrote {', '.join(str(dest / name) for name in units)}",
        "next, as root:",
        f"  id {user} || useradd --system --user-group --home-dir {where}"
        f" --shell /usr/sbin/nologin {user}",
        f"  install -d -o {user} -g {user} -m 750 {where}",
        f"  runuser -u {user} -- env CASEGATE_HOME={where} {command} init",
        "  systemctl daemon-reload && systemctl enable --now casegate",
        "  systemctl enable --now casegate-worker@1   # more workers: PostgreSQL only",
    ]))
    return 0


def _configured_home() -> Path:
    reading = read_configuration()
    home = next(v for v in reading.values if v.setting.variable == "CASEGATE_HOME")
    return Path(home.text).expanduser().resolve()
