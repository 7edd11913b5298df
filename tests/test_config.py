"""One configuration: every setting is read in ``casegate.config`` from one table, the README
lists exactly those, and a configuration file sits behind the environment."""

from __future__ import annotations

import dataclasses
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from casegate.config import (
    SETTINGS,
    Config,
    ConfigError,
    Source,
    get_config,
    read_configuration,
    secret_key,
)

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "casegate"
SETTING = re.compile(r"CASEGATE_[A-Z][A-Z_]*")


def settings_in_the_readme() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return {name for line in table.splitlines() if line.startswith("|")
            for name in SETTING.findall(line.split("|")[1])}


def test_the_readme_lists_every_setting_and_no_other() -> None:
    assert settings_in_the_readme() == {setting.variable for setting in SETTINGS}


def test_every_setting_fills_one_field_of_the_configuration() -> None:
    fields = [f.name for f in dataclasses.fields(Config) if f.name != "sources"]
    assert [setting.field_name for setting in SETTINGS] == fields
    assert set(SETTING.findall((SOURCE / "config.py").read_text())) \
        <= {setting.variable for setting in SETTINGS}


def test_no_module_but_the_configuration_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(SOURCE)) for path in SOURCE.rglob("*.py")
        if path.name != "config.py" and "migrations" not in path.parts
        and re.search(r"os\.environ(\.get|\[)|os\.getenv", path.read_text())
    ]
    assert readers == []


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("CASEGATE_DNS_SERVERS", "127.0.0.1:53,dns.example",
     "names 'dns.example', which is not IP or IP:PORT"),
    ("CASEGATE_BLOB_STORE", "s3", "='s3' must be disk or database"),
    ("CASEGATE_ACK_LIMIT", "three", "='three' is not a whole number"),
    ("CASEGATE_SENDER_AUTH", "yes", "='yes' must be on or off"),
    ("CASEGATE_DMARC_REJECT", "drop", "='drop' must be reject or quarantine"),
    ("CASEGATE_AUTH_DNS_TIMEOUT", "soon", "='soon' is not a number"),
    ("CASEGATE_MAX_RECIPIENTS", "0", "='0' is out of range: the least is 1"),
    ("CASEGATE_SMTP_TIMEOUT", "0", "='0' is out of range: it must be more than 0"),
    ("CASEGATE_RETRY_MIN", "nan", "='nan' is not a number"),
    ("CASEGATE_RETRY_MIN", "0", "='0' is out of range: it must be more than 0"),
    ("CASEGATE_BEHIND_PROXY", "maybe", "='maybe' is not 1 or 0"),
    ("CASEGATE_CONSOLE_URL", "desk.example.com", "is not http(s)://HOST[:PORT]"),
    ("CASEGATE_LOG_FORMAT", "xml", "='xml' must be plain or json"),
    ("CASEGATE_CLASSIFIERS", "gtube,spam-assassin", "'spam-assassin' is neither one of gtube,"),
    ("CASEGATE_LOG_LEVEL", "loud", "='loud' must be DEBUG or INFO or WARNING or ERROR"),
    ("CASEGATE_LOG_FILE", "/nowhere/casegate.log", "is in /nowhere, which is not a directory"),
])
def test_a_wrong_value_is_a_config_error_naming_the_variable(
        setting: Callable[..., None], name: str, value: str, reason: str) -> None:
    setting(name, value)
    with pytest.raises(ConfigError) as info:
        get_config()
    assert f"{name}=" in str(info.value) and reason in str(info.value)


@pytest.mark.parametrize("url", [
    "postgressql://casegate@db/desk", "mysql://x@db/desk", "postgresql://casegate:s3/cr?t@db/x",
    "postgresql://casegate:/s3cr@db/x", "postgresql://casegate:?s3cr@db/x",
    "postgresql://casegate:2024/s3cr@db/x",  # read as port 2024 and a database "s3cr@db/x"
    "postgresql://casegate:/s3?cr@db/x", "postgresql://casegate:2024/s3#cr@db/x",
])
def test_a_database_url_django_cannot_read_is_refused_with_its_password_masked(
        setting: Callable[..., None], url: str) -> None:
    setting("CASEGATE_DATABASE_URL", url)
    with pytest.raises(ConfigError) as info:
        get_config()
    assert "is not a PostgreSQL URL" in str(info.value) and "s3" not in str(info.value)


@pytest.mark.parametrize("url", [
    "postgresql:///?service=casegate", "postgresql:///casegate?host=/run/postgresql",
    "postgresql://casegate:p%2F%40w@db:5432/desk%40x?sslmode=require",
])
def test_the_database_urls_postgresql_reads_are_taken(setting: Callable[..., None],
                                                      url: str) -> None:
    setting("CASEGATE_DATABASE_URL", url)
    assert get_config().database_url == url


def test_log_settings(setting: Callable[..., None], tmp_path: Path) -> None:
    setting("CASEGATE_LOG_LEVEL", "warning")
    setting("CASEGATE_LOG_FILE", str(tmp_path / "casegate.log"))
    config = get_config()
    assert (config.log_format, config.log_level, config.log_file) == (
        "plain", "WARNING", tmp_path / "casegate.log")


def test_name_servers_are_read_with_their_ports(setting: Callable[..., None]) -> None:
    setting("CASEGATE_DNS_SERVERS", "192.0.2.1, 192.0.2.2:5353,[2001:db8::1]:53")
    assert get_config().dns_servers == (("192.0.2.1", 53), ("192.0.2.2", 5353),
                                        ("2001:db8::1", 53))


def test_sender_authentication_settings(setting: Callable[..., None]) -> None:
    setting("CASEGATE_HOSTNAME", "GW.example")
    config = get_config()
    assert (config.sender_auth, config.authserv_id, config.dmarc_reject_as_quarantine,
            config.dnsbl_zones) == (True, "gw.example", False, ())
    setting("CASEGATE_SENDER_AUTH", "off")
    setting("CASEGATE_AUTHSERV_ID", "mx.example")
    setting("CASEGATE_DMARC_REJECT", "quarantine")
    setting("CASEGATE_DMARC_QUARANTINE_DOMAINS", " Lists.Example., forwarded.example")
    setting("CASEGATE_ARC_TRUSTED", "lists.example")
    setting("CASEGATE_DNSBL_ZONES", "zen.example., bl.example,zen.example")
    config = get_config()
    assert not config.sender_auth and config.authserv_id == "mx.example"
    assert config.dmarc_reject_as_quarantine
    assert config.dmarc_quarantine_domains == {"lists.example", "forwarded.example"}
    assert config.arc_trusted == {"lists.example"}
    assert config.dnsbl_zones == ("zen.example", "bl.example")


# --- the configuration file -----------------------------------------------------------------


@pytest.fixture
def config_file(setting: Callable[..., None], tmp_path: Path) -> Callable[[str], Path]:
    """Write the home's casegate.toml (where it is looked for by default)."""
    setting("CASEGATE_HOME", str(tmp_path))
    for name in ("CASEGATE_CONFIG", "CASEGATE_HOSTNAME", "CASEGATE_SECRET_KEY"):
        setting(name, None)

    def write(text: str) -> Path:
        path = tmp_path / "casegate.toml"
        path.write_text(text)
        get_config.cache_clear()
        return path

    return write


def test_the_file_sets_what_the_environment_leaves_and_each_value_says_where_it_came_from(
        config_file: Callable[[str], Path], setting: Callable[..., None]) -> None:
    config_file('hostname = "mx.file.example"\nmax_recipients = 7\nsmtp_timeout = 2.5\n'
                'trusted_networks = ["10.0.0.0/8", "::1/128"]\nbehind_proxy = true\n'
                'dnsbl_zones = "zen.example, bl.example"\nrecipient_delimiter = ""\n')
    setting("CASEGATE_MAX_RECIPIENTS", "9")
    config = get_config()
    assert (config.hostname, config.max_recipients, config.smtp_timeout) == (
        "mx.file.example", 9, 2.5)
    assert [str(n) for n in config.trusted_networks] == ["10.0.0.0/8", "::1/128"]
    assert config.behind_proxy and config.dnsbl_zones == ("zen.example", "bl.example")
    assert config.recipient_delimiter == ""  # an empty delimiter is a value of its own
    assert config.authserv_id == "mx.file.example"  # its default follows the hostname
    assert (config.sources["CASEGATE_HOSTNAME"], config.sources["CASEGATE_MAX_RECIPIENTS"],
            config.sources["CASEGATE_ACK_LIMIT"]) == (
        Source.FILE, Source.ENVIRONMENT, Source.DEFAULT)
    assert config.is_set("CASEGATE_HOSTNAME") and not config.is_set("CASEGATE_ACK_LIMIT")


def test_every_problem_of_the_file_is_named_at_once(
        config_file: Callable[[str], Path], setting: Callable[..., None]) -> None:
    path = config_file('max_recipients = "many"\nhostnme = "mx.example"\n'
                       'smtp_timeout = -1\nCASEGATE_ACK_LIMIT = 4\nconfig = "other.toml"\n'
                       '[smtp]\nport = 25\n')
    setting("CASEGATE_RETRY_MIN", "soon")
    problems = read_configuration().problems
    assert sorted(problems) == sorted([
        f"{path}: max_recipients = \"many\" has the wrong type: expected an integer, not a"
        " string",
        f"{path}: 'hostnme' is not a setting; did you mean 'hostname'?",
        f"{path}: smtp_timeout = -1 is out of range: it must be more than 0",
        f"{path}: 'CASEGATE_ACK_LIMIT' is not a setting; did you mean 'ack_limit'?",
        f"{path}: config is only read from the environment",
        f"{path}: 'smtp' is not a setting; the settings are at the top level, in no table",
        "CASEGATE_RETRY_MIN='soon' is not a number",
    ])
    with pytest.raises(ConfigError) as info:
        get_config()
    assert "hostnme" in str(info.value) and "max_recipients" in str(info.value)


def test_a_wrong_secret_is_named_masked(config_file: Callable[[str], Path],
                                       setting: Callable[..., None]) -> None:
    config_file("secret_key = 987654321\nrspamd_password = 123456789\n")
    problems = " ".join(read_configuration().problems)
    assert "secret_key = " in problems and "rspamd_password = " in problems
    assert "987654321" not in problems and "123456789" not in problems


def test_a_file_that_is_not_toml_or_not_there(
        config_file: Callable[[str], Path], setting: Callable[..., None],
        tmp_path: Path) -> None:
    path = config_file('hostname = "unterminated\n')
    assert read_configuration().problems[0].startswith(f"{path}: is not TOML: ")
    path.unlink()
    assert read_configuration().problems == ()  # the home's file is optional
    setting("CASEGATE_CONFIG", str(tmp_path / "missing.toml"))
    assert read_configuration().problems == (
        f"{tmp_path / 'missing.toml'}: there is no such configuration file (named by --config"
        " or CASEGATE_CONFIG)",)


def test_a_named_file_may_set_the_home(setting: Callable[..., None], tmp_path: Path) -> None:
    setting("CASEGATE_HOME", None)
    (tmp_path / "etc.toml").write_text(f'home = "{tmp_path / "data"}"\n')
    setting("CASEGATE_CONFIG", str(tmp_path / "etc.toml"))
    config = get_config()
    assert (config.home, config.config_file) == (tmp_path / "data", tmp_path / "etc.toml")


def test_secrets_are_masked_when_shown_and_used_as_they_are(
        config_file: Callable[[str], Path], setting: Callable[..., None]) -> None:
    from casegate.config import _password_masked, secret_key

    config_file('secret_key = "file-secret"\nrspamd_password = "q1"\n'
                'database_url = "postgresql://casegate:pw@db.example:5432/casegate"\n')
    shown = {v.setting.variable: v.shown for v in read_configuration().values}
    assert (shown["CASEGATE_SECRET_KEY"], shown["CASEGATE_RSPAMD_PASSWORD"]) == (
        "********", "********")
    assert shown["CASEGATE_DATABASE_URL"] == "postgresql://casegate:********@db.example:5432/casegate"
    assert shown["CASEGATE_HOSTNAME"] != "********"
    for url in ("postgresql://casegate:ab/cd?e#f@db/casegate",  # unencoded: no URL parse
                "postgresql://casegate@db/casegate?sslmode=require&password=pw"):
        assert _password_masked(url) in ("postgresql://casegate:********@db/casegate",
                                         "postgresql://casegate@db/casegate?sslmode=require"
                                         "&password=********")
    config = get_config()
    assert secret_key(config) == "file-secret" and config.rspamd_password == "q1"
    assert "file-secret" not in repr(config)
    setting("CASEGATE_SECRET_KEY", "env-secret")
    assert secret_key(get_config()) == "env-secret"


def test_the_home_casegate_makes_is_its_owner_s_alone(
        setting: Callable[..., None], tmp_path: Path) -> None:
    home = tmp_path / "srv" / "casegate"
    setting("CASEGATE_HOME", str(home))
    setting("CASEGATE_SECRET_KEY", None)
    assert secret_key(get_config())  # the first thing that writes into it
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_any_dotted_path_is_a_classifier_the_serve_command_will_try_to_import(
        setting: Callable[..., None]) -> None:
    setting("CASEGATE_CLASSIFIERS", "gtube, acme.2024_filters.Check")
    assert get_config().classifiers == "gtube, acme.2024_filters.Check"
