"""Runtime configuration: ``CASEGATE_*`` environment variables, over a configuration file
(``casegate.toml``), over defaults that work on one machine with the embedded SQLite
database.

:data:`SETTINGS` is the one list of settings: :func:`get_config` builds :class:`Config`
from it, ``casegate config show`` and ``casegate config check`` report on it, and the
README's table lists exactly its names. In the file a setting's key is its variable's name
without ``CASEGATE_``, in lower case: ``hostname = "mx.example.com"``.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import os
import re
import secrets
import socket
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url

from casegate.errors import CasegateError
from casegate.mail.hostport import HostPortError, parse_hostport

FILE_NAME = "casegate.toml"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
DEFAULT_CONSOLE_URL = "http://127.0.0.1:8025"
DEFAULT_CLASSIFIERS = "gtube,trusted-flag"
# The short names CASEGATE_CLASSIFIERS takes besides dotted paths, and what each loads.
BUILT_IN_CLASSIFIERS = {
    "gtube": "casegate.filtering.classifiers.GtubeClassifier",
    "trusted-flag": "casegate.filtering.classifiers.TrustedUpstreamFlag",
    "rspamd": "casegate.filtering.rspamd.RspamdClassifier",
    "spamassassin": "casegate.filtering.spamassassin.SpamAssassinClassifier",
}
# What a spam filter that does not answer in time means for the message: refused for now
# (451, the sender retries) or accepted and marked "not scanned".
UNAVAILABLE_CHOICES = ("tempfail", "accept")
MASKED = "********"
LOG_FORMATS = ("plain", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(CasegateError):
    """A setting holds a value casegate cannot use, or the configuration file cannot be read."""


class Invalid(ValueError):
    """Why a setting's text is no value of that setting; the reader says which setting."""


class Source(StrEnum):
    """Where a setting's value came from; the environment wins over the file."""

    DEFAULT = "default"
    FILE = "file"
    ENVIRONMENT = "environment"


class FileType(Enum):
    """How the configuration file writes a setting's value (the environment has text)."""

    TEXT = "a string"
    WHOLE = "an integer"
    NUMBER = "a number"
    FLAG = "true or false"
    LIST = "an array of strings or a comma-separated string"


# --- readers: a setting's text to its value, or Invalid --------------------------------------


Reader = Callable[[str], Any]


def _text(raw: str) -> str:
    return raw


def _classifier_names(raw: str) -> str:
    for name in filter(None, (part.strip() for part in raw.split(","))):
        if name not in BUILT_IN_CLASSIFIERS and not (
                "." in name and all(part and not any(c.isspace() for c in part)
                                    for part in name.split("."))):
            raise Invalid(f"{name!r} is neither one of {', '.join(BUILT_IN_CLASSIFIERS)} nor"
                          " a dotted path such as package.module.Classifier")
    return raw


def _trimmed(raw: str) -> str:
    return raw.strip()


def _optional(raw: str) -> str | None:
    return raw or None


def _database_url(raw: str) -> str | None:
    """A PostgreSQL URL, as Django will read it (dj_database_url); none: the embedded SQLite."""
    if not raw:
        return None
    try:
        read = dj_database_url.parse(raw)
    except ValueError:
        read = {}
    # An unencoded '/', '?' or '#' in a password ends the authority early: the '@' after it
    # is left in the path, the query or the fragment (an '@' of a name is written %40).
    parts = urlsplit(raw)
    cut_short = "@" in parts.path + parts.query + parts.fragment
    named = read.get("NAME") or "service" in (read.get("OPTIONS") or {})
    if not str(read.get("ENGINE", "")).endswith("postgresql") or cut_short or not named:
        raise Invalid("is not a PostgreSQL URL, postgresql://USER[:PASSWORD]@HOST[:PORT]/NAME"
                      " (characters such as '/', '?', '#' or '@' in a password are written"
                      " %2F, %3F, %23, %40)")
    return raw


def _path(raw: str) -> Path:
    return Path(raw).expanduser().resolve()


def _whole(minimum: int) -> Reader:
    def read(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise Invalid("is not a whole number") from None
        if value < minimum:
            raise Invalid(f"is out of range: the least is {minimum}")
        return value

    return read


def _number(minimum: float = 0.0, *, above: bool = False, scale: float = 1.0) -> Reader:
    """A number of at least ``minimum`` (more than it, ``above``), times ``scale``."""

    def read(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise Invalid("is not a number") from None
        if not math.isfinite(value):
            raise Invalid("is not a number")
        if value < minimum or (above and value == minimum):
            least = "more than" if above else "at least"
            raise Invalid(f"is out of range: it must be {least} {minimum:g}")
        return value * scale

    return read


def _port(raw: str) -> int:
    port = _whole(1)(raw)
    if port > 65535:
        raise Invalid("is out of range: a port is at most 65535")
    return int(port)


def _flag(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("", "0", "no", "false", "off"):
        return False
    if lowered in ("1", "yes", "true", "on"):
        return True
    raise Invalid("is not 1 or 0")


def _choice(*choices: str, meaning: Callable[[str], Any] = _text) -> Reader:
    """One of ``choices``; ``meaning`` turns it into the value :class:`Config` holds."""

    def read(raw: str) -> Any:
        if raw not in choices:
            raise Invalid(f"must be {' or '.join(choices)}")
        return meaning(raw)

    return read


def _console_url(raw: str) -> str:
    """``scheme://host[:port]`` as browsers reach the console, without a trailing slash."""
    url = urlsplit(raw.strip())
    if url.scheme not in ("http", "https") or not url.hostname or url.path not in ("", "/") \
            or url.query or url.fragment or url.username or url.password:
        raise Invalid("is not http(s)://HOST[:PORT], for example https://desk.example.com")
    return f"{url.scheme}://{url.netloc.lower()}"


def _http_url(raw: str) -> str:
    """An ``http(s)://HOST[:PORT]`` base URL without a trailing slash, or ``""`` (off)."""
    raw = raw.strip()
    if not raw:
        return ""
    url = urlsplit(raw)
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        raise Invalid("is not http(s)://HOST:PORT, for example http://127.0.0.1:11333")
    return raw.rstrip("/")


def _log_file(raw: str) -> Path | None:
    if not raw.strip():
        return None
    path = _path(raw)
    if not path.parent.is_dir():
        raise Invalid(f"is in {path.parent}, which is not a directory")
    return path


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in LOG_LEVELS:
        raise Invalid(f"must be {' or '.join(LOG_LEVELS)}")
    return level


def _items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for part in _items(raw):
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise Invalid(f"names {part!r}, which is not a network") from None
    return tuple(nets)


@lru_cache(maxsize=4096)
def _within(ip: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
            ) -> bool:
    """Whether ``ip`` is in one of ``networks``; a client's sessions ask again and again."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)


def _spamd_address(raw: str) -> tuple[str, int]:
    try:
        address = parse_hostport(raw, default_port=783)
    except HostPortError:
        raise Invalid("is not HOST[:PORT], for example 127.0.0.1:783") from None
    return address.host, address.port


def _name_servers(raw: str) -> tuple[tuple[str, int], ...]:
    """IP or IP:PORT, comma-separated ([v6]:PORT for IPv6)."""
    servers = []
    for entry in _items(raw):
        try:
            server = parse_hostport(entry, default_port=53, example="192.0.2.53:53")
            ipaddress.ip_address(server.host)
        except (HostPortError, ValueError):
            raise Invalid(f"names {entry!r}, which is not IP or IP:PORT") from None
        servers.append((server.host, server.port))
    return tuple(servers)


def _domains(raw: str) -> frozenset[str]:
    """A comma-separated list of domain names, lower-case, without a final dot."""
    return frozenset(d.rstrip(".").lower() for d in _items(raw))


def _zones(raw: str) -> tuple[str, ...]:
    """DNS block list zones, in the order they are asked."""
    return tuple(dict.fromkeys(z.strip(".").lower() for z in _items(raw)))


def _authserv_id(raw: str) -> str:
    return raw.strip().lower()


# --- how config show prints a secret -----------------------------------------------------------


def _masked(text: str) -> str:
    return MASKED if text else ""


_PASSWORD_PARAMETER = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)


def _password_masked(url: str) -> str:
    """A URL with its password masked: in its user part, read without a URL parser (one
    left unencoded may hold '/', '?' or '#', which end a URL's authority; up to the last
    '@', so an '@' further on hides more, never less), and in a ``password=`` parameter
    (libpq's form)."""
    scheme, sep, rest = url.partition("://")
    if sep:
        at = rest.rfind("@")
        user, colon, _ = rest[:max(at, 0)].partition(":")
        if at > 0 and colon:
            url = f"{scheme}://{user}:{MASKED}@{rest[at + 1:]}"
    return _PASSWORD_PARAMETER.sub(rf"\g<1>{MASKED}", url)


# --- the settings ------------------------------------------------------------------------------


Default = str | Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class Setting:
    """One ``CASEGATE_*`` variable: how its text is read into :class:`Config`."""

    variable: str
    read: Reader
    # Its text when neither the environment nor the file sets it, or how to find that text
    # from the values of the settings listed before it.
    default: Default = ""
    file_type: FileType = FileType.TEXT
    attribute: str = ""  # the Config field, when not the file's key
    keeps_empty: bool = False  # an empty value is a value of its own, not "unset"
    mask: Callable[[str], str] | None = None  # a secret: how to show it
    in_file: bool = True

    @property
    def key(self) -> str:
        """The setting's name in the configuration file."""
        return self.variable.removeprefix("CASEGATE_").lower()

    @property
    def field_name(self) -> str:
        return self.attribute or self.key


def _this_host(_: Mapping[str, Any]) -> str:
    return socket.getfqdn() or "localhost"


def _hostname_read(values: Mapping[str, Any]) -> str:
    return str(values.get("hostname", ""))


MEBIBYTE = 1024 * 1024
# The file is found through these two, so the file cannot set the first; it can set the
# home (useful in a file named by CASEGATE_CONFIG).
CONFIG_FILE = Setting("CASEGATE_CONFIG", _path, attribute="config_file", in_file=False)
HOME = Setting("CASEGATE_HOME", _path, "var")

SETTINGS: tuple[Setting, ...] = (
    CONFIG_FILE,
    HOME,
    Setting("CASEGATE_DATABASE_URL", _database_url, mask=_password_masked),
    Setting("CASEGATE_SECRET_KEY", _text, mask=_masked),
    Setting("CASEGATE_HOSTNAME", _text, _this_host),
    Setting("CASEGATE_DESK_DOMAIN", _text, "desk.casegate.localhost"),
    Setting("CASEGATE_RECIPIENT_DELIMITER", _text, "+", keeps_empty=True),
    Setting("CASEGATE_MAX_MESSAGE_SIZE", _whole(1), str(25 * MEBIBYTE), FileType.WHOLE),
    Setting("CASEGATE_MAX_RECIPIENTS", _whole(1), "100", FileType.WHOLE),
    Setting("CASEGATE_SMTP_TIMEOUT", _number(above=True), "300", FileType.NUMBER),
    Setting("CASEGATE_TLS_CERT", _optional),
    Setting("CASEGATE_TLS_KEY", _optional),
    Setting("CASEGATE_TLS_CA_FILE", _optional),
    Setting("CASEGATE_TRUSTED_NETWORKS", _networks, "127.0.0.0/8,::1/128", FileType.LIST,
            keeps_empty=True),
    Setting("CASEGATE_CLASSIFIERS", _classifier_names, DEFAULT_CLASSIFIERS, FileType.LIST,
            keeps_empty=True),
    Setting("CASEGATE_RSPAMD_URL", _http_url),
    Setting("CASEGATE_RSPAMD_TIMEOUT", _number(above=True), "5", FileType.NUMBER),
    Setting("CASEGATE_RSPAMD_UNAVAILABLE", _choice(*UNAVAILABLE_CHOICES), "tempfail"),
    Setting("CASEGATE_RSPAMD_CONTROLLER_URL", _http_url),
    Setting("CASEGATE_RSPAMD_PASSWORD", _text, mask=_masked),
    Setting("CASEGATE_SPAMD_ADDRESS", _spamd_address, "127.0.0.1:783"),
    Setting("CASEGATE_SPAMD_TIMEOUT", _number(above=True), "5", FileType.NUMBER),
    Setting("CASEGATE_SPAMD_UNAVAILABLE", _choice(*UNAVAILABLE_CHOICES), "tempfail"),
    Setting("CASEGATE_RETRY_MIN", _number(above=True), "60", FileType.NUMBER),
    Setting("CASEGATE_RETRY_MAX", _number(above=True), "4000", FileType.NUMBER),
    Setting("CASEGATE_MESSAGE_LIFETIME", _number(above=True), str(5 * 24 * 3600),
            FileType.NUMBER),
    Setting("CASEGATE_WORKER_POLL", _number(above=True), "5", FileType.NUMBER),
    Setting("CASEGATE_LEASE_SECONDS", _number(above=True), "300", FileType.NUMBER),
    Setting("CASEGATE_CLIENT_RATE", _whole(0), "0", FileType.WHOLE),
    Setting("CASEGATE_RECIPIENT_RATE", _whole(0), "0", FileType.WHOLE),
    Setting("CASEGATE_MAX_SESSIONS", _whole(0), "1000", FileType.WHOLE),
    Setting("CASEGATE_MAX_SESSIONS_PER_CLIENT", _whole(0), "50", FileType.WHOLE),
    Setting("CASEGATE_POSTMASTER", _trimmed),
    Setting("CASEGATE_ABUSE", _trimmed),
    Setting("CASEGATE_DEBUG", _flag, "0", FileType.FLAG),
    Setting("CASEGATE_CONSOLE_URL", _console_url, DEFAULT_CONSOLE_URL),
    Setting("CASEGATE_BEHIND_PROXY", _flag, "0", FileType.FLAG),
    Setting("CASEGATE_SET_ASIDE_AFTER", _whole(1), "5", FileType.WHOLE),
    Setting("CASEGATE_DESTINATION_CONCURRENCY", _whole(1), "4", FileType.WHOLE,
            attribute="connections_per_destination"),
    Setting("CASEGATE_REMOTE_SMTP_PORT", _port, "25", FileType.WHOLE),
    Setting("CASEGATE_MTA_STS_PORT", _port, "443", FileType.WHOLE),
    Setting("CASEGATE_DNS_SERVERS", _name_servers, "", FileType.LIST),
    Setting("CASEGATE_SENDER_AUTH", _choice("on", "off", meaning=lambda v: v == "on"), "on"),
    Setting("CASEGATE_AUTHSERV_ID", _authserv_id, _hostname_read),
    Setting("CASEGATE_AUTH_DNS_TIMEOUT", _number(above=True), "5", FileType.NUMBER),
    Setting("CASEGATE_DMARC_REJECT",
            _choice("reject", "quarantine", meaning=lambda v: v == "quarantine"), "reject",
            attribute="dmarc_reject_as_quarantine"),
    Setting("CASEGATE_DMARC_QUARANTINE_DOMAINS", _domains, "", FileType.LIST),
    Setting("CASEGATE_ARC_TRUSTED", _domains, "", FileType.LIST),
    Setting("CASEGATE_DNSBL_ZONES", _zones, "", FileType.LIST),
    Setting("CASEGATE_DNSBL_TIMEOUT", _number(above=True), "2", FileType.NUMBER),
    Setting("CASEGATE_CASE_TAG_PREFIX", _text, "CG"),
    Setting("CASEGATE_ACK_LIMIT", _whole(0), "3", FileType.WHOLE),
    Setting("CASEGATE_LOOP_LIMIT", _whole(0), "20", FileType.WHOLE),
    Setting("CASEGATE_SUSPENDED_DAYS", _whole(0), "14", FileType.WHOLE),
    # hours in the setting, seconds in Config
    Setting("CASEGATE_DELAY_WARNING", _number(scale=3600), "0", FileType.NUMBER),
    Setting("CASEGATE_BLOB_STORE", _choice("disk", "database"), "disk"),
    Setting("CASEGATE_ATTACHMENT_MAX_FILE", _whole(0), str(25 * MEBIBYTE), FileType.WHOLE),
    Setting("CASEGATE_ATTACHMENT_MAX_MESSAGE", _whole(0), str(50 * MEBIBYTE), FileType.WHOLE),
    Setting("CASEGATE_LOG_FORMAT", _choice(*LOG_FORMATS), "plain"),
    Setting("CASEGATE_LOG_LEVEL", _log_level, "INFO"),
    Setting("CASEGATE_LOG_FILE", _log_file),
    Setting("CASEGATE_MAILBOX_POLL", _number(above=True), "60", FileType.NUMBER),
    Setting("CASEGATE_MAILBOX_RETRY_MAX", _number(above=True), "900", FileType.NUMBER),
    Setting("CASEGATE_WEBHOOK_TIMEOUT", _number(above=True), "10", FileType.NUMBER),
    Setting("CASEGATE_WEBHOOK_PRIVATE_TARGETS", _flag, "0", FileType.FLAG),
)


@dataclass(frozen=True)
class Config:
    """The settings' values: one field per entry of :data:`SETTINGS`, in its order."""

    config_file: Path
    home: Path
    database_url: str | None
    secret_key: str = field(repr=False)
    hostname: str
    desk_domain: str
    recipient_delimiter: str
    max_message_size: int
    max_recipients: int
    smtp_timeout: float
    tls_cert: str | None
    tls_key: str | None
    tls_ca_file: str | None
    trusted_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    classifiers: str
    rspamd_url: str
    rspamd_timeout: float
    rspamd_unavailable: str
    rspamd_controller_url: str
    rspamd_password: str = field(repr=False)
    spamd_address: tuple[str, int]
    spamd_timeout: float
    spamd_unavailable: str
    retry_min: float
    retry_max: float
    message_lifetime: float
    worker_poll: float
    lease_seconds: float
    client_rate: int
    recipient_rate: int
    max_sessions: int
    max_sessions_per_client: int
    postmaster: str
    abuse: str
    debug: bool
    console_url: str
    behind_proxy: bool
    set_aside_after: int
    connections_per_destination: int
    remote_smtp_port: int
    mta_sts_port: int
    dns_servers: tuple[tuple[str, int], ...]
    sender_auth: bool
    authserv_id: str
    auth_dns_timeout: float
    dmarc_reject_as_quarantine: bool
    dmarc_quarantine_domains: frozenset[str]
    arc_trusted: frozenset[str]
    dnsbl_zones: tuple[str, ...]
    dnsbl_timeout: float
    case_tag_prefix: str
    ack_limit: int
    loop_limit: int
    suspended_days: int
    delay_warning: float  # seconds
    blob_store: str
    attachment_max_file: int
    attachment_max_message: int
    log_format: str
    log_level: str
    log_file: Path | None
    mailbox_poll: float
    mailbox_retry_max: float
    webhook_timeout: float
    webhook_private_targets: bool
    # Where each value came from, by variable name.
    sources: Mapping[str, Source] = field(default_factory=dict, compare=False, repr=False)

    @property
    def mailbox_root(self) -> Path:
        return self.home / "mailboxes"

    @property
    def sqlite_path(self) -> Path:
        return self.home / "casegate.sqlite3"

    @property
    def console_host(self) -> str:
        """The host name of :attr:`console_url`, as Django's ``ALLOWED_HOSTS`` spells it."""
        host = urlsplit(self.console_url).hostname or ""
        return f"[{host}]" if ":" in host else host

    @property
    def console_is_https(self) -> bool:
        return self.console_url.startswith("https://")

    def is_set(self, variable: str) -> bool:
        """Whether ``variable`` was given, in the environment or the file."""
        return self.sources.get(variable, Source.DEFAULT) != Source.DEFAULT

    def is_trusted(self, ip: str | None) -> bool:
        return _within(ip, self.trusted_networks) if ip else False


# --- reading the environment and the file ------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A setting's text as casegate uses it, and where it came from."""

    setting: Setting
    text: str
    source: Source

    @property
    def shown(self) -> str:
        """The text, a secret masked."""
        return self.setting.mask(self.text) if self.setting.mask else self.text


@dataclass(frozen=True)
class Reading:
    """The configuration as read: every setting's value and source, and every problem."""

    file: Path
    file_found: bool
    values: tuple[Value, ...]
    problems: tuple[str, ...]
    config: Config | None  # None when there are problems


def _given(setting: Setting, raw: str | None) -> str | None:
    """``raw`` if it sets ``setting``: an empty value leaves most settings at their default."""
    if raw is None or (raw == "" and not setting.keeps_empty):
        return None
    return raw


def _toml(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _toml_type(value: object) -> str:
    kinds = ((bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
             (list, "an array"), (dict, "a table"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "a date or time")


def _file_text(file_type: FileType, value: object) -> str:
    """A value of the file as the environment would write it, or Invalid for a wrong type."""
    if isinstance(value, str) and file_type in (FileType.TEXT, FileType.LIST):
        return value
    if file_type is FileType.LIST and isinstance(value, list) \
            and all(isinstance(item, str) for item in value):
        return ",".join(value)
    if file_type is FileType.FLAG and isinstance(value, bool):
        return "1" if value else "0"
    numbers = {FileType.WHOLE: (int,), FileType.NUMBER: (int, float)}.get(file_type, ())
    if isinstance(value, numbers) and not isinstance(value, bool):
        return str(value)
    raise Invalid(f"has the wrong type: expected {file_type.value}, not {_toml_type(value)}")


def _read_file(path: Path, named: bool, problems: list[str]) -> tuple[dict[str, Any], bool]:
    """The file's entries and whether it exists; a missing file is a problem when named."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle), True
    except FileNotFoundError:
        if named:
            problems.append(f"{path}: there is no such configuration file"
                            " (named by --config or CASEGATE_CONFIG)")
        return {}, False
    except OSError as exc:
        problems.append(f"{path}: cannot be read: {exc.strerror or exc}")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: is not TOML: {exc}")
    return {}, True


def _unknown_keys(path: Path, entries: Mapping[str, Any]) -> list[str]:
    keys = [setting.key for setting in SETTINGS if setting.in_file]
    problems = []
    for key in entries:
        if key in keys:
            continue
        if key in (setting.key for setting in SETTINGS):
            problems.append(f"{path}: {key} is only read from the environment")
            continue
        plain = key.lower().removeprefix("casegate_")
        closest = difflib.get_close_matches(plain, keys, n=1)
        hint = (f"; did you mean {closest[0]!r}?" if closest
                else "; the settings are at the top level, in no table"
                if isinstance(entries[key], dict) else "")
        problems.append(f"{path}: {key!r} is not a setting{hint}")
    return problems


def _where(value: Value, file: Path, entries: Mapping[str, Any]) -> str:
    """How a problem names the value: as the environment or the file writes it (a secret
    masked, as ``config show`` shows it)."""
    mask = value.setting.mask
    if value.source is Source.FILE:
        written = _toml(entries[value.setting.key])
        return f"{file}: {value.setting.key} = {mask(written) if mask else written}"
    if value.source is Source.DEFAULT:
        return f"{value.setting.variable} (default {value.text!r})"
    return f"{value.setting.variable}={value.shown!r}"


def read_configuration(environ: Mapping[str, str] | None = None) -> Reading:
    """Every setting from ``environ`` (the process's environment by default), the
    configuration file and the defaults, with every problem found on the way."""
    environ = os.environ if environ is None else environ
    given = {setting.variable: raw for setting in SETTINGS
             if (raw := _given(setting, environ.get(setting.variable))) is not None}
    named = given.get(CONFIG_FILE.variable)
    file = _path(named or str(Path(given.get(HOME.variable) or str(HOME.default))
                                   / FILE_NAME))
    problems: list[str] = []
    entries, found = _read_file(file, named is not None, problems)
    problems += _unknown_keys(file, entries)
    values: list[Value] = []
    read: dict[str, Any] = {}
    for setting in SETTINGS:
        value: Value | None = None
        if setting is CONFIG_FILE:
            value = Value(setting, str(file), Source.ENVIRONMENT if named else Source.DEFAULT)
        elif setting.variable in given:
            value = Value(setting, given[setting.variable], Source.ENVIRONMENT)
        elif setting.in_file and setting.key in entries:
            try:
                text = _file_text(setting.file_type, entries[setting.key])
            except Invalid as exc:
                values.append(Value(setting, _toml(entries[setting.key]), Source.FILE))
                problems.append(f"{_where(values[-1], file, entries)} {exc}")
                continue
            if _given(setting, text) is not None:
                value = Value(setting, text, Source.FILE)
        if value is None:
            default = setting.default
            value = Value(setting, default if isinstance(default, str) else default(read),
                          Source.DEFAULT)
        values.append(value)
        try:
            read[setting.field_name] = setting.read(value.text)
        except Invalid as exc:
            problems.append(f"{_where(value, file, entries)} {exc}")
    config = None if problems else Config(
        **read, sources={value.setting.variable: value.source for value in values})
    return Reading(file, found, tuple(values), tuple(problems), config)


@cache
def get_config() -> Config:
    reading = read_configuration()
    if reading.config is None:
        raise ConfigError("; ".join(reading.problems))
    return reading.config


def use_config_file(path: str) -> None:
    """Read the configuration from ``path`` from now on, in this process and those it starts
    (``casegate --config FILE``)."""
    os.environ[CONFIG_FILE.variable] = str(_path(path))
    get_config.cache_clear()


def make_home(home: Path) -> None:
    """Create the home, if missing, for its owner alone: the database in it holds the mail,
    password hashes and DKIM keys, whatever mode the umask gives the files made in it."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)


def secret_key(config: Config) -> str:
    """The Django secret key: ``CASEGATE_SECRET_KEY`` or one kept in ``$CASEGATE_HOME``."""
    if config.secret_key:
        return config.secret_key
    path = config.home / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    try:
        make_home(config.home)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    except OSError:
        return key
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
