"""Runtime configuration read from the environment (``CASEGATE_*``).

Every setting has a default that works on one machine with the embedded SQLite
database; the README lists them all.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from casegate.errors import CasegateError
from casegate.mail.hostport import HostPortError, parse_hostport


class ConfigError(CasegateError):
    """A ``CASEGATE_*`` variable holds a value casegate cannot use."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


# --- the HTTP side: the console's public address and the proxy in front of it ---------------

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
DEFAULT_CONSOLE_URL = "http://127.0.0.1:8025"


def _env_bool(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "0", "no", "false", "off"):
        return False
    if raw in ("1", "yes", "true", "on"):
        return True
    raise ConfigError(f"{name}={raw!r} is not 1 or 0")


def _console_url(raw: str) -> str:
    """``scheme://host[:port]`` as browsers reach the console, without a trailing slash."""
    url = urlsplit(raw.strip())
    if url.scheme not in ("http", "https") or not url.hostname or url.path not in ("", "/") \
            or url.query or url.fragment or url.username or url.password:
        raise ConfigError(f"CASEGATE_CONSOLE_URL={raw!r}: expected http(s)://HOST[:PORT], "
                          "for example https://desk.example.com")
    return f"{url.scheme}://{url.netloc.lower()}"


# ----------------------------------------------------------------------------------------------


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"CASEGATE_TRUSTED_NETWORKS: {part!r} is not a network") from None
    return tuple(nets)


DEFAULT_CLASSIFIERS = "gtube,trusted-flag"
# What a spam filter that does not answer in time means for the message: refused for now
# (451, the sender retries) or accepted and marked "not scanned".
UNAVAILABLE_CHOICES = ("tempfail", "accept")


def _http_url(name: str) -> str:
    """An ``http(s)://HOST[:PORT]`` base URL without a trailing slash, or ``""`` (off)."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return ""
    url = urlsplit(raw)
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        raise ConfigError(f"{name}={raw!r}: expected http(s)://HOST:PORT, "
                          "for example http://127.0.0.1:11333")
    return raw.rstrip("/")


def _spamd_address(raw: str) -> tuple[str, int]:
    try:
        address = parse_hostport(raw or "127.0.0.1:783", default_port=783,
                                 example="127.0.0.1:783")
    except HostPortError as exc:
        raise ConfigError(f"CASEGATE_SPAMD_ADDRESS {exc}") from None
    return address.host, address.port


def _name_servers(raw: str) -> tuple[tuple[str, int], ...]:
    """``CASEGATE_DNS_SERVERS``: IP or IP:PORT, comma-separated ([v6]:PORT for IPv6)."""
    servers = []
    for entry in filter(None, (e.strip() for e in raw.split(","))):
        try:
            server = parse_hostport(entry, default_port=53, example="192.0.2.53:53")
            ipaddress.ip_address(server.host)
        except (HostPortError, ValueError):
            raise ConfigError(f"CASEGATE_DNS_SERVERS: {entry!r} is not IP or IP:PORT") from None
        servers.append((server.host, server.port))
    return tuple(servers)


def _domains(raw: str) -> frozenset[str]:
    """A comma-separated list of domain names, lower-case, without a final dot."""
    return frozenset(d.strip().rstrip(".").lower() for d in raw.split(",") if d.strip())


def _zones(raw: str) -> tuple[str, ...]:
    """``CASEGATE_DNSBL_ZONES``: DNS block list zones, in the order they are asked."""
    return tuple(dict.fromkeys(z.strip().strip(".").lower() for z in raw.split(",") if z.strip()))


def _choice(name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first by default)."""
    raw = os.environ.get(name) or choices[0]
    if raw not in choices:
        raise ConfigError(f"{name} must be {' or '.join(choices)}, not {raw!r}")
    return raw


@dataclass(frozen=True)
class Config:
    home: Path
    database_url: str | None
    hostname: str
    recipient_delimiter: str
    desk_domain: str
    max_message_size: int
    max_recipients: int
    smtp_timeout: float
    retry_min: float
    retry_max: float
    message_lifetime: float
    worker_poll: float
    lease_seconds: float
    connections_per_destination: int = 4
    trusted_networks: tuple = field(default_factory=tuple)
    tls_cert: str | None = None
    tls_key: str | None = None
    attachment_max_file: int = 25 * 1024 * 1024
    attachment_max_message: int = 50 * 1024 * 1024
    delay_warning: float = 0.0
    client_rate: int = 0
    recipient_rate: int = 0
    set_aside_after: int = 5
    # Where the name servers, classifiers, blobs and case tags come from.
    dns_servers: tuple[tuple[str, int], ...] = ()
    classifiers: str = DEFAULT_CLASSIFIERS
    blob_store: str = "disk"
    case_tag_prefix: str = "CG"
    ack_limit: int = 3
    loop_limit: int = 20
    suspended_days: int = 14
    debug: bool = False
    # the HTTP side
    console_url: str = DEFAULT_CONSOLE_URL
    behind_proxy: bool = False
    max_sessions: int = 1000
    max_sessions_per_client: int = 50
    postmaster: str = ""
    abuse: str = ""
    # Sender authentication on arrival (SPF, DKIM, DMARC, ARC) and DNS block lists.
    sender_auth: bool = True
    authserv_id: str = ""
    auth_dns_timeout: float = 5.0
    dmarc_reject_as_quarantine: bool = False
    dmarc_quarantine_domains: frozenset[str] = frozenset()
    arc_trusted: frozenset[str] = frozenset()
    dnsbl_zones: tuple[str, ...] = ()
    dnsbl_timeout: float = 2.0
    # external spam filters: rspamd (off without a URL) and SpamAssassin's spamd
    rspamd_url: str = ""
    rspamd_timeout: float = 5.0
    rspamd_unavailable: str = "tempfail"
    rspamd_controller_url: str = ""
    rspamd_password: str = ""
    spamd_address: tuple[str, int] = ("127.0.0.1", 783)
    spamd_timeout: float = 5.0
    spamd_unavailable: str = "tempfail"

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

    def is_trusted(self, ip: str | None) -> bool:
        if not ip:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.trusted_networks)


@cache
def get_config() -> Config:
    home = Path(os.environ.get("CASEGATE_HOME") or "var").resolve()
    hostname = os.environ.get("CASEGATE_HOSTNAME") or socket.getfqdn() or "localhost"
    return Config(
        home=home,
        database_url=os.environ.get("CASEGATE_DATABASE_URL") or None,
        hostname=hostname,
        recipient_delimiter=os.environ.get("CASEGATE_RECIPIENT_DELIMITER", "+"),
        desk_domain=os.environ.get("CASEGATE_DESK_DOMAIN") or "desk.casegate.localhost",
        max_message_size=_env_int("CASEGATE_MAX_MESSAGE_SIZE", 25 * 1024 * 1024),
        max_recipients=_env_int("CASEGATE_MAX_RECIPIENTS", 100),
        smtp_timeout=_env_float("CASEGATE_SMTP_TIMEOUT", 300.0),
        retry_min=_env_float("CASEGATE_RETRY_MIN", 60.0),
        retry_max=_env_float("CASEGATE_RETRY_MAX", 4000.0),
        message_lifetime=_env_float("CASEGATE_MESSAGE_LIFETIME", 5 * 24 * 3600.0),
        worker_poll=_env_float("CASEGATE_WORKER_POLL", 5.0),
        lease_seconds=_env_float("CASEGATE_LEASE_SECONDS", 300.0),
        connections_per_destination=_env_int("CASEGATE_DESTINATION_CONCURRENCY", 4),
        trusted_networks=_networks(
            os.environ.get("CASEGATE_TRUSTED_NETWORKS", "127.0.0.0/8,::1/128")
        ),
        tls_cert=os.environ.get("CASEGATE_TLS_CERT") or None,
        tls_key=os.environ.get("CASEGATE_TLS_KEY") or None,
        attachment_max_file=_env_int("CASEGATE_ATTACHMENT_MAX_FILE", 25 * 1024 * 1024),
        delay_warning=3600 * _env_float("CASEGATE_DELAY_WARNING", 0.0),
        attachment_max_message=_env_int("CASEGATE_ATTACHMENT_MAX_MESSAGE", 50 * 1024 * 1024),
        client_rate=_env_int("CASEGATE_CLIENT_RATE", 0),
        recipient_rate=_env_int("CASEGATE_RECIPIENT_RATE", 0),
        set_aside_after=_env_int("CASEGATE_SET_ASIDE_AFTER", 5),
        dns_servers=_name_servers(os.environ.get("CASEGATE_DNS_SERVERS", "")),
        classifiers=os.environ.get("CASEGATE_CLASSIFIERS", DEFAULT_CLASSIFIERS),
        blob_store=_choice("CASEGATE_BLOB_STORE", ("disk", "database")),
        case_tag_prefix=os.environ.get("CASEGATE_CASE_TAG_PREFIX") or "CG",
        ack_limit=_env_int("CASEGATE_ACK_LIMIT", 3),
        loop_limit=_env_int("CASEGATE_LOOP_LIMIT", 20),
        suspended_days=_env_int("CASEGATE_SUSPENDED_DAYS", 14),
        debug=bool(os.environ.get("CASEGATE_DEBUG")),
        # the HTTP side
        console_url=_console_url(os.environ.get("CASEGATE_CONSOLE_URL") or DEFAULT_CONSOLE_URL),
        behind_proxy=_env_bool("CASEGATE_BEHIND_PROXY"),
        max_sessions=_env_int("CASEGATE_MAX_SESSIONS", 1000),
        max_sessions_per_client=_env_int("CASEGATE_MAX_SESSIONS_PER_CLIENT", 50),
        postmaster=os.environ.get("CASEGATE_POSTMASTER", "").strip(),
        abuse=os.environ.get("CASEGATE_ABUSE", "").strip(),
        sender_auth=_choice("CASEGATE_SENDER_AUTH", ("on", "off")) == "on",
        authserv_id=(os.environ.get("CASEGATE_AUTHSERV_ID") or hostname).strip().lower(),
        auth_dns_timeout=_env_float("CASEGATE_AUTH_DNS_TIMEOUT", 5.0),
        dmarc_reject_as_quarantine=_choice(
            "CASEGATE_DMARC_REJECT", ("reject", "quarantine")) == "quarantine",
        dmarc_quarantine_domains=_domains(os.environ.get("CASEGATE_DMARC_QUARANTINE_DOMAINS", "")),
        arc_trusted=_domains(os.environ.get("CASEGATE_ARC_TRUSTED", "")),
        dnsbl_zones=_zones(os.environ.get("CASEGATE_DNSBL_ZONES", "")),
        dnsbl_timeout=_env_float("CASEGATE_DNSBL_TIMEOUT", 2.0),
        rspamd_url=_http_url("CASEGATE_RSPAMD_URL"),
        rspamd_timeout=_env_float("CASEGATE_RSPAMD_TIMEOUT", 5.0),
        rspamd_unavailable=_choice("CASEGATE_RSPAMD_UNAVAILABLE", UNAVAILABLE_CHOICES),
        rspamd_controller_url=_http_url("CASEGATE_RSPAMD_CONTROLLER_URL"),
        rspamd_password=os.environ.get("CASEGATE_RSPAMD_PASSWORD", ""),
        spamd_address=_spamd_address(os.environ.get("CASEGATE_SPAMD_ADDRESS", "")),
        spamd_timeout=_env_float("CASEGATE_SPAMD_TIMEOUT", 5.0),
        spamd_unavailable=_choice("CASEGATE_SPAMD_UNAVAILABLE", UNAVAILABLE_CHOICES),
    )


def secret_key(config: Config) -> str:
    """The Django secret key: ``CASEGATE_SECRET_KEY`` or one kept in ``$CASEGATE_HOME``."""
    from_env = os.environ.get("CASEGATE_SECRET_KEY")
    if from_env:
        return from_env
    path = config.home / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    try:
        config.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    except OSError:
        return key
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
