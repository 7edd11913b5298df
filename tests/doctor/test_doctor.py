"""``casegate doctor`` against a real DNS server on loopback, an HTTPS policy server with a
test CA, an SMTP server and an HTTP app on loopback."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from casegate.cli.main import main
from casegate.config import get_config
from casegate.directory.services import add_domain
from casegate.doctor.examination import Report, examine, this_host
from casegate.mail.hostport import HostPort
from casegate.signing.keys import generate_key, signing_key_for, txt_record
from tests.certificates import Issued, TestCA, mta_sts_server
from tests.support import LocalDNS, free_port, smtp_sink

pytestmark = pytest.mark.django_db

HOST = "mx.solarmora.example"
GOOD, BROKEN = "solarmora.example", "broken.example"


def records_of(domain: str, dkim_record: str, id_: str = "20260101") -> dict[str, dict[str,
                                                                                    list[str]]]:
    """Every record a domain served by HOST publishes."""
    name, _, value = dkim_record.partition(" IN TXT ")
    return {
        f"{domain}.": {"MX": [f"10 {HOST}."], "TXT": [f"v=spf1 a:{HOST} -all"]},
        name: {"TXT": [value.strip('"')]},
        f"_dmarc.{domain}.": {"TXT": [f"v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"]},
        f"_mta-sts.{domain}.": {"TXT": [f"v=STSv1; id={id_}"]},
        f"mta-sts.{domain}.": {"A": ["127.0.0.1"]},
        f"_smtp._tls.{domain}.": {"TXT": [f"v=TLSRPTv1; rua=mailto:tls@{domain}"]},
    }


@dataclass
class Setup:
    ca: TestCA
    dns: LocalDNS
    smtp: HostPort
    http_url: str
    certificate: Issued


@pytest.fixture
def http_app() -> Iterator[str]:
    """Something that answers HTTP, standing in for serve's HTTP app."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()),
                                             http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def setup(setting: Callable[..., None], tmp_path: Path, http_app: str) -> Iterator[Setup]:
    ca = TestCA(tmp_path)
    add_domain(GOOD)
    add_domain(BROKEN)
    _, good_key = generate_key(GOOD)
    generate_key(BROKEN)
    _, other_key = generate_key("elsewhere.example")  # published by BROKEN instead of its own
    broken = records_of(BROKEN, other_key.replace("elsewhere.example", BROKEN))
    del broken[f"{BROKEN}."]["TXT"]  # no SPF
    zone = {**records_of(GOOD, good_key), **broken,
            f"{HOST}.": {"A": ["127.0.0.1"]},
            "1.0.0.127.in-addr.arpa.": {"PTR": [f"{HOST}."]}}
    certificate = ca.issue(HOST)
    with LocalDNS(zone) as dns, smtp_sink() as (controller, _), \
            mta_sts_server(ca.issue(f"mta-sts.{GOOD}", f"mta-sts.{BROKEN}"),
                           f"version: STSv1\nmode: enforce\nmx: {HOST}\nmax_age: 86400\n"
                           ) as policy:
        setting("CASEGATE_DNS_SERVERS", dns.address)
        setting("CASEGATE_HOSTNAME", HOST)
        setting("CASEGATE_TLS_CA_FILE", str(ca.bundle))
        setting("CASEGATE_MTA_STS_PORT", str(policy.port))
        setting("CASEGATE_TLS_CERT", str(certificate.cert))
        setting("CASEGATE_TLS_KEY", str(certificate.key))
        yield Setup(ca, dns, HostPort("127.0.0.1", controller.port), http_app, certificate)


def run(setup: Setup, *domains: str) -> Report:
    return examine(domains, this_host(get_config(), setup.smtp, setup.http_url))


def by_check(report: Report, subject: str) -> dict[str, tuple[str, str, str]]:
    return {f.check: (f.status.value, f.explanation, f.record) for f in report.findings
            if f.subject == subject}


def test_a_domain_with_every_record_right_is_all_ok(setup: Setup) -> None:
    report = run(setup, GOOD)
    assert [(f.check, f.status.value) for f in report.findings if f.status != "ok"] == []
    assert report.exit_code == 0
    checks = by_check(report, GOOD)
    assert list(checks) == ["MX", "SPF", "DKIM", "DMARC", "MTA-STS", "TLS-RPT"]
    assert list(by_check(report, HOST)) == ["reverse DNS", "certificate", "SMTP port",
                                            "HTTP port", "rspamd", "database", "clock",
                                            "queue age"]
    assert "passes for 127.0.0.1" in checks["SPF"][1]
    assert "mode enforce" in checks["MTA-STS"][1]


def test_missing_spf_a_different_dkim_key_and_an_expired_certificate_fail_with_the_record(
        setup: Setup, setting: Callable[..., None]) -> None:
    expired = setup.ca.issue(HOST, expired=True)
    setting("CASEGATE_TLS_CERT", str(expired.cert))
    report = run(setup, BROKEN)
    checks = by_check(report, BROKEN)
    assert checks["SPF"][0] == "failing"
    assert checks["SPF"][2] == f'{BROKEN}. IN TXT "v=spf1 a:{HOST} -all"'
    assert checks["DKIM"][0] == "failing" and "another key" in checks["DKIM"][1]
    key = signing_key_for(BROKEN)
    assert key is not None and checks["DKIM"][2] == txt_record(key)
    host = by_check(report, HOST)
    assert host["certificate"][0] == "failing" and "expired" in host["certificate"][1]
    assert report.exit_code == 2
    assert {f.check for f in report.findings if f.status == "failing"} == {
        "SPF", "DKIM", "certificate"}


def test_an_spf_record_without_this_host_gets_it_before_its_all(
        setup: Setup) -> None:
    setup.dns.zone["other.example."] = {"MX": [f"10 {HOST}."],
                                        "TXT": ["v=spf1 ip4:192.0.2.1 ~all"]}
    status, _, record = by_check(run(setup, "other.example"), "other.example")["SPF"]
    assert (status, record) == ("failing",
                                f'other.example. IN TXT "v=spf1 ip4:192.0.2.1 a:{HOST} ~all"')


def test_warnings_exit_1_and_the_policy_to_publish_is_shown(
        setup: Setup, setting: Callable[..., None]) -> None:
    setup.dns.zone["plain.example."] = {"MX": [f"10 {HOST}."], "TXT": [f"v=spf1 a:{HOST} -all"]}
    setup.dns.zone["_dmarc.plain.example."] = {"TXT": ["v=DMARC1; p=none"]}
    add_domain("plain.example")
    generate_key("plain.example")
    report = run(setup, "plain.example")
    checks = by_check(report, "plain.example")
    assert checks["DMARC"][0] == "warning" and "p=none" in checks["DMARC"][1]
    assert checks["MTA-STS"][0] == "warning"
    assert f"mx: {HOST}\n" in checks["MTA-STS"][2] and "mode: enforce" in checks["MTA-STS"][2]
    assert checks["TLS-RPT"] == (
        "warning", checks["TLS-RPT"][1],
        '_smtp._tls.plain.example. IN TXT "v=TLSRPTv1; rua=mailto:postmaster@plain.example"')
    assert checks["DKIM"][0] == "failing"  # the key casegate made is not published
    assert report.exit_code == 2


def test_the_command_checks_every_domain_prints_json_and_exits_with_the_worst(
        setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "--smtp", str(setup.smtp), "--http", setup.http_url, "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert code == 2 and printed["status"] == "failing"
    assert printed["domains"] == [BROKEN, GOOD]
    assert {c["subject"] for c in printed["checks"]} == {BROKEN, GOOD, HOST}
    assert main(["doctor", GOOD, "--smtp", str(setup.smtp), "--http", setup.http_url]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"casegate doctor: {HOST}, 1 domain: 14 ok, 0 warning, 0 failing")
    assert f"\n{GOOD}\n  ok       MX           MX 10 {HOST} is this host" in text


def test_nothing_listening_fails_the_ports(setup: Setup) -> None:
    report = examine([], this_host(get_config(), HostPort("127.0.0.1", free_port()),
                                   f"http://127.0.0.1:{free_port()}"))
    host = by_check(report, HOST)
    assert host["SMTP port"][0] == "failing" and host["HTTP port"][0] == "failing"


def test_a_clock_apart_from_the_database_s_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from casegate.doctor.base import Host
    from casegate.doctor.checks import clock

    host = Host(get_config(), "mx.test", (), HostPort("127.0.0.1", 25), "")
    assert clock.check(host).status == "ok"  # the database's clock, here this host's
    real_now = timezone.now
    for ahead, status in ((12, "warning"), (-90, "failing")):
        monkeypatch.setattr(clock.timezone, "now",
                            lambda ahead=ahead: real_now() + timedelta(seconds=ahead))
        finding = clock.check(host)
        assert finding.status == status, finding
        assert ("ahead of" if ahead > 0 else "behind") in finding.explanation
