"""One configuration: every setting is read in ``casegate.config``, and the README lists
exactly those."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from casegate.config import ConfigError, get_config

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "casegate"
SETTING = re.compile(r"CASEGATE_[A-Z][A-Z_]*")


def settings_read_by_config() -> set[str]:
    return set(SETTING.findall((SOURCE / "config.py").read_text()))


def settings_in_the_readme() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return {name for line in table.splitlines() if line.startswith("|")
            for name in SETTING.findall(line.split("|")[1])}


def test_the_readme_lists_every_setting_and_no_other() -> None:
    assert settings_in_the_readme() == settings_read_by_config()


def test_no_module_but_the_configuration_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(SOURCE)) for path in SOURCE.rglob("*.py")
        if path.name != "config.py" and "migrations" not in path.parts
        and re.search(r"os\.environ(\.get|\[)|os\.getenv", path.read_text())
    ]
    assert readers == []


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("CASEGATE_DNS_SERVERS", "127.0.0.1:53,dns.example", "'dns.example' is not IP or IP:PORT"),
    ("CASEGATE_BLOB_STORE", "s3", "must be disk or database, not 's3'"),
    ("CASEGATE_ACK_LIMIT", "three", "is not a whole number"),
    ("CASEGATE_SENDER_AUTH", "yes", "must be on or off, not 'yes'"),
    ("CASEGATE_DMARC_REJECT", "drop", "must be reject or quarantine, not 'drop'"),
    ("CASEGATE_AUTH_DNS_TIMEOUT", "soon", "is not a number"),
])
def test_a_wrong_value_is_a_config_error_naming_the_variable(
        setting: Callable[..., None], name: str, value: str, reason: str) -> None:
    setting(name, value)
    with pytest.raises(ConfigError) as info:
        get_config()
    assert name in str(info.value) and reason in str(info.value)


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
