"""The TLS certificate STARTTLS offers: its names cover the host name, and it is in date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from casegate.doctor.base import Finding, Host
from casegate.doctor.vocabulary import CheckStatus
from casegate.outbound_tls.trust import names_cover

NAME = "certificate"
WARN_BEFORE = timedelta(days=21)


def check(host: Host) -> Finding:
    path = host.config.tls_cert
    if not path:
        return Finding(NAME, host.name, CheckStatus.WARNING,
                       "no certificate (CASEGATE_TLS_CERT): STARTTLS is not offered, so mail"
                       " to this host travels in clear")
    try:
        certificate = x509.load_pem_x509_certificates(Path(path).read_bytes())[0]
    except (OSError, ValueError) as exc:
        return Finding(NAME, host.name, CheckStatus.FAILING, f"{path} cannot be read: {exc}")
    try:
        names = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = [str(a.value) for a in certificate.subject.get_attributes_for_oid(
            x509.NameOID.COMMON_NAME)]
    now = datetime.now(UTC)
    until = certificate.not_valid_after_utc
    dates = f"valid until {until:%Y-%m-%d %H:%M} UTC"
    if until <= now:
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"{path} expired on {until:%Y-%m-%d}: senders that verify refuse it;"
                       " renew it and restart casegate serve")
    if certificate.not_valid_before_utc > now:
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"{path} is not valid before {certificate.not_valid_before_utc:%Y-%m-%d}")
    if not names_cover(names, host.name):
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"{path} names {', '.join(names) or 'nothing'}, not {host.name}:"
                       " senders that verify refuse it")
    if until - now < WARN_BEFORE:
        return Finding(NAME, host.name, CheckStatus.WARNING,
                       f"{path} expires in {(until - now).days} days ({dates}): renew it")
    return Finding(NAME, host.name, CheckStatus.OK,
                   f"{path} names {', '.join(names)}, {dates}")
