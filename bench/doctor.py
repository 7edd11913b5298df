"""`casegate doctor`'s wall time, as an operator runs it: the command in its own process,
every DNS question against the tests' name server on loopback, the policy server over HTTPS
with a test CA, `casegate serve` answering on SMTP and HTTP.

    python bench/doctor.py [--domains 10] [--runs 5]

Prints each run's wall time and the median against the target (5 s), and checks that every
check of every domain came out ok.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' servers
from tests.certificates import TestCA, mta_sts_server
from tests.support import LocalDNS, instance

HOST = "mx.bench.example"
TARGET = 5.0


def zone_for(domains: list[str], keys: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    zone = {f"{HOST}.": {"A": ["127.0.0.1"]}, "1.0.0.127.in-addr.arpa.": {"PTR": [f"{HOST}."]}}
    for domain in domains:
        name, _, value = keys[domain].partition(" IN TXT ")
        zone.update({
            f"{domain}.": {"MX": [f"10 {HOST}."], "TXT": [f"v=spf1 a:{HOST} -all"]},
            name: {"TXT": [value.strip('"')]},
            f"_dmarc.{domain}.": {"TXT": ["v=DMARC1; p=reject"]},
            f"_mta-sts.{domain}.": {"TXT": ["v=STSv1; id=1"]},
            f"mta-sts.{domain}.": {"A": ["127.0.0.1"]},
            f"_smtp._tls.{domain}.": {"TXT": [f"v=TLSRPTv1; rua=mailto:tls@{domain}"]},
        })
    return zone


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    domains = [f"d{number}.bench.example" for number in range(args.domains)]
    folder = Path(tempfile.mkdtemp(prefix="casegate-bench-doctor-"))
    ca = TestCA(folder)
    certificate = ca.issue(HOST)
    policy = f"version: STSv1\nmode: enforce\nmx: {HOST}\nmax_age: 86400\n"
    with mta_sts_server(ca.issue(*(f"mta-sts.{d}" for d in domains)), policy) as server, \
            LocalDNS({}) as dns, instance(
                "sqlite", CASEGATE_DNS_SERVERS=dns.address, CASEGATE_HOSTNAME=HOST,
                CASEGATE_TLS_CA_FILE=str(ca.bundle), CASEGATE_MTA_STS_PORT=str(server.port),
                CASEGATE_TLS_CERT=str(certificate.chain),
                CASEGATE_TLS_KEY=str(certificate.key)) as inst:
        keys = {}
        for domain in domains:
            inst.run("domain", "add", domain)
            keys[domain] = inst.run("dkim", "keygen", domain).stdout.strip()
        dns.zone.update(zone_for(domains, keys))
        inst.start(http=True)
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "casegate", "doctor", "--json",
                 "--smtp", f"127.0.0.1:{inst.smtp_port}",
                 "--http", f"http://127.0.0.1:{inst.http_port}"],
                env=inst.env, capture_output=True, text=True, timeout=120)
            times.append(time.perf_counter() - started)
            report = json.loads(result.stdout)
            wrong = [c for c in report["checks"] if c["status"] != "ok"]
            if result.returncode != 0 or wrong:
                print(f"not all ok (exit {result.returncode}): {wrong}", file=sys.stderr)
                return 1
        inst.stop()
    checks = len(report["checks"])
    print(f"doctor, {args.domains} domains, {checks} checks: "
          + ", ".join(f"{t:.2f}" for t in times) + " s")
    median = statistics.median(times)
    verdict = "met" if median < TARGET else "NOT met"
    print(f"median {median:.2f} s, target {TARGET:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
